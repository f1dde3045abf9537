// --direct: AudioCore::process() called in a loop on this thread, no JACK;
// back to back (warm caches) or --paced (one call per period of wall time).
#pragma once

#include "options.hpp"
#include "report.hpp"

#include <cstdint>

namespace looprig::bench {

/// One (frames, loops) row: a fresh rig, its setup run through the core, --warmup
/// untimed periods, then --periods (or --seconds' worth) timed calls. Not RT safe
/// (the timing loop itself allocates nothing).
Row run_direct_row(const Options& o, uint32_t frames, uint32_t loops);

}  // namespace looprig::bench
