// lr-bench's statistics and the --direct / --jack output (report.hpp).
#include "report.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace looprig::bench {

Stats summarize(std::vector<uint64_t>& ns, std::size_t n, double period_ns) {
    Stats s;
    s.count = n;
    if (n == 0) return s;
    std::sort(ns.begin(), ns.begin() + static_cast<std::ptrdiff_t>(n));
    auto rank = [&](double q) {
        std::size_t r = static_cast<std::size_t>(std::ceil(q * static_cast<double>(n)));
        return static_cast<double>(ns[std::clamp<std::size_t>(r, 1, n) - 1]);
    };
    long double sum = 0;
    for (std::size_t i = 0; i < n; ++i) sum += ns[i];
    const double med = rank(0.5), p99 = rank(0.99), mx = static_cast<double>(ns[n - 1]);
    const double mean = static_cast<double>(sum / n);
    s.median = med / period_ns;
    s.p99 = p99 / period_ns;
    s.max = mx / period_ns;
    s.mean = mean / period_ns;
    s.min = static_cast<double>(ns[0]) / period_ns;
    s.median_us = med / 1e3;
    s.p99_us = p99 / 1e3;
    s.max_us = mx / 1e3;
    s.mean_us = mean / 1e3;
    return s;
}

void print_table(const Options& o, const std::vector<Row>& rows) {
    if (o.jack) {
        fmt::print("# lr-bench --jack{}: callback time per period as a fraction of the period; "
                   "xruns = xrun callbacks in the timed window; dsp = JACK DSP load % (mean/max)\n", o.fx ? " --fx" : "");
        fmt::print("{:>6} {:>5} {:>8} {:>7} {:>7} {:>7} {:>7} {:>6} {:>11}\n", "frames", "loops", "periods", "median",
                   "p99", "max", "mean", "xruns", "dsp%");
    } else {
        fmt::print("# lr-bench --direct{}{}{}: process() time per period as a fraction of the period\n",
                   o.paced ? " --paced" : "", o.fx ? " --fx" : "",
                   o.midi_rate > 0 ? fmt::format(" --midi-rate {:g}", o.midi_rate) : std::string());
        fmt::print("{:>6} {:>5} {:>8} {:>7} {:>7} {:>7} {:>7}\n", "frames", "loops", "periods", "median", "p99",
                   "max", "mean");
    }
    for (const Row& r : rows) {
        fmt::print("{:>6} {:>5} {:>8} {:>7.4f} {:>7.4f} {:>7.4f} {:>7.4f}", r.frames, r.loops, r.stats.count,
                   r.stats.median, r.stats.p99, r.stats.max, r.stats.mean);
        if (r.jack) fmt::print(" {:>6} {:>11}", r.xruns, fmt::format("{:.1f}/{:.1f}", r.dsp_load_mean, r.dsp_load_max));
        fmt::print("\n");
    }
    for (const Row& r : rows) {
        if (r.playing != r.loops || (r.loops > 0 && r.master_peak <= 0.0f))
            fmt::print("# WARNING: row frames={} loops={}: {} slots playing, master peak {:.4f}\n", r.frames, r.loops,
                       r.playing, r.master_peak);
        if (r.buffer_size_changed)
            fmt::print("# WARNING: row frames={} loops={}: the JACK buffer size changed during the row\n", r.frames,
                       r.loops);
    }
}

void print_json(const Options& o, const std::vector<Row>& rows) {
    fmt::print("{{\"tool\": \"lr-bench\", \"mode\": \"{}\", \"paced\": {}, \"slot_outs\": {}, \"fx\": {}, "
               "\"declick_ms\": {}, \"rows\": [",
               o.jack ? "jack" : "direct", o.paced ? "true" : "false", o.slot_outs ? "true" : "false",
               o.fx ? "true" : "false", o.declick_ms);
    for (std::size_t i = 0; i < rows.size(); ++i) {
        const Row& r = rows[i];
        const Stats& s = r.stats;
        fmt::print("{}\n  {{\"frames\": {}, \"loops\": {}, \"rate\": {}, \"periods\": {}, \"median\": {:.6f}, "
                   "\"p99\": {:.6f}, \"max\": {:.6f}, \"mean\": {:.6f}, \"min\": {:.6f}, \"median_us\": {:.3f}, "
                   "\"p99_us\": {:.3f}, \"max_us\": {:.3f}, \"mean_us\": {:.3f}, \"playing\": {}, \"master_peak\": {:.6f}",
                   i ? "," : "", r.frames, r.loops, r.rate, s.count, s.median, s.p99, s.max, s.mean, s.min,
                   s.median_us, s.p99_us, s.max_us, s.mean_us, r.playing, r.master_peak);
        if (r.jack)
            fmt::print(", \"xruns\": {}, \"xruns_total\": {}, \"dsp_load_mean\": {:.3f}, \"dsp_load_max\": {:.3f}, "
                       "\"buffer_size_changed\": {}",
                       r.xruns, r.xruns_total, r.dsp_load_mean, r.dsp_load_max,
                       r.buffer_size_changed ? "true" : "false");
        fmt::print("}}");
    }
    fmt::print("\n]}}\n");
}

}  // namespace looprig::bench
