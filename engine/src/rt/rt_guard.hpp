// Marks the audio thread's critical section. In normal builds these are
// no-ops; the trap build (looprigd-rttrap, rt_trap.cpp) counts every
// allocation, free and mutex lock made between enter() and leave() on the
// thread that entered, which the tests read back. RT safe.
#pragma once

#include <cstdint>

namespace looprig::rt_guard {

void enter();
void leave();
/// Violations seen so far (any thread may read).
uint64_t violations();
/// What the first violation was ("malloc", "operator new", ...), or "".
const char* first_violation();
/// True in the trap build.
bool armed_build();

}  // namespace looprig::rt_guard
