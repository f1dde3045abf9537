// The render threads: make the steady-state renders the audio core asks for
// (render.hpp) and hand them back lock-free. Requests superseded by a newer
// one for the same slot are skipped. Several threads share the work (the
// audio core's queues stay single-producer/single-consumer: the threads take
// turns at each end under a mutex, which only they use). Not RT safe.
#pragma once

#include "rt/audio_core.hpp"

#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

namespace looprig {

class RenderWorker {
public:
    /// `threads` render threads (at least 1), run at a lower priority (nice
    /// +10) than the rest of the engine so that they yield to everything else.
    RenderWorker(AudioCore& core, uint32_t sample_rate, bool finer, uint32_t threads = 1);
    ~RenderWorker();
    RenderWorker(const RenderWorker&) = delete;
    RenderWorker& operator=(const RenderWorker&) = delete;

    /// The default thread count: the machine's cores, at most 4.
    static uint32_t default_threads();

private:
    void run();
    bool take(RenderRequest* out);
    bool give(RenderAnswer& answer);
    AudioCore& core_;
    uint32_t sample_rate_;
    bool finer_;
    std::atomic<bool> stop_{false};
    std::mutex take_mutex_;  // consumer side of core_.render_requests()
    std::mutex give_mutex_;  // producer side of core_.render_answers()
    std::vector<std::thread> threads_;
};

}  // namespace looprig
