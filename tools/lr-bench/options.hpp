// lr-bench's command line: the options of every mode and scenario, parsed and
// checked (usage errors exit 2, --help exits 0).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace looprig::bench {

struct Options {
    bool jack = false;
    std::vector<uint32_t> loops{1, 8, 32};
    std::vector<uint32_t> frames{64, 256};
    bool frames_given = false;
    uint64_t periods = 20000;
    double seconds = 0.0;  // 0 = not given
    uint32_t rate = 48000;
    uint32_t slots = 32;
    double declick_ms = 2.0;
    bool slot_outs = false;
    bool fx = false;
    double midi_rate = 0.0;  // --midi-rate: CC events per second into midi_in (--direct)
    bool paced = false;
    uint32_t warmup = 500;
    bool fifo = false;
    std::string name = "lr-bench";
    bool json = false;
    bool periods_given = false;
    bool loops_given = false;
    // --stretch
    bool stretch = false;
    bool finer = true;
    bool renders_given = false;
    uint32_t render_threads = 0;  // 0: RenderWorker::default_threads()
    double tempo_from = 120.0;
    double tempo_to = 100.0;
    double render_timeout = 300.0;
};

/// The options of `argv`. Prints the usage and exits 0 for --help; prints the
/// problem and the usage to stderr and exits 2 for a usage error.
Options parse_options(int argc, char** argv);

/// --render-threads, or the engine's default (the cores, at most 4).
uint32_t render_threads(const Options& o);

/// The engine's slot count for a row of `loops` loops: --slots, raised to `loops`.
uint32_t slots_for(const Options& o, uint32_t loops);

}  // namespace looprig::bench
