// The render thread: makes the steady-state renders the audio core asks for
// (render.hpp) and hands them back lock-free. Requests superseded by a newer
// one for the same slot are skipped. Not RT safe.
#pragma once

#include "rt/audio_core.hpp"

#include <atomic>
#include <thread>

namespace looprig {

class RenderWorker {
public:
    RenderWorker(AudioCore& core, uint32_t sample_rate, bool finer);
    ~RenderWorker();
    RenderWorker(const RenderWorker&) = delete;
    RenderWorker& operator=(const RenderWorker&) = delete;

private:
    void run();
    AudioCore& core_;
    uint32_t sample_rate_;
    bool finer_;
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

}  // namespace looprig
