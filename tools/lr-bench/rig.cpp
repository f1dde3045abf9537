// lr-bench's engine under test and its loops (rig.hpp).
#include "rig.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numbers>
#include <stdexcept>
#include <unistd.h>

namespace looprig::bench {

namespace {

bool is_prime(uint64_t n) {
    if (n < 2) return false;
    for (uint64_t d = 2; d * d <= n; ++d)
        if (n % d == 0) return false;
    return true;
}

CoreConfig rig_config(uint32_t slots, uint32_t rate, uint32_t max_frames, double declick_ms) {
    CoreConfig cfg;
    cfg.slot_count = slots;
    cfg.sample_rate = rate;
    cfg.max_frames = max_frames;
    cfg.declick_frames = static_cast<uint32_t>(std::lround(declick_ms * rate / 1000.0));
    return cfg;
}

}  // namespace

std::unique_ptr<Sample> synth_loop(uint64_t frames, uint32_t rate, uint32_t index) {
    std::vector<float> left(frames), right(frames);
    const double seconds = static_cast<double>(frames) / rate;
    const double cycles_l = std::round(seconds * (110.0 + 17.0 * index));
    const double cycles_r = std::round(seconds * (165.0 + 23.0 * index));
    for (uint64_t i = 0; i < frames; ++i) {
        const double x = 2.0 * std::numbers::pi * static_cast<double>(i) / static_cast<double>(frames);
        left[i] = static_cast<float>(0.05 * std::sin(cycles_l * x));
        right[i] = static_cast<float>(0.05 * std::sin(cycles_r * x));
    }
    const std::string name = fmt::format("bench-{}-{}.synth", index, frames);
    return std::unique_ptr<Sample>(test::make_sample(std::move(left), std::move(right), rate, name.c_str()));
}

std::vector<uint64_t> loop_lengths(uint32_t n, uint32_t rate) {
    std::vector<uint64_t> out;
    uint64_t last = 0;
    for (uint32_t i = 0; i < n; ++i) {
        uint64_t p = static_cast<uint64_t>(rate * (2.0 + 2.0 * (i + 0.5) / n));
        p = std::max(p, last + 1);
        while (!is_prime(p)) ++p;
        out.push_back(p);
        last = p;
    }
    return out;
}

Rig::Rig(uint32_t slots, uint32_t rate, uint32_t max_frames, double declick_ms, uint32_t loops,
         std::vector<std::unique_ptr<Sample>> samples, bool auto_play)
    : loops_(loops),
      auto_play_(auto_play),
      samples_(std::move(samples)),
      rig_(fmt::format("bench-{}", ::getpid()), rig_config(slots, rate, max_frames, declick_ms)) {
    rig_.segment->header()->sample_rate = rate;
    shm::store_release(rig_.segment->header()->engine_state, LR_ENGINE_RUNNING);  // for lr-inspect
    if (samples_.empty()) {
        const auto lengths = loop_lengths(loops, rate);
        for (uint32_t i = 0; i < loops; ++i) samples_.push_back(synth_loop(lengths[i], rate, i));
    }
    if (samples_.size() != loops) throw std::logic_error("Rig: one sample per loop");
    acked_beats_.assign(slots, 0.0);
}

Rig::~Rig() {
    rig_.core.reset();  // frees the samples it holds
}

void Rig::pump() {
    while (loads_pushed_ < loops_) {
        LoadResult r = rig_.load_result(static_cast<int32_t>(loads_pushed_), samples_[loads_pushed_].get(),
                                        1 + loads_pushed_);
        std::snprintf(r.message, sizeof r.message, "synthesised");
        if (!rig_.core->load_results().push(r)) break;
        samples_[loads_pushed_].release();  // the core owns it now
        ++loads_pushed_;
    }
    while (auto_play_ && load_acks_ == loops_ && plays_pushed_ < loops_) {
        lr_command cmd = test::make_command(LR_CMD_PLAY, static_cast<int32_t>(plays_pushed_));
        cmd.id = 100000 + plays_pushed_;
        if (!rig_.commands.push(cmd)) break;
        ++plays_pushed_;
    }
    while (load_acks_ == loops_ && !outbox_.empty()) {
        if (!rig_.commands.push(outbox_.front())) break;
        outbox_.pop_front();
    }
    lr_event ev{};
    while (rig_.events.pop_into(&ev)) {
        if (ev.id >= kSentIds && (ev.type == LR_EVT_ACK || ev.type == LR_EVT_ERROR)) {
            ++answered_;
            last_answer_frame_ = std::max(last_answer_frame_, ev.frame);
        }
        if (ev.type == LR_EVT_ACK && ev.command == LR_CMD_LOOP_TEMPO && ev.slot >= 0 &&
            static_cast<std::size_t>(ev.slot) < acked_beats_.size())
            acked_beats_[static_cast<std::size_t>(ev.slot)] = ev.value[0];
        if (ev.type == LR_EVT_ACK && ev.command == LR_CMD_LOAD) ++load_acks_;
        else if (ev.type == LR_EVT_ACK && ev.command == LR_CMD_PLAY) ++play_acks_;
        else if (ev.type == LR_EVT_ERROR) {
            ++errors_;
            if (first_error_.empty()) first_error_ = fmt::format("code {}: {}", ev.code, ev.message);
        }
    }
    Sample* g = nullptr;
    while (rig_.core->garbage().pop_into(&g)) delete g;
}

void Rig::send(lr_command cmd) {
    cmd.id = kSentIds + sent_++;
    outbox_.push_back(cmd);
}

uint32_t Rig::playing_slots() const {
    uint32_t n = 0;
    const lr_slot_meter* m = rig_.segment->slot_meters();
    for (uint32_t i = 0; i < rig_.segment->header()->slot_count; ++i)
        if (m[i].state == LR_SLOT_PLAYING) ++n;
    return n;
}

}  // namespace looprig::bench
