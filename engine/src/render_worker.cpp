#include "render_worker.hpp"

#include "render.hpp"

#include <fmt/format.h>

#include <chrono>

namespace looprig {

RenderWorker::RenderWorker(AudioCore& core, uint32_t sample_rate, bool finer)
    : core_(core), sample_rate_(sample_rate), finer_(finer) {
    thread_ = std::thread([this] { run(); });
}

RenderWorker::~RenderWorker() {
    stop_.store(true);
    thread_.join();
}

void RenderWorker::run() {
    using namespace std::chrono_literals;
    while (!stop_.load()) {
        RenderRequest* req = core_.render_requests().front();
        if (!req) {
            std::this_thread::sleep_for(2ms);
            continue;
        }
        RenderAnswer answer;
        answer.slot = req->slot;
        answer.generation = req->generation;
        answer.source = req->source;
        answer.target_frames = req->target_frames;
        answer.pitch_scale = req->pitch_scale;
        if (req->generation == core_.latest_render_generation(req->slot)) {
            RenderSpec spec;
            spec.target_frames = req->target_frames;
            spec.pitch_scale = req->pitch_scale;
            spec.finer = finer_;
            spec.sample_rate = sample_rate_;
            try {
                RenderResult result = render_loop(*req->source, spec);
                if (result.sample) answer.render = result.sample.release();
                else fmt::print(stderr, "looprigd: render of slot {} failed: {}\n", req->slot, result.error);
            } catch (const std::exception& e) {
                fmt::print(stderr, "looprigd: render of slot {} failed: {}\n", req->slot, e.what());
            }
        }
        core_.render_requests().pop();
        while (!core_.render_answers().push(answer)) {
            if (stop_.load()) {
                delete answer.render;
                return;
            }
            std::this_thread::sleep_for(2ms);
        }
    }
}

}  // namespace looprig
