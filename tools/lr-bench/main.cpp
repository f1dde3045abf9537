// lr-bench: how long AudioCore::process() takes per period, as a fraction of
// the period, for N playing loops; either called directly in a loop (no JACK)
// or from inside a real JACK client's process callback. See
// docs/BENCHMARKS.md.
//
// Each (frames, loops) row builds its own segment + AudioCore (rig.hpp, on
// the shared harness tests/harness/core_rig.hpp), hands it N synthesised
// stereo loops (different prime lengths, 2-4 s) through load_results(), plays
// them all through client place 0's command ring, and only then times the
// periods into a preallocated array.
//
// This file: the mode dispatch and the exit status (0; 1 error; 2 usage;
// 3 the loops did not all play / a stretch check failed; 130 interrupted).
// The modes: direct_mode, jack_mode; the scenarios: fx_scenario,
// stretch_scenario (+ stretch_direct, stretch_jack, stretch_report); the
// options: options; statistics and output: report; clock and signals: timing.
#include "direct_mode.hpp"
#include "jack_mode.hpp"
#include "options.hpp"
#include "report.hpp"
#include "stretch_scenario.hpp"
#include "timing.hpp"

#include <fmt/format.h>

#include <cstdio>
#include <exception>
#include <vector>

int main(int argc, char** argv) {
    using namespace looprig::bench;
    const Options o = parse_options(argc, argv);

    install_stop_handlers();
    std::vector<Row> rows;
    std::vector<StretchRow> stretch_rows;
    try {
        if (o.stretch && o.jack) {
            for (uint32_t n : o.loops)
                if (!g_stop) stretch_rows.push_back(run_stretch_jack(o, n));
        } else if (o.stretch) {
            for (uint32_t f : o.frames)
                for (uint32_t n : o.loops)
                    if (!g_stop) stretch_rows.push_back(run_stretch_direct(o, f, n));
        } else if (o.jack) {
            const double seconds = o.seconds > 0 ? o.seconds : 10.0;
            for (uint32_t n : o.loops)
                if (!g_stop) rows.push_back(run_jack_row(o, n, seconds));
        } else {
            if (o.fifo) try_fifo();
            for (uint32_t f : o.frames)
                for (uint32_t n : o.loops)
                    if (!g_stop) rows.push_back(run_direct_row(o, f, n));
        }
    } catch (const std::exception& e) {
        fmt::print(stderr, "lr-bench: error: {}\n", e.what());
        return 1;
    }
    if (o.stretch) {
        if (o.json) print_stretch_json(o, stretch_rows);
        else print_stretch_table(o, stretch_rows);
    } else if (o.json) {
        print_json(o, rows);
    } else {
        print_table(o, rows);
    }
    std::fflush(stdout);
    if (g_stop) {
        fmt::print(stderr, "lr-bench: interrupted; the last row is partial\n");
        return 130;
    }
    for (const StretchRow& r : stretch_rows)
        if (!r.ok()) return 3;
    for (const Row& r : rows)
        if (r.playing != r.loops || r.stats.count == 0) return 3;
    return 0;
}
