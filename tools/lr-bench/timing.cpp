// lr-bench's clock, stop flag and SCHED_FIFO (timing.hpp).
#include "timing.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <sched.h>

namespace looprig::bench {

namespace {
void on_signal(int) { g_stop = 1; }
}  // namespace

void install_stop_handlers() {
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
    std::signal(SIGHUP, on_signal);
}

void try_fifo() {
    sched_param p{};
    p.sched_priority = 70;
    if (sched_setscheduler(0, SCHED_FIFO, &p) != 0)
        fmt::print(stderr, "lr-bench: --fifo: cannot get SCHED_FIFO ({}); timing at normal priority\n",
                   std::strerror(errno));
}

FifoScope::FifoScope(bool want) {
    if (!want) return;
    try_fifo();
    on = true;
}

FifoScope::~FifoScope() {
    if (!on) return;
    sched_param p{};
    sched_setscheduler(0, SCHED_OTHER, &p);
}

}  // namespace looprig::bench
