// lr-bench's results: per-period statistics, the rows of the --direct and
// --jack modes, and their table and --json output (the stretch scenario
// prints its own rows: stretch_scenario.hpp).
#pragma once

#include "options.hpp"

#include <cstddef>
#include <cstdint>
#include <vector>

namespace looprig::bench {

struct Stats {
    uint64_t count = 0;
    double median = 0, p99 = 0, max = 0, mean = 0, min = 0;  // fractions of the period
    double median_us = 0, p99_us = 0, max_us = 0, mean_us = 0;
};

/// Nearest-rank statistics of the first `n` of `ns` (sorted in place), as
/// fractions of `period_ns` and in microseconds. Not RT safe.
Stats summarize(std::vector<uint64_t>& ns, std::size_t n, double period_ns);

/// One (frames, loops) row of --direct or --jack.
struct Row {
    uint32_t frames = 0;
    uint32_t loops = 0;
    uint32_t rate = 0;
    Stats stats;
    bool jack = false;
    uint32_t xruns = 0;          // xrun callbacks during the timed window
    uint32_t xruns_total = 0;    // ... during the whole row (setup included)
    double dsp_load_mean = -1;   // jack_cpu_load() samples during the window, percent
    double dsp_load_max = -1;
    float master_peak = 0;       // sanity: the loops were audible
    uint32_t playing = 0;        // sanity: slots the engine reports as playing at the end
    bool buffer_size_changed = false;
};

/// The rows as a table on stdout (columns: frames loops periods median p99 max
/// mean, plus xruns and dsp% in --jack mode), then a WARNING line per row
/// whose loops did not all play or whose JACK buffer size changed.
void print_table(const Options& o, const std::vector<Row>& rows);

/// The rows as one JSON object on stdout ({"tool": "lr-bench", ..., "rows": [...]}).
void print_json(const Options& o, const std::vector<Row>& rows);

}  // namespace looprig::bench
