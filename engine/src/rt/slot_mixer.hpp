// A slot's channel in the mixer: the mapping of its params and settings to
// DSP (filters and EQ, send levels pre/post, group bus, gain, pan, mute,
// solo), and the mixing of what it played through the strip, its sends and
// its fader into its bus. Owns SlotStrip (a slot's mixer state: the params
// in force, the strip, the gain/pan/audibility/send/route ramps) and
// SlotMixer (the rules). Every function but prepare() runs on the audio
// thread and is RT safe (no allocation, locks, blocking, I/O); each says so.
#pragma once

#include "bus_mixer.hpp"
#include "channel_strip.hpp"
#include "dsp.hpp"
#include "looprig/shm_layout.h"

#include <cstdint>
#include <vector>

namespace looprig::rt {

struct Meter;
struct Slot;

/// A slot's mixer state.
struct SlotStrip {
    double gain_db = 0.0;
    double pan = 0.0;
    bool mute = false;
    bool solo = false;
    dsp::Ramp gain[2];                  // gain * pan law * audibility, per channel
    double params[LR_SLOT_PARAMS] = {}; // every slot param's value in force (published as float; sessions save it exact)
    bool params_dirty = true;
    StripSettings settings;
    ChannelStrip eq;
    bool eq_idle = true;                // states cleared while the slot is silent
    dsp::Ramp audible;                  // mute/solo alone: pre-fader sends follow it
    dsp::Ramp send_pre[LR_SENDS];       // linear send gains (by lr_send_bus); one of each pair is 0
    dsp::Ramp send_post[LR_SENDS];
    int32_t group = -1;                 // the bus it feeds (-1 = master)
    int32_t old_group = -1;             // the bus it fades out of after a change
    dsp::Ramp route;                    // 0..1: share of `group` against `old_group`
};

class SlotMixer {
public:
    SlotMixer(uint32_t sample_rate, uint32_t smooth_frames, uint32_t declick_frames, double pan_law_db)
        : sample_rate_(sample_rate), smooth_frames_(smooth_frames), declick_frames_(declick_frames),
          pan_law_db_(pan_law_db) {}

    /// Prepare the strip's filters and put its gains at their targets. Not RT safe.
    void prepare(SlotStrip& s);

    /// Gain/mute/solo ramp length (LR_CMD_DECLICK). RT safe.
    void set_declick_frames(uint32_t frames) { declick_frames_ = frames; }

    /// Set strip param `id` (filters, EQ, sends, group: ids below
    /// LR_P_GAIN) of a slot to v (validated), ramped over the smoothing
    /// time unless `immediate`. RT safe.
    void set_param(SlotStrip& s, uint32_t id, double v, bool immediate);
    /// Every strip param (ids below LR_P_GAIN, `params` indexed by id) at
    /// once, no ramps: a session's slot installed. RT safe.
    void restore_params(SlotStrip& s, const double* params);
    /// A level setting (LR_P_GAIN, LR_P_PAN, LR_P_MUTE, LR_P_SOLO) into the
    /// strip; false for any other id. The caller then updates the gain
    /// targets of every slot (a solo changes them all). RT safe.
    static bool set_level(SlotStrip& s, uint32_t id, double v);
    /// Send gains from the send params (by lr_send_bus). RT safe.
    void update_sends(SlotStrip& s, uint32_t ramp);
    /// Move a slot to another bus (-1 = master), crossfading out of the old one. RT safe.
    static void assign_group(SlotStrip& s, int32_t group, uint32_t ramp);

    /// Gains from gain, pan (the pan law of a source of `channels`), mute and
    /// solo (`any_solo`: some slot is soloed), ramped over the declick time. RT safe.
    void update_gain_targets(SlotStrip& s, uint32_t channels, bool any_solo);
    /// update_gain_targets() of every slot (a solo changes them all). RT safe.
    void update_all_gain_targets(std::vector<Slot>& slots);
    /// Some slot is soloed. RT safe.
    static bool any_solo(const std::vector<Slot>& slots);

    /// Advance a silent slot's ramps by n frames; its filters start from
    /// silence next time. RT safe.
    static void skip(SlotStrip& s, uint32_t n);
    /// Mix what the slot played (l/r, n frames, changed in place) through its
    /// strip, pre-fader sends, fader (into `meter` and the slot outs when not
    /// null), post-fader sends and into its group bus or the master. RT safe.
    static void mix(SlotStrip& s, float* l, float* r, uint32_t n, const BusInputs& to, float* slot_l, float* slot_r,
                    Meter& meter);

private:
    enum class ParamKind { kStrip, kGroup, kSend };
    /// Store strip param `id` in the strip and its settings; what else it needs. RT safe.
    static ParamKind store_param(SlotStrip& s, uint32_t id, double v);

    uint32_t sample_rate_;
    uint32_t smooth_frames_;  // ramp of param changes
    uint32_t declick_frames_;
    double pan_law_db_;       // mono sources' pan law (centre gain, dB)
};

}  // namespace looprig::rt
