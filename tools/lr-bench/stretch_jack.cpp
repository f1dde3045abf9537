// lr-bench --jack --stretch (stretch_scenario.hpp): the core in a JACK
// client's process callback (jack_mode.hpp), with the render threads working
// beside it; each phase bracketed by the window start/end lines on stderr.
#include "stretch_scenario.hpp"

#include "jack_mode.hpp"
#include "render_worker.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <malloc.h>
#include <stdexcept>
#include <thread>

namespace looprig::bench {

StretchRow run_stretch_jack(const Options& o, uint32_t loops) {
    using namespace std::chrono_literals;
    StretchRow row;
    row.jack = true;
    row.loops = loops;
    JackRun run;
    std::unique_ptr<Rig> rig_owner;                // destroyed after the worker and the client
    std::unique_ptr<RenderWorker> worker;  // destroyed after the client is closed
    run.client = open_jack(o.name);
    JackCloser closer{run};
    const uint32_t rate = jack_get_sample_rate(run.client);
    const uint32_t frames = server_period(run.client, o);
    row.frames = frames;
    row.rate = rate;
    run.frames = frames;
    const double steady_seconds = o.seconds > 0 ? o.seconds : 10.0;
    // Room for every phase; touched now (before the first memory reading) so
    // that the RT thread never faults it in.
    run.times.assign(static_cast<std::size_t>((2 * o.render_timeout + steady_seconds + 5) * rate / frames) + 4096, 1);

    row.hwm_reset = reset_hwm();
    row.before = read_mem();
    const StretchPlan plan = stretch_plan(loops, rate, o.tempo_from);
    rig_owner = stretch_rig(o, rate, 8192, loops, plan, row);
    Rig& rig = *rig_owner;
    worker = std::make_unique<RenderWorker>(rig.core(), rate, o.finer, render_threads(o));
    run.core = &rig.core();
    expose_to_jack(run, rig, o, frames);
    activate_jack(run, closer);
    pump_until(rig, [&] { return rig.loaded() && rig.all_answered(); }, "load");
    row.loaded = read_mem();
    for (int i = 0; i < 25 && !g_stop; ++i) std::this_thread::sleep_for(20ms);  // warm-up, untimed
    run.recording.store(true, std::memory_order_release);

    // One phase: the callback records its times; this thread polls the meters
    // every millisecond and marks where the phase ends in the callback's array.
    auto run_phase = [&](const char* name, bool render_phase, double max_seconds) {
        PhaseResult p;
        p.name = name;
        p.render_phase = render_phase;
        fmt::print(stderr, "lr-bench: window start (loops {}, {} frames, phase {})\n", loops, frames, name);
        std::fflush(stderr);
        const std::size_t idx0 = run.count.load(std::memory_order_acquire);
        const uint32_t x0 = run.xruns.load();
        const auto start = std::chrono::steady_clock::now();
        rig.pump();  // the phase's commands go in now
        auto seconds_since = [&](std::chrono::steady_clock::time_point t) {
            return std::chrono::duration<double>(t - start).count();
        };
        std::size_t first_idx = idx0;
        double load_sum = 0, load_max = 0;
        int load_n = 0;
        auto next_load = start + 1s;
        bool finished = false;
        for (;;) {
            std::this_thread::sleep_for(1ms);
            rig.pump();
            if (rig.failed()) throw std::runtime_error(std::string(name) + ": the engine answered " + rig.first_error());
            const auto now = std::chrono::steady_clock::now();
            if (render_phase) {
                const RenderView v = read_render_view(rig.segment(), loops);
                p.max_pending = std::max(p.max_pending, v.pending);
                if (p.first_s < 0 && v.pending < p.max_pending) {
                    p.first_s = seconds_since(now);
                    first_idx = run.count.load(std::memory_order_acquire);
                }
                if (renders_in(rig, v, loops)) {
                    p.settle_s = seconds_since(now);
                    if (p.first_s < 0) {
                        p.first_s = p.settle_s;
                        first_idx = run.count.load(std::memory_order_acquire);
                    }
                    finished = true;
                    break;
                }
            }
            if (now >= next_load) {
                const double l = jack_cpu_load(run.client);
                load_sum += l;
                load_max = std::max(load_max, l);
                ++load_n;
                next_load += 1s;
            }
            if (g_stop || seconds_since(now) >= max_seconds) break;
        }
        const std::size_t idx1 = run.count.load(std::memory_order_acquire);
        fmt::print(stderr, "lr-bench: window end\n");
        std::fflush(stderr);
        p.timed_out = render_phase && !finished && !g_stop;
        p.wall_s = seconds_since(std::chrono::steady_clock::now());
        p.audio_s = static_cast<double>(idx1 - idx0) * frames / rate;
        p.xruns = run.xruns.load() - x0;
        p.dsp_mean = load_n ? load_sum / load_n : -1;
        p.dsp_max = load_n ? load_max : -1;
        const double period_ns = 1e9 * frames / rate;
        std::vector<uint64_t> part(run.times.begin() + static_cast<std::ptrdiff_t>(idx0),
                                   run.times.begin() + static_cast<std::ptrdiff_t>(idx1));
        p.max_index = static_cast<uint64_t>(std::max_element(part.begin(), part.end()) - part.begin());
        if (render_phase) {
            std::vector<uint64_t> before(part.begin(), part.begin() + static_cast<std::ptrdiff_t>(first_idx - idx0));
            p.all_interim = summarize(before, before.size(), period_ns);
        }
        p.stats = summarize(part, part.size(), period_ns);
        return p;
    };

    send_stretch_commands(rig, plan, loops);
    row.phase[0] = run_phase("pending", true, o.render_timeout);
    row.rendered = read_mem();
    if (!g_stop && !row.phase[0].timed_out) {
        row.phase[1] = run_phase("steady", false, steady_seconds);
        send_tempo(rig, o.tempo_to);
        if (!g_stop) row.phase[2] = run_phase("tempo", true, o.render_timeout);
        row.rerendered = read_mem();
        malloc_trim(0);
        row.trimmed = read_mem();
    }
    run.recording.store(false, std::memory_order_release);
    std::this_thread::sleep_for(50ms);  // let a callback in flight finish its store
    row.phase[1].name = "steady";
    row.phase[2].name = "tempo";
    row.phase[2].render_phase = true;
    const RenderView v = read_render_view(rig.segment(), loops);
    row.playing = v.playing;
    row.ready = v.ready;
    row.beats_mismatch = count_beats_mismatch(rig, plan, loops);
    row.master_peak = run.peak.load();
    if (run.buffer_size_changed.load()) throw std::runtime_error("the JACK buffer size changed during the row");
    jack_deactivate(run.client);
    closer.active = false;
    return row;
}

}  // namespace looprig::bench
