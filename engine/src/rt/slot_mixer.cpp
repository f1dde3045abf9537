// A slot's channel in the mixer (slot_mixer.hpp). Audio thread only, except
// prepare(); everything else is RT safe.
#include "slot_mixer.hpp"

#include "looprig/shm_client.h"

#include "level_meters.hpp"
#include "slot.hpp"

#include <algorithm>

namespace looprig::rt {

namespace {

/// Add `gain`-ramped x into dst (n frames); nothing if the ramp rests at 0. RT safe.
void add_ramped(float* dst, const float* x, dsp::Ramp& gain, uint32_t n) {
    if (!gain.moving()) {
        const float g = gain.value;
        if (g == 0.0f) return;
        for (uint32_t i = 0; i < n; ++i) dst[i] += g * x[i];
        return;
    }
    for (uint32_t i = 0; i < n; ++i) dst[i] += gain.next() * x[i];
}

uint32_t channels_of(const Slot& s) { return s.loaded.sample ? s.loaded.sample->channels : 2; }

}  // namespace

void SlotMixer::prepare(SlotStrip& s) {
    update_gain_targets(s, 2, false);
    s.gain[0].jump(s.gain[0].target);
    s.gain[1].jump(s.gain[1].target);
    s.audible.jump(s.audible.target);
    s.eq.prepare(sample_rate_, smooth_frames_);
}

SlotMixer::ParamKind SlotMixer::store_param(SlotStrip& s, uint32_t id, double v) {
    s.params[id] = v;
    s.params_dirty = true;
    StripSettings& st = s.settings;
    switch (id) {
        case LR_P_HP_ON: st.hp_on = v != 0.0; break;
        case LR_P_HP_FREQ: st.hp_freq = v; break;
        case LR_P_HP_Q: st.hp_q = v; break;
        case LR_P_LP_ON: st.lp_on = v != 0.0; break;
        case LR_P_LP_FREQ: st.lp_freq = v; break;
        case LR_P_LP_Q: st.lp_q = v; break;
        case LR_P_EQ_ON: st.eq_on = v != 0.0; break;
        case LR_P_EQ_LOW_FREQ: st.low_freq = v; break;
        case LR_P_EQ_LOW_GAIN: st.low_gain_db = v; break;
        case LR_P_EQ_MID_FREQ: st.mid_freq = v; break;
        case LR_P_EQ_MID_GAIN: st.mid_gain_db = v; break;
        case LR_P_EQ_MID_Q: st.mid_q = v; break;
        case LR_P_EQ_HIGH_FREQ: st.high_freq = v; break;
        case LR_P_EQ_HIGH_GAIN: st.high_gain_db = v; break;
        case LR_P_GROUP: return ParamKind::kGroup;
        default: return ParamKind::kSend;  // send levels and pre/post
    }
    return ParamKind::kStrip;
}

void SlotMixer::set_param(SlotStrip& s, uint32_t id, double v, bool immediate) {
    const uint32_t ramp = immediate ? 0 : smooth_frames_;
    switch (store_param(s, id, v)) {
        case ParamKind::kGroup: assign_group(s, static_cast<int32_t>(v), ramp); return;
        case ParamKind::kSend: update_sends(s, ramp); return;
        case ParamKind::kStrip: break;
    }
    if (immediate) s.eq.set_immediately(s.settings);
    else s.eq.set(s.settings);
}

void SlotMixer::restore_params(SlotStrip& s, const double* params) {
    for (uint32_t id = 0; id < LR_P_GAIN; ++id)
        if (lr_param_info(id) && store_param(s, id, params[id]) == ParamKind::kGroup)
            assign_group(s, static_cast<int32_t>(params[id]), 0);
    update_sends(s, 0);
    s.eq.set_immediately(s.settings);  // the filters designed once, not once per param
}

bool SlotMixer::set_level(SlotStrip& s, uint32_t id, double v) {
    switch (id) {
        case LR_P_GAIN: s.gain_db = v; return true;
        case LR_P_PAN: s.pan = v; return true;
        case LR_P_MUTE: s.mute = v != 0.0; return true;
        case LR_P_SOLO: s.solo = v != 0.0; return true;
        default: return false;
    }
}

void SlotMixer::update_sends(SlotStrip& s, uint32_t ramp) {
    for (uint32_t k = 0; k < LR_SENDS; ++k) {  // LR_P_SEND1_* feed LR_SEND_DELAY, LR_P_SEND2_* LR_SEND_REVERB
        const float g = level_gain(s.params[LR_P_SEND1_LEVEL + 2 * k]);
        const bool pre = s.params[LR_P_SEND1_PRE + 2 * k] != 0.0f;
        s.send_pre[k].set(pre ? g : 0.0f, ramp);
        s.send_post[k].set(pre ? 0.0f : g, ramp);
    }
}

void SlotMixer::assign_group(SlotStrip& s, int32_t group, uint32_t ramp) {
    s.params[LR_P_GROUP] = group;
    if (group == s.group) return;
    s.old_group = s.group;
    s.group = group;
    s.route.jump(ramp ? 0.0f : 1.0f);
    s.route.set(1.0f, ramp);
}

bool SlotMixer::any_solo(const std::vector<Slot>& slots) {
    for (const auto& s : slots)
        if (s.strip.solo) return true;
    return false;
}

void SlotMixer::update_gain_targets(SlotStrip& s, uint32_t channels, bool any_soloed_now) {
    const bool audible = !s.mute && (!any_soloed_now || s.solo);
    const double g = audible ? dsp::db_to_gain(s.gain_db) : 0.0;
    double pl = 0, pr = 0;
    dsp::pan_gains(s.pan, channels, pan_law_db_, &pl, &pr);
    s.gain[0].set(static_cast<float>(g * pl), declick_frames_);
    s.gain[1].set(static_cast<float>(g * pr), declick_frames_);
    s.audible.set(audible ? 1.0f : 0.0f, declick_frames_);
}

void SlotMixer::update_all_gain_targets(std::vector<Slot>& slots) {
    const bool soloed = any_solo(slots);
    for (auto& s : slots) update_gain_targets(s.strip, channels_of(s), soloed);
}

void SlotMixer::skip(SlotStrip& s, uint32_t n) {
    s.gain[0].skip(n);
    s.gain[1].skip(n);
    s.audible.skip(n);
    s.route.skip(n);
    for (uint32_t k = 0; k < LR_SENDS; ++k) {
        s.send_pre[k].skip(n);
        s.send_post[k].skip(n);
    }
    if (!s.eq_idle) {  // its filters start from silence next time
        s.eq.reset();
        s.eq_idle = true;
    }
    s.eq.settle();  // and with the settings given while it was silent
}

void SlotMixer::mix(SlotStrip& s, float* l, float* r, uint32_t n, const BusInputs& to, float* slot_l, float* slot_r,
                    Meter& meter) {
    if (!s.eq.transparent()) {
        s.eq.process(l, r, n);
        s.eq_idle = false;
    }
    // Pre-fader sends: before gain and pan, after mute/solo.
    for (uint32_t k = 0; k < LR_SENDS; ++k) {
        dsp::Ramp& g = s.send_pre[k];
        if (!g.moving() && g.value == 0.0f) continue;
        float* bl = to.send[k][0];
        float* br = to.send[k][1];
        dsp::Ramp audible = s.audible;  // the same ramp for each send
        for (uint32_t i = 0; i < n; ++i) {
            const float a = g.next() * audible.next();
            bl[i] += a * l[i];
            br[i] += a * r[i];
        }
    }
    s.audible.skip(n);
    // Fader: gain, pan, mute, solo.
    for (uint32_t i = 0; i < n; ++i) {
        l[i] *= s.gain[0].next();
        r[i] *= s.gain[1].next();
        meter.accumulate(l[i], r[i]);
    }
    if (slot_l) std::copy_n(l, n, slot_l);
    if (slot_r) std::copy_n(r, n, slot_r);
    for (uint32_t k = 0; k < LR_SENDS; ++k) {
        if (!s.send_post[k].moving() && s.send_post[k].value == 0.0f) continue;
        dsp::Ramp right = s.send_post[k];  // the right channel replays the left's ramp
        add_ramped(to.send[k][0], l, s.send_post[k], n);
        add_ramped(to.send[k][1], r, right, n);
    }
    // Into its group bus or the master, crossfading after a change of bus.
    float* to_l = s.group >= 0 ? to.group[s.group][0] : to.master[0];
    float* to_r = s.group >= 0 ? to.group[s.group][1] : to.master[1];
    if (!s.route.moving()) {
        for (uint32_t i = 0; i < n; ++i) {
            to_l[i] += l[i];
            to_r[i] += r[i];
        }
    } else {
        float* from_l = s.old_group >= 0 ? to.group[s.old_group][0] : to.master[0];
        float* from_r = s.old_group >= 0 ? to.group[s.old_group][1] : to.master[1];
        for (uint32_t i = 0; i < n; ++i) {
            const float w = s.route.next();
            to_l[i] += w * l[i];
            to_r[i] += w * r[i];
            from_l[i] += (1.0f - w) * l[i];
            from_r[i] += (1.0f - w) * r[i];
        }
    }
}

}  // namespace looprig::rt
