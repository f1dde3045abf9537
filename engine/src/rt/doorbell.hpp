// A wake-up call for a worker thread that sleeps until there is work. The
// audio thread rings; the worker waits. A POSIX semaphore: sem_post is
// lock-free in glibc, never blocks, never allocates, and is async-signal
// safe (it makes a system call, a futex wake, only when a thread sleeps on it).
#pragma once

#include <semaphore.h>

#include <cerrno>
#include <chrono>
#include <ctime>

namespace looprig {

class Doorbell {
public:
    Doorbell() { sem_init(&sem_, 0, 0); }
    ~Doorbell() { sem_destroy(&sem_); }
    Doorbell(const Doorbell&) = delete;
    Doorbell& operator=(const Doorbell&) = delete;

    /// Wake one waiter (or the next wait()). RT safe and async-signal safe.
    void ring() noexcept { sem_post(&sem_); }

    /// Sleep until rung; consumes one ring. Not RT safe.
    void wait() noexcept {
        while (sem_wait(&sem_) != 0 && errno == EINTR) {
        }
    }

    /// Sleep until rung (true, one ring consumed) or until `timeout` has passed (false). Not RT safe.
    bool wait_for(std::chrono::nanoseconds timeout) noexcept {
        timespec until{};
        clock_gettime(CLOCK_MONOTONIC, &until);
        const auto ns = until.tv_nsec + timeout.count();
        until.tv_sec += static_cast<time_t>(ns / 1000000000);
        until.tv_nsec = static_cast<long>(ns % 1000000000);
        while (sem_clockwait(&sem_, CLOCK_MONOTONIC, &until) != 0) {
            if (errno != EINTR) return false;
        }
        return true;
    }

    /// Consume every ring already made: call before looking for work, so a
    /// ring made after the look wakes the next wait(). Not RT safe.
    void clear() noexcept {
        while (sem_trywait(&sem_) == 0) {
        }
    }

private:
    sem_t sem_;
};

}  // namespace looprig
