// The params table (shm_client.h): names, ranges, defaults and units of every
// mixer and effect parameter, shared by the engine's validation and clients.
#include "param_check.hpp"

#include <bit>
#include <cmath>
#include <cstddef>

namespace {

constexpr double kQ = 0.70710678118654752;  // Butterworth
constexpr double kOff = LR_LEVEL_OFF_DB;    // levels at or below this are silent

#define SLOT LR_TARGET_SLOT
#define GROUP LR_TARGET_GROUP
#define GLOBAL LR_TARGET_GLOBAL
#define CONT LR_KIND_CONTINUOUS
#define SWITCH LR_KIND_SWITCH
#define INDEX LR_KIND_INDEX
#define ZERO_OFF LR_PARAM_F_ZERO_OFF

const lr_param_desc kParams[] = {
    {LR_P_HP_ON, SLOT, SWITCH, 0, "hp-on", "", 0, 1, 0, "high-pass filter on/off"},
    {LR_P_HP_FREQ, SLOT, CONT, 0, "hp-freq", "Hz", 10, 20000, 80, "high-pass cutoff"},
    {LR_P_HP_Q, SLOT, CONT, 0, "hp-q", "Q", 0.1, 20, kQ, "high-pass resonance"},
    {LR_P_LP_ON, SLOT, SWITCH, 0, "lp-on", "", 0, 1, 0, "low-pass filter on/off"},
    {LR_P_LP_FREQ, SLOT, CONT, 0, "lp-freq", "Hz", 10, 20000, 8000, "low-pass cutoff"},
    {LR_P_LP_Q, SLOT, CONT, 0, "lp-q", "Q", 0.1, 20, kQ, "low-pass resonance"},
    {LR_P_EQ_ON, SLOT, SWITCH, 0, "eq-on", "", 0, 1, 1, "3-band EQ on/off"},
    {LR_P_EQ_LOW_FREQ, SLOT, CONT, 0, "eq-low-freq", "Hz", 10, 20000, 200, "low shelf frequency"},
    {LR_P_EQ_LOW_GAIN, SLOT, CONT, 0, "eq-low-gain", "dB", -24, 24, 0, "low shelf gain"},
    {LR_P_EQ_MID_FREQ, SLOT, CONT, 0, "eq-mid-freq", "Hz", 10, 20000, 1000, "mid (peaking) frequency"},
    {LR_P_EQ_MID_GAIN, SLOT, CONT, 0, "eq-mid-gain", "dB", -24, 24, 0, "mid gain"},
    {LR_P_EQ_MID_Q, SLOT, CONT, 0, "eq-mid-q", "Q", 0.1, 20, kQ, "mid bandwidth (Q)"},
    {LR_P_EQ_HIGH_FREQ, SLOT, CONT, 0, "eq-high-freq", "Hz", 10, 20000, 5000, "high shelf frequency"},
    {LR_P_EQ_HIGH_GAIN, SLOT, CONT, 0, "eq-high-gain", "dB", -24, 24, 0, "high shelf gain"},
    {LR_P_SEND1_LEVEL, SLOT, CONT, 0, "send1-level", "dB", kOff, 12, kOff, "send to bus 1 (delay); -120 = off"},
    {LR_P_SEND1_PRE, SLOT, SWITCH, 0, "send1-pre", "", 0, 1, 0, "send 1 pre-fader (1) or post-fader (0)"},
    {LR_P_SEND2_LEVEL, SLOT, CONT, 0, "send2-level", "dB", kOff, 12, kOff, "send to bus 2 (reverb); -120 = off"},
    {LR_P_SEND2_PRE, SLOT, SWITCH, 0, "send2-pre", "", 0, 1, 0, "send 2 pre-fader (1) or post-fader (0)"},
    {LR_P_GROUP, SLOT, INDEX, 0, "group", "", -1, LR_GROUPS - 1, -1, "group bus 0..7, -1 = straight to the master"},
    {LR_P_GAIN, SLOT, CONT, 0, "gain", "dB", -144, 24, 0, "slot level"},
    {LR_P_PAN, SLOT, CONT, 0, "pan", "", -1, 1, 0, "pan (balance for stereo loops): -1 left .. +1 right"},
    {LR_P_MUTE, SLOT, SWITCH, 0, "mute", "", 0, 1, 0, "mute"},
    {LR_P_SOLO, SLOT, SWITCH, 0, "solo", "", 0, 1, 0, "solo"},
    {LR_P_PITCH, SLOT, CONT, 0, "pitch", "st", -24, 24, 0, "pitch shift in semitones (fractions are cents)"},
    {LR_P_MODE, SLOT, INDEX, 0, "mode", "", 0, 1, 0, "0 = stretch (pitch kept), 1 = varispeed (pitch follows tempo)"},
    {LR_P_LOOP_BPM, SLOT, CONT, ZERO_OFF, "loop-bpm", "BPM", 20, 400, 0,
     "the loop's own tempo: it follows the master tempo (0 = not declared by tempo)"},
    {LR_P_LOOP_BEATS, SLOT, CONT, ZERO_OFF, "loop-beats", "beats", 0.25, 1024, 0,
     "the loop's length in beats: it follows the master tempo (0 = not declared by length)"},
    {LR_P_GROUP_GAIN, GROUP, CONT, 0, "group-gain", "dB", kOff, 12, 0, "group bus level"},
    {LR_P_GROUP_MUTE, GROUP, SWITCH, 0, "group-mute", "", 0, 1, 0, "group bus mute"},
    {LR_P_DELAY_BEATS, GLOBAL, CONT, 0, "delay-beats", "beats", 0, 16, 0.75,
     "delay time in beats of the master tempo; 0 = use delay-ms"},
    {LR_P_DELAY_MS, GLOBAL, CONT, 0, "delay-ms", "ms", 1, 10000, 375, "delay time in ms (sets delay-beats to 0)"},
    {LR_P_DELAY_FEEDBACK, GLOBAL, CONT, 0, "delay-feedback", "", 0, 0.95, 0.35, "echo feedback (linear gain)"},
    {LR_P_DELAY_LOWCUT, GLOBAL, CONT, 0, "delay-lowcut", "Hz", 10, 20000, 80, "high-pass in the feedback path"},
    {LR_P_DELAY_HIGHCUT, GLOBAL, CONT, 0, "delay-highcut", "Hz", 10, 20000, 8000, "low-pass in the feedback path"},
    {LR_P_DELAY_PINGPONG, GLOBAL, SWITCH, 0, "delay-pingpong", "", 0, 1, 0, "echoes alternate left and right"},
    {LR_P_DELAY_RETURN, GLOBAL, CONT, 0, "delay-return", "dB", kOff, 12, 0, "delay return level"},
    {LR_P_REVERB_DECAY, GLOBAL, CONT, 0, "reverb-decay", "s", 0.1, 30, 2.0, "reverb decay time (RT60)"},
    {LR_P_REVERB_DAMPING, GLOBAL, CONT, 0, "reverb-damping", "Hz", 500, 20000, 6000,
     "above this frequency the decay time is halved"},
    {LR_P_REVERB_PREDELAY, GLOBAL, CONT, 0, "reverb-predelay", "ms", 0, 250, 10, "reverb pre-delay"},
    {LR_P_REVERB_RETURN, GLOBAL, CONT, 0, "reverb-return", "dB", kOff, 12, 0, "reverb return level"},
    {LR_P_MASTER_GAIN, GLOBAL, CONT, 0, "master-gain", "dB", kOff, 12, 0, "master level"},
    {LR_P_LAUNCH_QUANTIZE, GLOBAL, INDEX, 0, "launch-quantize", "", LR_LAUNCH_NONE, LR_LAUNCH_8_BARS, LR_LAUNCH_BAR,
     "launch quantize of the GUI and controllers: 0 none, 1 beat, 2 bar, 3 2 bars, 4 4 bars, 5 8 bars"},
};

}  // namespace

