// The per-slot channel strip. All RT safe except prepare().
#include "channel_strip.hpp"

#include <algorithm>
#include <cstring>

namespace looprig::rt {

void ChannelStrip::prepare(double sample_rate, uint32_t ramp_frames) {
    fs_ = sample_rate;
    ramp_ = ramp_frames;
    hp_.prepare(FilterShape::highpass, sample_rate, ramp_frames);
    lp_.prepare(FilterShape::lowpass, sample_rate, ramp_frames);
    eq_[0].prepare(FilterShape::low_shelf, sample_rate, ramp_frames);
    eq_[1].prepare(FilterShape::peaking, sample_rate, ramp_frames);
    eq_[2].prepare(FilterShape::high_shelf, sample_rate, ramp_frames);
    set_immediately(StripSettings{});
    reset();
}

void ChannelStrip::set(const StripSettings& s) {
    settings_ = s;
    // A section that is fully off takes its new parameters at once: nothing to hear.
    if (stage_off(hp_w_)) hp_.set_immediately(s.hp_freq, s.hp_q, 0.0);
    else hp_.set(s.hp_freq, s.hp_q, 0.0);
    if (stage_off(lp_w_)) lp_.set_immediately(s.lp_freq, s.lp_q, 0.0);
    else lp_.set(s.lp_freq, s.lp_q, 0.0);
    const double kShelfQ = 0.7071067811865476;  // unused by the shelves (slope S = 1)
    if (stage_off(eq_w_)) {
        eq_[0].set_immediately(s.low_freq, kShelfQ, s.low_gain_db);
        eq_[1].set_immediately(s.mid_freq, s.mid_q, s.mid_gain_db);
        eq_[2].set_immediately(s.high_freq, kShelfQ, s.high_gain_db);
    } else {
        eq_[0].set(s.low_freq, kShelfQ, s.low_gain_db);
        eq_[1].set(s.mid_freq, s.mid_q, s.mid_gain_db);
        eq_[2].set(s.high_freq, kShelfQ, s.high_gain_db);
    }
    hp_w_.set(s.hp_on ? 1.0 : 0.0, ramp_);
    lp_w_.set(s.lp_on ? 1.0 : 0.0, ramp_);
    // A flat EQ sounds the same on and off: switch it at once (keeps transparent() exact).
    if (eq_identity()) eq_w_.jump(s.eq_on ? 1.0 : 0.0);
    else eq_w_.set(s.eq_on ? 1.0 : 0.0, ramp_);
}

void ChannelStrip::set_immediately(const StripSettings& s) {
    settings_ = s;
    const double kShelfQ = 0.7071067811865476;
    hp_.set_immediately(s.hp_freq, s.hp_q, 0.0);
    lp_.set_immediately(s.lp_freq, s.lp_q, 0.0);
    eq_[0].set_immediately(s.low_freq, kShelfQ, s.low_gain_db);
    eq_[1].set_immediately(s.mid_freq, s.mid_q, s.mid_gain_db);
    eq_[2].set_immediately(s.high_freq, kShelfQ, s.high_gain_db);
    hp_w_.jump(s.hp_on ? 1.0 : 0.0);
    lp_w_.jump(s.lp_on ? 1.0 : 0.0);
    eq_w_.jump(s.eq_on ? 1.0 : 0.0);
}

bool ChannelStrip::eq_identity() const {
    return eq_[0].identity() && eq_[1].identity() && eq_[2].identity();
}

bool ChannelStrip::transparent() const {
    return stage_off(hp_w_) && stage_off(lp_w_) && !eq_w_.moving() && (eq_w_.value == 0.0 || eq_identity());
}

void ChannelStrip::reset() {
    hp_.reset();
    lp_.reset();
    for (SvfSection& s : eq_) s.reset();
}

void ChannelStrip::settle() {
    hp_.settle();
    lp_.settle();
    for (SvfSection& s : eq_) s.settle();
    for (Glide* w : {&hp_w_, &lp_w_, &eq_w_})
        if (w->moving()) w->jump(w->target);
}

void ChannelStrip::run_stage(SvfSection* sections, int count, Glide& weight, float* left, float* right,
                             uint32_t n) {
    bool audible = false;
    for (int i = 0; i < count; ++i) audible = audible || !sections[i].identity();
    if (stage_off(weight) || !audible) {
        // Bypassed, or an exact identity anyway: skip, and restart from silence when back.
        for (int i = 0; i < count; ++i) {
            sections[i].settle();
            sections[i].reset();
        }
        weight.advance(n);
        return;
    }
    const bool fading = weight.moving();
    if (fading) {
        std::memcpy(dry_l_, left, n * sizeof(float));
        std::memcpy(dry_r_, right, n * sizeof(float));
    }
    for (int i = 0; i < count; ++i) {
        if (sections[i].identity()) sections[i].reset();
        else sections[i].process(left, right, n);
    }
    if (fading) {
        for (uint32_t i = 0; i < n; ++i) {
            const double w = weight.next();
            left[i] = static_cast<float>(dry_l_[i] + w * (static_cast<double>(left[i]) - dry_l_[i]));
            right[i] = static_cast<float>(dry_r_[i] + w * (static_cast<double>(right[i]) - dry_r_[i]));
        }
    }
}

void ChannelStrip::process(float* left, float* right, uint32_t n) {
    while (n) {
        const uint32_t len = std::min(n, kChunk);
        run_stage(&hp_, 1, hp_w_, left, right, len);
        run_stage(&lp_, 1, lp_w_, left, right, len);
        run_stage(eq_, 3, eq_w_, left, right, len);
        left += len;
        right += len;
        n -= len;
    }
}

}  // namespace looprig::rt
