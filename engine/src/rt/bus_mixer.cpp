// The buses after the slots (bus_mixer.hpp). Audio thread only, except the
// constructor; everything else is RT safe.
#include "bus_mixer.hpp"

#include "level_meters.hpp"
#include "musical_grid.hpp"
#include "looprig/shm_client.h"

#include <algorithm>
#include <cmath>

namespace looprig::rt {

BusMixer::BusMixer(const MusicalGrid& grid, const CoreConfig& cfg)
    : grid_(grid), max_frames_(cfg.max_frames), smooth_frames_(cfg.smooth_frames) {
    const std::size_t period = cfg.max_frames;
    storage_.assign((LR_GROUPS + 2 * LR_SENDS) * 2 * period, 0.0f);
    float* next = storage_.data();
    auto take = [&](float* (&pair)[2]) {
        pair[0] = next;
        pair[1] = next + period;
        next += 2 * period;
    };
    for (auto& g : group_buf_) take(g);
    for (auto& b : send_buf_) take(b);
    for (auto& b : return_buf_) take(b);
    delay_max_frames_ = static_cast<uint32_t>(cfg.max_delay_seconds * cfg.sample_rate);
    fx_sleep_frames_ = cfg.sample_rate / 10;  // 100 ms beyond the delay time
    reverb_memory_frames_ = cfg.sample_rate;  // 1 s
    delay_.prepare(cfg.sample_rate, delay_max_frames_, smooth_frames_);
    reverb_.prepare(cfg.sample_rate, smooth_frames_);
    // Every group and global param at its default, at once.
    uint32_t count = 0;
    const lr_param_desc* table = lr_param_table(&count);
    for (uint32_t k = 0; k < count; ++k) {
        const lr_param_desc& p = table[k];
        if (p.target == LR_TARGET_GROUP)
            for (int32_t g = 0; g < LR_GROUPS; ++g) set_param(p.id, g, p.def, true);
        else if (p.target == LR_TARGET_GLOBAL)
            set_param(p.id, 0, p.def, true);
    }
    // Setting delay-ms switched the delay to ms; the default is synced (delay-beats).
    delay_beats_ = lr_param_info(LR_P_DELAY_BEATS)->def;
    global_params_[LR_P_DELAY_BEATS - LR_P_GLOBAL_BASE] = delay_beats_;
    delay_.set_delay_frames(delay_frames_now(cfg.sample_rate));
    delay_.reset();
}

void BusMixer::begin_period() {
    for (uint32_t b = 0; b < 2 * (LR_GROUPS + 2 * LR_SENDS); ++b)  // every bus channel, what was written
        std::fill_n(storage_.data() + static_cast<std::size_t>(b) * max_frames_, dirty_frames_, 0.0f);
    dirty_frames_ = 0;
}

BusInputs BusMixer::inputs(uint32_t offset, const CoreOutputs& out) {
    BusInputs in;
    for (int c = 0; c < 2; ++c) {
        in.master[c] = out.master[c] + offset;
        for (uint32_t g = 0; g < LR_GROUPS; ++g) in.group[g][c] = group_buf_[g][c] + offset;
        for (uint32_t k = 0; k < LR_SENDS; ++k) in.send[k][c] = send_buf_[k][c] + offset;
    }
    return in;
}

void BusMixer::set_param(uint32_t id, int32_t index, double v, bool immediate) {
    const uint32_t ramp = immediate ? 0 : smooth_frames_;
    if (id >= LR_P_GROUP_BASE && id < LR_P_GROUP_END) {
        double* params = group_params_[index];
        params[id - LR_P_GROUP_BASE] = v;
        const bool muted = params[LR_P_GROUP_MUTE - LR_P_GROUP_BASE] != 0.0f;
        group_gain_[index].set(muted ? 0.0f : level_gain(params[LR_P_GROUP_GAIN - LR_P_GROUP_BASE]), ramp);
        return;
    }
    global_params_[id - LR_P_GLOBAL_BASE] = v;
    switch (id) {
        case LR_P_DELAY_BEATS: delay_beats_ = v; break;
        case LR_P_DELAY_MS:
            delay_ms_ = v;
            delay_beats_ = 0.0;
            global_params_[LR_P_DELAY_BEATS - LR_P_GLOBAL_BASE] = 0.0;
            break;
        case LR_P_DELAY_FEEDBACK: delay_.set_feedback(v); break;
        case LR_P_DELAY_LOWCUT: delay_.set_lowcut(v); break;
        case LR_P_DELAY_HIGHCUT: delay_.set_highcut(v); break;
        case LR_P_DELAY_PINGPONG: delay_.set_pingpong(v != 0.0); break;
        case LR_P_DELAY_RETURN: return_gain_[LR_SEND_DELAY].set(level_gain(v), ramp); break;
        case LR_P_REVERB_DECAY: reverb_.set_decay(v); break;
        case LR_P_REVERB_DAMPING: reverb_.set_damping(v); break;
        case LR_P_REVERB_PREDELAY: reverb_.set_predelay_ms(v); break;
        case LR_P_REVERB_RETURN: return_gain_[LR_SEND_REVERB].set(level_gain(v), ramp); break;
        case LR_P_MASTER_GAIN: master_gain_.set(level_gain(v), ramp); break;
        default: break;
    }
}

uint32_t BusMixer::delay_frames_now(double sample_rate) const {
    const double frames = delay_beats_ > 0.0 ? delay_beats_ * grid_.frames_per_beat() : delay_ms_ * sample_rate / 1000.0;
    return static_cast<uint32_t>(std::clamp(std::llround(frames), 1LL, static_cast<long long>(delay_max_frames_)));
}

void BusMixer::run_effect(lr_send_bus bus, const float* in_l, const float* in_r, float* out_l, float* out_r,
                          uint32_t n) {
    switch (bus) {
        case LR_SEND_DELAY: delay_.process(in_l, in_r, out_l, out_r, n); break;
        case LR_SEND_REVERB: reverb_.process(in_l, in_r, out_l, out_r, n); break;
    }
}

void BusMixer::settle_effect(lr_send_bus bus) {
    switch (bus) {
        case LR_SEND_DELAY:
            if (delay_.gliding()) delay_.settle();
            break;
        case LR_SEND_REVERB:
            if (reverb_.gliding()) reverb_.settle();
            break;
    }
}

uint64_t BusMixer::memory_frames(lr_send_bus bus) const {
    switch (bus) {
        case LR_SEND_DELAY: return delay_.delay_frames() + fx_sleep_frames_;
        case LR_SEND_REVERB: return reverb_memory_frames_;
    }
    return reverb_memory_frames_;
}

void BusMixer::mix(uint32_t offset, uint32_t n, const CoreOutputs& out, bool slots_wrote, BusMeters& meters) {
    float* master_l = out.master[0] + offset;
    float* master_r = out.master[1] + offset;
    for (uint32_t g = 0; g < LR_GROUPS; ++g) {
        float* bl = group_buf_[g][0] + offset;
        float* br = group_buf_[g][1] + offset;
        bool used = false;  // no slot feeds it now: nothing to scale, meter or mix
        for (uint32_t i = 0; i < n && !used && slots_wrote; ++i) used = bl[i] != 0.0f || br[i] != 0.0f;
        if (!used) {
            group_gain_[g].skip(n);
            if (out.group[g][0]) std::fill_n(out.group[g][0] + offset, n, 0.0f);
            if (out.group[g][1]) std::fill_n(out.group[g][1] + offset, n, 0.0f);
            continue;
        }
        for (uint32_t i = 0; i < n; ++i) {
            const float k = group_gain_[g].next();
            bl[i] *= k;
            br[i] *= k;
            meters.group[g].accumulate(bl[i], br[i]);
            master_l[i] += bl[i];
            master_r[i] += br[i];
        }
        if (out.group[g][0]) std::copy_n(bl, n, out.group[g][0] + offset);
        if (out.group[g][1]) std::copy_n(br, n, out.group[g][1] + offset);
    }
    const uint32_t frames = delay_frames_now(grid_.sample_rate());
    if (frames != delay_.delay_frames()) delay_.set_delay_frames(frames);
    for (uint32_t k = 0; k < LR_SENDS; ++k) {
        const auto bus = static_cast<lr_send_bus>(k);
        float* sl = send_buf_[k][0] + offset;
        float* sr = send_buf_[k][1] + offset;
        float* rl = return_buf_[k][0] + offset;
        float* rr = return_buf_[k][1] + offset;
        if (slots_wrote)  // else zeros: nothing to meter
            for (uint32_t i = 0; i < n; ++i) meters.send[k].accumulate(sl[i], sr[i]);
        if (out.send[k][0]) std::copy_n(sl, n, out.send[k][0] + offset);
        if (out.send[k][1]) std::copy_n(sr, n, out.send[k][1] + offset);
        bool input = false;
        for (uint32_t i = 0; i < n && !input && slots_wrote; ++i) input = sl[i] != 0.0f || sr[i] != 0.0f;
        FxSleep& sleep = fx_sleep_[k];
        if (input) {
            sleep.asleep = false;
            sleep.quiet_frames = 0;
        } else if (sleep.asleep) {
            // Nothing is inside it: a change made meanwhile is complete at once,
            // so the first input after waking meets the settings in force.
            settle_effect(bus);
            return_gain_[k].skip(n);  // the return buffers stay zero
            if (out.fx_return[k][0]) std::fill_n(out.fx_return[k][0] + offset, n, 0.0f);
            if (out.fx_return[k][1]) std::fill_n(out.fx_return[k][1] + offset, n, 0.0f);
            continue;
        }
        mark_written(offset + n);
        run_effect(bus, sl, sr, rl, rr, n);
        if (!input) {
            float peak = 0.0f;
            for (uint32_t i = 0; i < n; ++i) peak = std::max({peak, std::fabs(rl[i]), std::fabs(rr[i])});
            sleep.quiet_frames = peak < kFxSilence ? sleep.quiet_frames + n : 0;
            sleep.asleep = sleep.quiet_frames >= memory_frames(bus);
        }
        for (uint32_t i = 0; i < n; ++i) {
            const float g = return_gain_[k].next();
            rl[i] *= g;
            rr[i] *= g;
            meters.fx_return[k].accumulate(rl[i], rr[i]);
            master_l[i] += rl[i];
            master_r[i] += rr[i];
        }
        if (out.fx_return[k][0]) std::copy_n(rl, n, out.fx_return[k][0] + offset);
        if (out.fx_return[k][1]) std::copy_n(rr, n, out.fx_return[k][1] + offset);
    }
    if (master_gain_.moving() || master_gain_.value != 1.0f) {
        for (uint32_t i = 0; i < n; ++i) {
            const float g = master_gain_.next();
            master_l[i] *= g;
            master_r[i] *= g;
        }
    }
}

}  // namespace looprig::rt
