// The --fx scenario (issue 4; docs/BENCHMARKS.md "Mixer and effects"): every
// playing slot runs its channel strip, both sends and a group bus, and both
// effects run. --direct and --jack queue it on their rig before the row.
#pragma once

#include "rig.hpp"

#include <cstdint>

namespace looprig::bench {

/// --fx: every filter and EQ band on (not flat), both sends, a group bus per
/// slot, both effects running. Sent like a client's commands. Not RT safe.
void queue_fx(Rig& rig, uint32_t loops);

}  // namespace looprig::bench
