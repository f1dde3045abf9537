// A last word before a crash: which signal, at what address, in which mapping.
#pragma once

namespace looprig {

/// Installs handlers for SIGBUS, SIGSEGV, SIGILL and SIGFPE that write one line
/// to stderr — the signal, the faulting address and the mapping it falls in
/// (from /proc/self/maps, e.g. a JACK shared-memory segment truncated under
/// us, or a full /dev/shm) — and then die of the same signal, so the exit
/// status is unchanged. Only async-signal-safe calls run in the handler.
/// Not installed in sanitizer builds (they have their own). Not RT code.
void install_fatal_signal_report();

}  // namespace looprig
