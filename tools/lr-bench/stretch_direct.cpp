// lr-bench --direct --stretch (stretch_scenario.hpp): the core called on this
// thread, paced to one period per period of wall time, with the render
// threads working beside it.
#include "stretch_scenario.hpp"

#include "render_worker.hpp"
#include "timing.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <ctime>
#include <malloc.h>
#include <stdexcept>
#include <sys/resource.h>

namespace looprig::bench {

StretchRow run_stretch_direct(const Options& o, uint32_t frames, uint32_t loops) {
    StretchRow row;
    row.frames = frames;
    row.loops = loops;
    row.rate = o.rate;
    const double steady_seconds = o.seconds > 0 ? o.seconds : 10.0;
    const uint64_t steady_periods =
        o.periods_given ? o.periods : std::max<uint64_t>(1, static_cast<uint64_t>(steady_seconds * o.rate / frames));
    const uint64_t max_render_periods =
        std::max<uint64_t>(1, static_cast<uint64_t>(o.render_timeout * o.rate / frames));
    // One timing array for every phase, touched before the first memory reading.
    std::vector<uint64_t> ns(std::max(steady_periods, max_render_periods), 1);
    std::vector<float> master[2] = {std::vector<float>(frames), std::vector<float>(frames)};

    row.hwm_reset = reset_hwm();
    row.before = read_mem();
    const StretchPlan plan = stretch_plan(loops, o.rate, o.tempo_from);
    std::unique_ptr<Rig> rig_owner = stretch_rig(o, o.rate, frames, loops, plan, row);
    Rig& rig = *rig_owner;
    RenderWorker worker(rig.core(), o.rate, o.finer, render_threads(o));  // destroyed before the rig
    FifoScope fifo(o.fifo);

    CoreOutputs out;
    out.master[0] = master[0].data();
    out.master[1] = master[1].data();
    uint64_t frame_time = 0;
    const uint64_t period_ns = static_cast<uint64_t>(1e9 * frames / o.rate);

    // Loads (and the starting tempo), untimed.
    for (uint32_t k = 0; !(rig.loaded() && rig.all_answered()) && !g_stop; ++k) {
        rig.pump();
        if (rig.failed()) throw std::runtime_error("setup: the engine answered " + rig.first_error());
        if (k > 100000) throw std::runtime_error("setup: the loops did not load within 100000 periods");
        rig.core().process(frames, frame_time, out);
        frame_time += frames;
    }
    row.loaded = read_mem();

    // One timed phase, paced to one period per period of wall time; ends after
    // `max_periods` or when `render_phase` and the renders are in.
    auto run_phase = [&](const char* name, bool render_phase, uint64_t max_periods) {
        PhaseResult p;
        p.name = name;
        p.render_phase = render_phase;
        note_stderr(fmt::format("phase {} (loops {}, {} frames)", name, loops, frames));
        rig.pump();  // the phase's commands go in now
        const uint64_t start = now_ns();
        uint64_t deadline = start;
        uint64_t done = 0, first_idx = 0, slowest = 0;
        bool finished = false;
        while (done < max_periods && !g_stop) {
            // Involuntary context switches and page faults of this thread
            // around the call (outside the timed window): explains slow periods.
            rusage u0{}, u1{};
            getrusage(RUSAGE_THREAD, &u0);
            const uint64_t t0 = now_ns();
            rig.core().process(frames, frame_time, out);
            const uint64_t t1 = now_ns();
            getrusage(RUSAGE_THREAD, &u1);
            ns[done++] = t1 - t0;
            const bool preempted = u1.ru_nivcsw != u0.ru_nivcsw;
            const bool faulted = u1.ru_minflt != u0.ru_minflt || u1.ru_majflt != u0.ru_majflt;
            if (static_cast<double>(t1 - t0) > kSlowFraction * static_cast<double>(period_ns)) {
                ++p.slow;
                if (preempted) ++p.slow_preempted;
                if (faulted) ++p.slow_faulted;
            }
            if (t1 - t0 >= slowest) {
                slowest = t1 - t0;
                p.max_preempted = preempted;
                p.max_faulted = faulted;
            }
            frame_time += frames;
            rig.pump();
            if (rig.failed()) throw std::runtime_error(std::string(name) + ": the engine answered " + rig.first_error());
            if (render_phase) {
                const RenderView v = read_render_view(rig.segment(), loops);
                p.max_pending = std::max(p.max_pending, v.pending);
                if (p.first_s < 0 && v.pending < p.max_pending) {
                    p.first_s = static_cast<double>(t1 - start) / 1e9;
                    first_idx = done;
                }
                if (renders_in(rig, v, loops)) {
                    p.settle_s = static_cast<double>(t1 - start) / 1e9;
                    if (p.first_s < 0) {
                        p.first_s = p.settle_s;
                        first_idx = done;
                    }
                    finished = true;
                    break;
                }
            }
            deadline += period_ns;
            const uint64_t t2 = now_ns();
            if (t2 > deadline + period_ns) {  // fell behind: do not burst to catch up
                deadline = t2;
                ++p.behind;
            }
            timespec ts{static_cast<time_t>(deadline / 1000000000ull), static_cast<long>(deadline % 1000000000ull)};
            while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR && !g_stop) {
            }
        }
        for (uint32_t i = 0; i < frames; ++i)  // sanity: the last period was audible
            row.master_peak = std::max({row.master_peak, std::fabs(master[0][i]), std::fabs(master[1][i])});
        p.timed_out = render_phase && !finished && !g_stop;
        p.wall_s = static_cast<double>(now_ns() - start) / 1e9;
        p.audio_s = static_cast<double>(done) * frames / o.rate;
        // The periods before the first render came in (sorted first: the
        // whole phase's statistics do not depend on the order).
        p.max_index = static_cast<uint64_t>(std::max_element(ns.begin(), ns.begin() + static_cast<std::ptrdiff_t>(done)) - ns.begin());
        if (render_phase) p.all_interim = summarize(ns, first_idx, 1e9 * frames / o.rate);
        p.stats = summarize(ns, done, 1e9 * frames / o.rate);
        return p;
    };

    send_stretch_commands(rig, plan, loops);
    row.phase[0] = run_phase("pending", true, max_render_periods);
    row.rendered = read_mem();
    if (!g_stop && !row.phase[0].timed_out) {
        row.phase[1] = run_phase("steady", false, steady_periods);
        send_tempo(rig, o.tempo_to);
        if (!g_stop) row.phase[2] = run_phase("tempo", true, max_render_periods);
        row.rerendered = read_mem();
        malloc_trim(0);
        row.trimmed = read_mem();
    }
    row.phase[1].name = "steady";
    row.phase[2].name = "tempo";
    row.phase[2].render_phase = true;
    const RenderView v = read_render_view(rig.segment(), loops);
    row.playing = v.playing;
    row.ready = v.ready;
    row.beats_mismatch = count_beats_mismatch(rig, plan, loops);
    return row;
}

}  // namespace looprig::bench
