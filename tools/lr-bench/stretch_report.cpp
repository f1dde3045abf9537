// The stretch scenario's table and --json output (stretch_scenario.hpp).
#include "stretch_scenario.hpp"

#include <fmt/format.h>

namespace looprig::bench {

void print_stretch_table(const Options& o, const std::vector<StretchRow>& rows) {
    const std::string engine = fmt::format("{} ({} render thread{})", o.finer ? "R3" : "R2 (--faster-renders)",
                                           render_threads(o), render_threads(o) == 1 ? "" : "s");
    if (o.jack)
        fmt::print("# lr-bench --jack --stretch, {} renders: callback time per period as a fraction of the period; "
                   "xruns = xrun callbacks in the phase; dsp = JACK DSP load % (mean/max)\n", engine);
    else
        fmt::print("# lr-bench --direct --stretch, {} renders, paced (one period per period of wall time): "
                   "process() time per period as a fraction of the period\n", engine);
    fmt::print("# pending = every slot plays its loop varispeed (with a pitch: through the interim pitch shifter) "
               "until its render is in; steady = all play renders; tempo = from LR_CMD_TEMPO {:g} -> {:g} BPM "
               "until all play their new renders (varispeed meanwhile)\n",
               o.tempo_from, o.tempo_to);
    fmt::print("# first_s / settle_s = seconds from the phase's commands to the first render in / to "
               "renders_pending = 0 with every loop playing its render\n");
    if (o.jack)
        fmt::print("{:>6} {:>5} {:>8} {:>7} {:>7} {:>7} {:>7} {:>6} {:>11}  {:<8} {:>8} {:>8}\n", "frames", "loops",
                   "periods", "median", "p99", "max", "mean", "xruns", "dsp%", "phase", "first_s", "settle_s");
    else
        fmt::print("{:>6} {:>5} {:>8} {:>7} {:>7} {:>7} {:>7}  {:<8} {:>8} {:>8}\n", "frames", "loops", "periods",
                   "median", "p99", "max", "mean", "phase", "first_s", "settle_s");
    auto secs = [](double s) { return s < 0 ? std::string("-") : fmt::format("{:.3f}", s); };
    for (const StretchRow& r : rows)
        for (const PhaseResult& p : r.phase) {
            const Stats& s = p.stats;
            fmt::print("{:>6} {:>5} {:>8} {:>7.4f} {:>7.4f} {:>7.4f} {:>7.4f}", r.frames, r.loops, s.count, s.median,
                       s.p99, s.max, s.mean);
            if (r.jack)
                fmt::print(" {:>6} {:>11}", p.xruns, fmt::format("{:.1f}/{:.1f}", p.dsp_mean, p.dsp_max));
            fmt::print("  {:<8} {:>8} {:>8}\n", p.name, secs(p.first_s), secs(p.settle_s));
        }
    for (const StretchRow& r : rows) {
        const std::string tag = fmt::format("# frames={} loops={}", r.frames, r.loops);
        fmt::print("{} slowest period of each phase:", tag);
        for (const PhaseResult& p : r.phase) {
            if (!p.stats.count) continue;
            fmt::print(" {} #{} ({:.3f} s in{}{})", p.name, p.max_index,
                       static_cast<double>(p.max_index) * r.frames / r.rate,
                       r.jack ? "" : p.max_preempted ? ", preempted" : ", not preempted",
                       r.jack ? "" : p.max_faulted ? ", page fault" : "");
        }
        fmt::print("\n");
        if (!r.jack) {
            fmt::print("{} periods over {:.2f} of the period:", tag, kSlowFraction);
            for (const PhaseResult& p : r.phase)
                if (p.stats.count)
                    fmt::print(" {} {} ({} preempted, {} with page faults)", p.name, p.slow, p.slow_preempted,
                               p.slow_faulted);
            fmt::print("\n");
        }
        const double period_us = 1e6 * r.frames / r.rate;
        fmt::print("{} material: {}..{} beats ({:.2f}..{:.2f} s) declared at {:.1f}..{:.1f} BPM (time ratio "
                   "0.80..1.25 at {:g} BPM, {:.2f}..{:.2f} at {:g}), pitch -5..+7 st, mode stretch, {} Hz\n",
                   tag, r.beats_min, r.beats_max, r.seconds_min, r.seconds_max, r.bpm_min, r.bpm_max, o.tempo_from,
                   r.bpm_min / o.tempo_to, r.bpm_max / o.tempo_to, o.tempo_to, r.rate);
        for (int i : {0, 2}) {
            const PhaseResult& p = r.phase[i];
            const Stats& v = p.all_interim;
            if (!p.stats.count) continue;
            fmt::print("{} {}: before the first render, all {} interim ({} periods): median {:.4f} p99 {:.4f} "
                       "max {:.4f} mean {:.4f}; renders: {} pending at most, {:.3f} s per render on average; "
                       "wall {:.3f} s, audio {:.3f} s",
                       tag, p.name, r.loops, v.count, v.median, v.p99, v.max, v.mean, p.max_pending,
                       p.max_pending && p.settle_s > 0 ? p.settle_s / p.max_pending : 0.0, p.wall_s, p.audio_s);
            if (!r.jack) fmt::print(", pacing fell behind {} times", p.behind);
            fmt::print("\n");
            if (r.phase[1].stats.count && v.count && r.loops)
                fmt::print("{} {}: the interim playback costs {:.3f} us per loop per period more than playing a "
                           "render (means: all-interim minus steady, / {} loops; {:.2f} ns per frame)\n",
                           tag, p.name, (v.mean - r.phase[1].stats.mean) * period_us / r.loops, r.loops,
                           (v.mean - r.phase[1].stats.mean) * period_us * 1e3 / r.loops / r.frames);
        }
        auto mem = [](const Mem& m) {
            return m.rss < 0 ? std::string("-") : fmt::format("{:.1f}/{:.1f}", m.rss, m.hwm);
        };
        fmt::print("{} memory MiB VmRSS/VmHWM{}: before loading {}, loaded {}, rendered {}, re-rendered {} "
                   "(VmRSS {} after malloc_trim)\n", tag,
                   r.hwm_reset ? " (VmHWM restarted at the row's start)" : " (VmHWM since the process started)",
                   mem(r.before), mem(r.loaded), mem(r.rendered), mem(r.rerendered),
                   r.trimmed.rss < 0 ? std::string("-") : fmt::format("{:.1f}", r.trimmed.rss));
        if (!r.ok())
            fmt::print("# WARNING: row frames={} loops={}: {} playing, {} playing renders, {} loop-tempo beats "
                       "differ from the plan, master peak {:.4f}{}{}\n",
                       r.frames, r.loops, r.playing, r.ready, r.beats_mismatch, r.master_peak,
                       r.phase[0].timed_out ? ", pending phase timed out" : "",
                       r.phase[2].timed_out ? ", tempo phase timed out" : "");
    }
}

void print_stretch_json(const Options& o, const std::vector<StretchRow>& rows) {
    fmt::print("{{\"tool\": \"lr-bench\", \"mode\": \"{}\", \"stretch\": true, \"finer\": {}, \"render_threads\": {}, \"paced\": {}, "
               "\"slot_outs\": {}, \"declick_ms\": {}, \"tempo_from\": {}, \"tempo_to\": {}, \"rows\": [",
               o.jack ? "jack" : "direct", o.finer ? "true" : "false", render_threads(o), o.jack ? "false" : "true",
               o.slot_outs ? "true" : "false", o.declick_ms, o.tempo_from, o.tempo_to);
    auto stats = [](const Stats& s) {
        return fmt::format("\"periods\": {}, \"median\": {:.6f}, \"p99\": {:.6f}, \"max\": {:.6f}, \"mean\": {:.6f}, "
                           "\"min\": {:.6f}, \"median_us\": {:.3f}, \"p99_us\": {:.3f}, \"max_us\": {:.3f}, "
                           "\"mean_us\": {:.3f}",
                           s.count, s.median, s.p99, s.max, s.mean, s.min, s.median_us, s.p99_us, s.max_us, s.mean_us);
    };
    auto mem = [](const Mem& m) { return fmt::format("{{\"rss_mib\": {:.2f}, \"hwm_mib\": {:.2f}}}", m.rss, m.hwm); };
    bool first = true;
    for (const StretchRow& r : rows)
        for (const PhaseResult& p : r.phase) {
            fmt::print("{}\n  {{\"frames\": {}, \"loops\": {}, \"rate\": {}, \"phase\": \"{}\", {}, \"first_s\": {:.4f}, "
                       "\"settle_s\": {:.4f}, \"wall_s\": {:.4f}, \"audio_s\": {:.4f}, \"max_pending\": {}, "
                       "\"timed_out\": {}, \"all_interim\": {{{}}}, \"behind\": {}",
                       first ? "" : ",", r.frames, r.loops, r.rate, p.name, stats(p.stats), p.first_s, p.settle_s,
                       p.wall_s, p.audio_s, p.max_pending, p.timed_out ? "true" : "false", stats(p.all_interim),
                       p.behind);
            if (r.jack)
                fmt::print(", \"xruns\": {}, \"dsp_load_mean\": {:.3f}, \"dsp_load_max\": {:.3f}", p.xruns, p.dsp_mean,
                           p.dsp_max);
            fmt::print(", \"memory\": {{\"before_loading\": {}, \"loaded\": {}, \"rendered\": {}, \"rerendered\": {}, "
                       "\"trimmed\": {}, \"hwm_reset\": {}}}, \"playing\": {}, \"playing_renders\": {}, "
                       "\"beats_mismatch\": {}, \"master_peak\": {:.6f}, \"ok\": {}}}",
                       mem(r.before), mem(r.loaded), mem(r.rendered), mem(r.rerendered), mem(r.trimmed),
                       r.hwm_reset ? "true" : "false", r.playing, r.ready, r.beats_mismatch, r.master_peak,
                       r.ok() ? "true" : "false");
            first = false;
        }
    fmt::print("\n]}}\n");
}

}  // namespace looprig::bench
