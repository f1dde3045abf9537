#include "render_worker.hpp"

#include "render.hpp"

#include <fmt/format.h>
#include <pthread.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>

namespace looprig {

using namespace std::chrono_literals;

RenderWorker::RenderWorker(AudioCore& core, uint32_t sample_rate, bool finer, uint32_t threads)
    : core_(core), sample_rate_(sample_rate), finer_(finer) {
    for (uint32_t i = 0; i < std::max(threads, 1u); ++i) threads_.emplace_back([this] { run(); });
}

RenderWorker::~RenderWorker() {
    stop_.store(true);
    for (std::size_t i = 0; i < threads_.size(); ++i) core_.render_bell().ring();
    for (auto& t : threads_) t.join();
}

uint32_t RenderWorker::default_threads() {
    return std::clamp(std::thread::hardware_concurrency(), 1u, 4u);
}

bool RenderWorker::take(RenderRequest* out) {
    std::lock_guard lock(take_mutex_);
    return core_.render_requests().pop_into(out);
}

bool RenderWorker::give(RenderAnswer& answer) {
    while (!stop_.load()) {
        {
            std::lock_guard lock(give_mutex_);
            if (core_.render_answers().push(answer)) return true;
        }
        std::this_thread::sleep_for(2ms);
    }
    return false;
}

void RenderWorker::run() {
    // Renders are long and never urgent next to audio, loading or clients.
    setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), 10);
    pthread_setname_np(pthread_self(), "lr-render");
    while (!stop_.load()) {
        RenderRequest req;
        if (!take(&req)) {
            // The audio thread rings once per request it pushes: one of the
            // render threads wakes for each (a ring for a request another
            // thread took finds the queue empty and sleeps again).
            core_.render_bell().wait();
            continue;
        }
        RenderAnswer answer;
        answer.slot = req.slot;
        answer.generation = req.generation;
        answer.source = req.source;
        answer.target_frames = req.target_frames;
        answer.pitch_scale = req.pitch_scale;
        if (req.generation == core_.latest_render_generation(req.slot)) {
            RenderSpec spec;
            spec.target_frames = req.target_frames;
            spec.pitch_scale = req.pitch_scale;
            spec.finer = finer_;
            spec.sample_rate = sample_rate_;
            try {
                RenderResult result = render_loop(*req.source, spec);
                if (result.sample) answer.render = result.sample.release();
                else fmt::print(stderr, "looprigd: render of slot {} failed: {}\n", req.slot, result.error);
            } catch (const std::exception& e) {
                fmt::print(stderr, "looprigd: render of slot {} failed: {}\n", req.slot, e.what());
            }
        }
        // Every request is answered (the audio core holds its source until then).
        if (!give(answer)) {
            delete answer.render;
            return;
        }
    }
}

}  // namespace looprig