extern "C" const lr_param_desc* lr_param_table(uint32_t* count) {
    *count = static_cast<uint32_t>(sizeof(kParams) / sizeof(kParams[0]));
    return kParams;
}

extern "C" const lr_param_desc* lr_param_info(uint32_t id) {
    for (const lr_param_desc& p : kParams)
        if (p.id == id) return &p;
    return nullptr;
}

namespace looprig::shm {

bool is_subnormal(double v) {
    const uint64_t bits = std::bit_cast<uint64_t>(v);
    return (bits & 0x7FF0000000000000ull) == 0 && (bits & 0x000FFFFFFFFFFFFFull) != 0;
}

int check_param_value(const lr_param_desc& p, double v, rt::Text& why) {
    if ((p.flags & LR_PARAM_F_ZERO_OFF) && v == 0.0 && !is_subnormal(v)) return LR_OK;
    if (!std::isfinite(v) || is_subnormal(v) || v < p.min || v > p.max) {
        why << p.name << " " << v << " is out of range (";
        if (p.flags & LR_PARAM_F_ZERO_OFF) why << "0 or ";
        why << p.min << ".." << p.max;
        if (p.unit[0]) why << " " << p.unit;
        why << ")";
        return LR_E_BAD_VALUE;
    }
    if (p.kind == LR_KIND_SWITCH && v != 0.0 && v != 1.0) {
        why << p.name << " " << v << " must be 0 or 1";
        return LR_E_BAD_VALUE;
    }
    if (p.kind == LR_KIND_INDEX && v != std::floor(v)) {
        why << p.name << " " << v << " must be a whole number";
        return LR_E_BAD_VALUE;
    }
    return LR_OK;
}

}  // namespace looprig::shm

extern "C" int lr_param_check(uint32_t id, double value, char* why, uint32_t why_len) {
    char scratch[1];
    looprig::rt::Text text(why && why_len ? why : scratch, why && why_len ? why_len : sizeof scratch);
    const lr_param_desc* p = lr_param_info(id);
    if (!p) {
        text << "unknown param " << id;
        return LR_E_BAD_VALUE;
    }
    return looprig::shm::check_param_value(*p, value, text);
}

extern "C" const char* lr_send_name(uint32_t bus) {
    switch (bus) {
        case LR_SEND_DELAY: return "delay";
        case LR_SEND_REVERB: return "reverb";
        default: return nullptr;
    }
}
