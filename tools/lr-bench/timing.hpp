// What every timed run of lr-bench shares: the clock, the stop flag that
// signals set, and SCHED_FIFO for the timing thread (--fifo).
#pragma once

#include <csignal>
#include <cstdint>
#include <ctime>

namespace looprig::bench {

/// Set by SIGINT/SIGTERM/SIGHUP: finish the current row early, clean up
/// (the segment is unlinked by its destructor) and exit 130.
inline volatile std::sig_atomic_t g_stop = 0;

/// Route SIGINT, SIGTERM and SIGHUP to g_stop.
void install_stop_handlers();

/// CLOCK_MONOTONIC in ns (vDSO, no system call). RT safe.
inline uint64_t now_ns() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

/// SCHED_FIFO 70 for the calling thread if allowed; else a note on stderr.
void try_fifo();

/// Runs with SCHED_FIFO 70 while it lives (--fifo), back to SCHED_OTHER after;
/// created after the RenderWorker so that its thread does not inherit it.
struct FifoScope {
    bool on = false;
    explicit FifoScope(bool want);
    ~FifoScope();
    FifoScope(const FifoScope&) = delete;
    FifoScope& operator=(const FifoScope&) = delete;
};

}  // namespace looprig::bench
