// Everything in this file runs on the audio thread (except construction and
// destruction) and is RT safe: no allocation, locks, blocking, I/O or logging.
#include "audio_core.hpp"

#include "channel_strip.hpp"
#include "command.hpp"
#include "reverb.hpp"
#include "stereo_delay.hpp"
#include "looprig/shm_client.h"
#include "dsp.hpp"
#include "musical_grid.hpp"
#include "ring.hpp"
#include "rt_text.hpp"
#include "schedule.hpp"
#include "segment.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numbers>
#include <ctime>
#include <vector>

namespace looprig {

using shm::RingConsumer;
using shm::RingProducer;
using shm::load_acquire;
using shm::store_release;
using shm::store_release64;

namespace {

constexpr uint32_t kCommandsPerPeriod = 64;  // bounds the time spent on commands
constexpr double kRmsWindowSeconds = 0.3;

uint64_t monotonic_nsecs() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);  // vDSO: no system call, RT safe
    return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

/// One playback of a sample from `origin` (the frame where its frame 0 plays).
struct Voice {
    Sample* sample = nullptr;
    uint64_t origin = 0;       // not grid-locked: frame where loop frame 0 played
    bool grid_locked = false;  // following the master tempo: phase from the grid
    double start_beat = 0.0;   // grid-locked: master beat where loop frame 0 played
    double beats = 0.0;        // grid-locked: loop length in beats
    dsp::Ramp env;
    bool releasing = false;
    bool active() const { return sample != nullptr; }
};

/// 4-point, 3rd-order Hermite interpolation between y1 and y2. RT safe.
inline float hermite(float y0, float y1, float y2, float y3, float t) {
    const float c1 = 0.5f * (y2 - y0);
    const float c2 = y0 - 2.5f * y1 + 2.0f * y2 - 0.5f * y3;
    const float c3 = 0.5f * (y3 - y0) + 1.5f * (y1 - y2);
    return ((c3 * t + c2) * t + c1) * t + y1;
}

/// Both channels of a looping sample at fractional position pos (0 <= pos <
/// frames), Hermite-interpolated across the loop point. RT safe.
inline void hermite_at(const float* const in[2], int64_t length, double pos, float* l, float* r) {
    const double fl = std::floor(pos);
    const auto i1 = static_cast<int64_t>(fl) % length;
    const auto t = static_cast<float>(pos - fl);
    const int64_t i0 = i1 == 0 ? length - 1 : i1 - 1;
    const int64_t i2 = i1 + 1 == length ? 0 : i1 + 1;
    const int64_t i3 = i2 + 1 == length ? 0 : i2 + 1;
    *l = hermite(in[0][i0], in[0][i1], in[0][i2], in[0][i3], t);
    *r = hermite(in[1][i0], in[1][i1], in[1][i2], in[1][i3], t);
}

/// Peak hold: the largest period peak seen in the last hold time; when that
/// peak is older than the hold time the display drops to the current peak.
struct PeakHold {
    float value = 0.0f;
    uint64_t age = 0;  // frames since `value` was seen
    void update(float peak, uint32_t nframes, uint64_t hold_frames) {
        if (peak >= value || age >= hold_frames) {
            value = peak;
            age = 0;
        } else {
            age += nframes;
        }
    }
};
constexpr double kPeakHoldSeconds = 2.0;

struct Meter {
    PeakHold hold[2];
    float peak[2] = {0, 0};
    double mean_square[2] = {0, 0};
    double block_sum[2] = {0, 0};
    void accumulate(float l, float r) {
        peak[0] = std::max(peak[0], std::fabs(l));
        peak[1] = std::max(peak[1], std::fabs(r));
        block_sum[0] += static_cast<double>(l) * l;
        block_sum[1] += static_cast<double>(r) * r;
    }
    /// Fold this period into the 300 ms window and the peak hold; peak is per period.
    void finish(uint32_t nframes, double coeff, uint64_t hold_frames) {
        for (int c = 0; c < 2; ++c) {
            hold[c].update(peak[c], nframes, hold_frames);
            const double block_ms = nframes ? block_sum[c] / nframes : 0.0;
            mean_square[c] = coeff * mean_square[c] + (1.0 - coeff) * block_ms;
            if (mean_square[c] < 1e-30) mean_square[c] = 0.0;  // no denormals
        }
    }
    void reset_hold() { hold[0] = hold[1] = PeakHold{}; }
    /// Publish into an lr_bus_meter.
    void to(lr_bus_meter& m) const {
        for (int c = 0; c < 2; ++c) {
            m.peak[c] = peak[c];
            m.rms[c] = static_cast<float>(std::sqrt(mean_square[c]));
            m.peak_hold[c] = hold[c].value;
        }
    }
    void begin_period() {
        peak[0] = peak[1] = 0;
        block_sum[0] = block_sum[1] = 0;
    }
};

struct Slot {
    Sample* sample = nullptr;
    Voice main;   // what plays
    Voice tail;   // what fades out after a stop, retrigger or swap
    bool playing = false;
    uint64_t start_frame = 0;
    double gain_db = 0.0;
    double pan = 0.0;
    bool mute = false;
    bool solo = false;
    dsp::Ramp gain[2];  // gain * pan law * audibility, per channel
    uint32_t pending_starts = 0;
    uint32_t pending_stops = 0;
    uint64_t pre_roll_for = 0;  // the start frame the main voice is pre-rolling into (0 = none)
    bool grid_valid = false;  // for quantize slot:K
    uint64_t grid_origin = 0;
    Meter meter;
    uint64_t playhead = 0;
    bool info_dirty = true;
    lr_slot_info info{};
    // Musical time: what the user declared, and the steady-state render.
    double declared_bpm = 0.0;    // LOOP_TEMPO by BPM
    double declared_beats = 0.0;  // LOOP_TEMPO by length in beats
    double loop_beats = 0.0;      // > 0: follows the master tempo
    double pitch = 0.0;           // semitones
    uint32_t mode = LR_MODE_STRETCH;
    Sample* render = nullptr;     // the render (possibly stale while a new one is made)
    uint64_t render_frames = 0;   // what `render` was made for
    double render_pitch = 1.0;
    uint64_t render_load = 0;     // info.load_count of the source it was made from
    uint32_t render_gen = 0;
    bool render_needed = false;
    bool render_ready = false;
    bool render_wanted = false;   // a request still has to be queued
    // Interim pitch shift while a pitch render is pending (delay-line shifter).
    float* shift_buf[2] = {nullptr, nullptr};
    uint32_t shift_write = 0;
    double shift_delay = 0.0;
    dsp::Ramp shift_wet;
    // Mixer: filters and EQ, sends, group bus.
    float params[LR_SLOT_PARAMS] = {};  // the values in force, as published
    bool params_dirty = true;
    rt::StripSettings strip;
    rt::ChannelStrip eq;
    bool eq_idle = true;                // states cleared while the slot is silent
    dsp::Ramp audible;                  // mute/solo alone: pre-fader sends follow it
    dsp::Ramp send_pre[LR_SENDS];       // linear send gains; one of each pair is 0
    dsp::Ramp send_post[LR_SENDS];
    int32_t group = -1;                 // the bus it feeds (-1 = master)
    int32_t old_group = -1;             // the bus it fades out of after a change
    dsp::Ramp route;                    // 0..1: share of `group` against `old_group`
};

/// Delay lines of the interim pitch shifter: 2048 frames (43 ms at 48 kHz).
constexpr uint32_t kShiftWindow = 2048;

/// Doppler pitch shifter: two taps half a window apart sweep through a delay
/// line at (1 - ratio) frames per frame, with sine gains that are zero where a
/// tap wraps. Cheap and immediate; used only until the render of a new
/// pitch arrives. RT safe.
/// sin(pi * k / kShiftTable) for k = 0..kShiftTable: the taps' gains, looked up
/// instead of computed per frame.
constexpr uint32_t kShiftTable = 1024;
struct ShiftGains {
    float table[kShiftTable + 1];
    ShiftGains() {
        for (uint32_t k = 0; k <= kShiftTable; ++k)
            table[k] = static_cast<float>(std::sin(std::numbers::pi * k / kShiftTable));
    }
    /// Gain of a tap at delay d in [0, window). RT safe.
    float at(double d) const {
        const double x = d * (static_cast<double>(kShiftTable) / kShiftWindow);
        const auto k = static_cast<uint32_t>(x);
        const auto t = static_cast<float>(x - k);
        return table[k] + t * (table[k + 1] - table[k]);
    }
};
const ShiftGains kShiftGains;

void shift_pitch(Slot& s, float* l, float* r, uint32_t n, double ratio) {
    constexpr double w = kShiftWindow;
    constexpr uint32_t mask = kShiftWindow - 1;
    float* bl = s.shift_buf[0];
    float* br = s.shift_buf[1];
    for (uint32_t i = 0; i < n; ++i) {
        const float wet = s.shift_wet.next();
        bl[s.shift_write] = l[i];
        br[s.shift_write] = r[i];
        double d2 = s.shift_delay + w / 2;
        if (d2 >= w) d2 -= w;
        float out_l = 0.0f, out_r = 0.0f;
        for (const double d : {s.shift_delay, d2}) {
            // Constant-power (sine) gains: the two taps are mostly uncorrelated.
            const float g = kShiftGains.at(d);
            const double pos = static_cast<double>(s.shift_write) - d + w;
            const auto i0 = static_cast<uint32_t>(pos);
            const auto t = static_cast<float>(pos - static_cast<double>(i0));
            const uint32_t a = i0 & mask, b = (i0 + 1) & mask;
            out_l += g * (bl[a] + t * (bl[b] - bl[a]));
            out_r += g * (br[a] + t * (br[b] - br[a]));
        }
        l[i] += wet * (out_l - l[i]);
        r[i] += wet * (out_r - r[i]);
        s.shift_write = (s.shift_write + 1) & mask;
        s.shift_delay += 1.0 - ratio;
        if (s.shift_delay < 0.0) s.shift_delay += w;
        if (s.shift_delay >= w) s.shift_delay -= w;
    }
}

struct ClientView {
    RingConsumer<lr_command> commands;
    RingProducer<lr_event> events;
    uint64_t event_seq = 0;
};

}  // namespace

struct AudioCore::Impl {
    shm::Segment& segment;
    lr_header* header;
    lr_meter_header* meter_header;
    lr_slot_meter* slot_meters;
    lr_slot_info* slot_infos;
    lr_mix_meter* mix_meter;
    lr_slot_params* slot_params;
    std::vector<Slot> slots;
    ClientView clients[LR_MAX_CLIENTS];
    rt::Schedule schedule;
    rt::MusicalGrid grid;
    bool grid_started = false;
    uint32_t last_nframes = 0;
    bool paused = false;            // following a stopped JACK transport: followers are silent
    bool transport_rolling = false;

    /// Transport follow: take tempo, meter and beat position from the JACK
    /// transport for this period. RT safe.
    void follow_transport() {
        const TransportInfo& t = owner->transport_;
        transport_rolling = t.rolling;
        paused = !t.rolling;
        if (!t.rolling) return;
        const double bpm = t.bbt_valid ? t.bpm : grid.bpm();
        const double bpb = t.bbt_valid ? t.beats_per_bar : grid.beats_per_bar();
        const double beat = t.bbt_valid ? t.beat : static_cast<double>(t.frame) * bpm / (60.0 * grid.sample_rate());
        const bool tempo_changed = std::fabs(std::clamp(bpm, rt::MusicalGrid::kMinBpm, rt::MusicalGrid::kMaxBpm) -
                                             grid.bpm()) > 1e-9;
        grid.set_position(frame0, beat, bpm, static_cast<uint32_t>(std::lround(bpb)));
        if (tempo_changed)
            for (uint32_t i = 0; i < slots.size(); ++i)
                if (slots[i].loop_beats > 0.0) refresh_render(slots[i], static_cast<int32_t>(i), frame0);
    }
    std::vector<float> scratch[2];
    std::vector<float> shift_storage;  // the interim pitch shifters' delay lines
    Meter master_meter;
    // Mixer: buses, effects, params.
    uint32_t smooth_frames = 0;        // ramp of param changes
    uint64_t hold_frames = 0;          // peak hold time
    std::vector<float> bus_storage;    // one period per bus channel
    uint32_t bus_dirty_frames = 0;     // frames of every bus that may not be zero (idle: 0, no clearing)
    float* group_buf[LR_GROUPS][2] = {};
    float* send_buf[LR_SENDS][2] = {};
    float* return_buf[LR_SENDS][2] = {};
    dsp::Ramp group_gain[LR_GROUPS];
    dsp::Ramp return_gain[LR_SENDS];
    dsp::Ramp master_gain;
    Meter group_meter[LR_GROUPS];
    Meter send_meter[LR_SENDS];
    Meter return_meter[LR_SENDS];
    float group_params[LR_GROUPS][LR_GROUP_PARAMS] = {};
    float global_params[LR_GLOBAL_PARAMS] = {};
    double delay_beats = 0.0;          // > 0: tempo-synced
    double delay_ms = 0.0;
    uint32_t delay_max_frames = 1;
    rt::StereoDelay delay;
    rt::Reverb reverb;
    /// An effect sleeps (is not run) once its send bus has been silent and its
    /// output below kFxSilence for longer than it remembers (the delay: its
    /// time + 100 ms; the reverb: 1 s > pre-delay + lines + diffusers), so
    /// nothing is left inside it; input wakes it at once.
    struct FxSleep {
        uint64_t quiet_frames = 0;
        bool asleep = false;
    };
    FxSleep fx_sleep[LR_SENDS];
    uint64_t fx_sleep_frames = 4800;
    uint64_t reverb_memory_frames = 48000;
    static constexpr float kFxSilence = 1e-7f;  // -140 dBFS
    LoudnessBlock loudness_block;      // filling; handed over when full
    uint32_t loudness_dropped = 0;
    uint64_t loudness_quiet_frames = 0;  // silent master frames in a row, in whole blocks
    uint64_t loudness_skipped = 0;       // silent frames not handed over since the last block
    uint32_t declick_frames = 0;
    double pan_law_db = -3.0;      // mono sources' pan law (centre gain, dB)
    uint32_t client_cursor = 0;
    uint64_t period = 0;
    uint64_t frame0 = 0;           // first frame of the current period
    float last_load = 0.0f;
    float max_load = 0.0f;
    lr_command command{};          // the command being handled, copied out of its ring
    char message[LR_MESSAGE_MAX] = {};
    AudioCore* owner = nullptr;

    Impl(shm::Segment& seg, const CoreConfig& cfg)
        : segment(seg),
          header(seg.header()),
          meter_header(seg.meter_header()),
          slot_meters(seg.slot_meters()),
          slot_infos(seg.slot_infos()),
          mix_meter(seg.mix_meter()),
          slot_params(seg.slot_params()),
          slots(cfg.slot_count),
          schedule(cfg.schedule_capacity),
          declick_frames(cfg.declick_frames),
          pan_law_db(cfg.pan_law_db) {
        scratch[0].assign(cfg.max_frames, 0.0f);
        scratch[1].assign(cfg.max_frames, 0.0f);
        shift_storage.assign(static_cast<std::size_t>(cfg.slot_count) * 2 * kShiftWindow, 0.0f);
        for (uint32_t i = 0; i < cfg.slot_count; ++i) {
            slots[i].shift_buf[0] = shift_storage.data() + static_cast<std::size_t>(i) * 2 * kShiftWindow;
            slots[i].shift_buf[1] = slots[i].shift_buf[0] + kShiftWindow;
        }
        for (uint32_t i = 0; i < LR_MAX_CLIENTS; ++i) {
            lr_client_slot* c = seg.client(i);
            clients[i].commands = RingConsumer<lr_command>(&c->cmd, c->commands, LR_CMD_RING_SIZE);
            clients[i].events = RingProducer<lr_event>(&c->evt, c->events, LR_EVT_RING_SIZE);
        }
        for (auto& s : slots) {
            update_gain_targets(s, false);
            s.gain[0].jump(s.gain[0].target);
            s.gain[1].jump(s.gain[1].target);
            s.audible.jump(s.audible.target);
        }
        header->declick_frames = declick_frames;

        smooth_frames = cfg.smooth_frames;
        header->smooth_frames = smooth_frames;
        hold_frames = static_cast<uint64_t>(kPeakHoldSeconds * cfg.sample_rate);
        const std::size_t period = cfg.max_frames;
        bus_storage.assign((LR_GROUPS + 2 * LR_SENDS) * 2 * period, 0.0f);
        float* next = bus_storage.data();
        auto take = [&](float* (&pair)[2]) {
            pair[0] = next;
            pair[1] = next + period;
            next += 2 * period;
        };
        for (auto& g : group_buf) take(g);
        for (auto& b : send_buf) take(b);
        for (auto& b : return_buf) take(b);
        delay_max_frames = static_cast<uint32_t>(cfg.max_delay_seconds * cfg.sample_rate);
        fx_sleep_frames = cfg.sample_rate / 10;  // 100 ms beyond the delay time
        reverb_memory_frames = cfg.sample_rate;  // 1 s
        delay.prepare(cfg.sample_rate, delay_max_frames, smooth_frames);
        reverb.prepare(cfg.sample_rate, smooth_frames);
        for (auto& s : slots) s.eq.prepare(cfg.sample_rate, smooth_frames);
        // Every param at its default, at once.
        uint32_t count = 0;
        const lr_param_desc* table = lr_param_table(&count);
        for (uint32_t k = 0; k < count; ++k) {
            const lr_param_desc& p = table[k];
            if (p.target == LR_TARGET_SLOT)
                for (uint32_t i = 0; i < cfg.slot_count; ++i) set_param(p.id, static_cast<int32_t>(i), p.def, true);
            else if (p.target == LR_TARGET_GROUP)
                for (int32_t g = 0; g < LR_GROUPS; ++g) set_param(p.id, g, p.def, true);
            else
                set_param(p.id, 0, p.def, true);
        }
        // Setting delay-ms switched the delay to ms; the default is synced (delay-beats).
        delay_beats = lr_param_info(LR_P_DELAY_BEATS)->def;
        global_params[LR_P_DELAY_BEATS - LR_P_GLOBAL_BASE] = static_cast<float>(delay_beats);
        delay.set_delay_frames(delay_frames_now(cfg.sample_rate));
        delay.reset();
    }

    // ---- mixer params (audio thread; the constructor sets the defaults) ----
    static float level_gain(double db) { return db <= LR_LEVEL_OFF_DB ? 0.0f : static_cast<float>(dsp::db_to_gain(db)); }

    /// Set param `id` of slot/group `index` (ignored for global params) to v
    /// at frame `at`, ramped over smooth_frames unless `immediate`. v is
    /// already validated. RT safe.
    void set_param(uint32_t id, int32_t index, double v, bool immediate, uint64_t at = 0) {
        const uint32_t ramp = immediate ? 0 : smooth_frames;
        if (id >= LR_P_GAIN && id < LR_P_SLOT_END) {
            Slot& s = slots[static_cast<uint32_t>(index)];
            if (assign_slot_setting(s, id, v)) refresh_render(s, index, at);
            return;
        }
        if (id < LR_P_SLOT_END) {
            Slot& s = slots[static_cast<uint32_t>(index)];
            s.params[id] = static_cast<float>(v);
            s.params_dirty = true;
            rt::StripSettings& st = s.strip;
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
                case LR_P_GROUP: assign_group(s, static_cast<int32_t>(v), ramp); return;
                default: update_sends(s, ramp); return;  // send levels and pre/post
            }
            if (immediate) s.eq.set_immediately(st);
            else s.eq.set(st);
            return;
        }
        if (id >= LR_P_GROUP_BASE && id < LR_P_GROUP_END) {
            group_params[index][id - LR_P_GROUP_BASE] = static_cast<float>(v);
            const bool muted = group_params[index][LR_P_GROUP_MUTE - LR_P_GROUP_BASE] != 0.0f;
            group_gain[index].set(muted ? 0.0f : level_gain(group_params[index][LR_P_GROUP_GAIN - LR_P_GROUP_BASE]),
                                  ramp);
            return;
        }
        global_params[id - LR_P_GLOBAL_BASE] = static_cast<float>(v);
        switch (id) {
            case LR_P_DELAY_BEATS: delay_beats = v; break;
            case LR_P_DELAY_MS:
                delay_ms = v;
                delay_beats = 0.0;
                global_params[LR_P_DELAY_BEATS - LR_P_GLOBAL_BASE] = 0.0f;
                break;
            case LR_P_DELAY_FEEDBACK: delay.set_feedback(v); break;
            case LR_P_DELAY_LOWCUT: delay.set_lowcut(v); break;
            case LR_P_DELAY_HIGHCUT: delay.set_highcut(v); break;
            case LR_P_DELAY_PINGPONG: delay.set_pingpong(v != 0.0); break;
            case LR_P_DELAY_RETURN: return_gain[0].set(level_gain(v), ramp); break;
            case LR_P_REVERB_DECAY: reverb.set_decay(v); break;
            case LR_P_REVERB_DAMPING: reverb.set_damping(v); break;
            case LR_P_REVERB_PREDELAY: reverb.set_predelay_ms(v); break;
            case LR_P_REVERB_RETURN: return_gain[1].set(level_gain(v), ramp); break;
            case LR_P_MASTER_GAIN: master_gain.set(level_gain(v), ramp); break;
            default: break;
        }
    }
    /// A slot's level or timing setting (LR_P_GAIN .. LR_P_LOOP_BEATS), from
    /// its param or the equivalent command (LR_CMD_GAIN .. LR_CMD_MODE,
    /// LR_CMD_LOOP_TEMPO); published in the slot's params. Levels ramp over
    /// the declick time. Returns true if the slot's timing changed (the
    /// caller then refreshes its render once). RT safe.
    bool assign_slot_setting(Slot& s, uint32_t id, double v) {
        s.params[id] = static_cast<float>(v);
        s.params_dirty = true;
        switch (id) {
            case LR_P_GAIN: s.gain_db = v; break;
            case LR_P_PAN: s.pan = v; break;
            case LR_P_MUTE: s.mute = v != 0.0; break;
            case LR_P_SOLO: s.solo = v != 0.0; break;
            case LR_P_PITCH: s.pitch = v; return true;
            case LR_P_MODE: s.mode = static_cast<uint32_t>(v); return true;
            case LR_P_LOOP_BPM:
            case LR_P_LOOP_BEATS: {
                // Declared by tempo or by length: setting one (non-zero) clears the other.
                const bool by_bpm = id == LR_P_LOOP_BPM;
                (by_bpm ? s.declared_bpm : s.declared_beats) = v;
                if (v > 0.0) {
                    (by_bpm ? s.declared_beats : s.declared_bpm) = 0.0;
                    s.params[by_bpm ? LR_P_LOOP_BEATS : LR_P_LOOP_BPM] = 0.0f;
                }
                update_loop_beats(s);
                return true;
            }
            default: return false;
        }
        update_all_gain_targets();
        return false;
    }
    void update_sends(Slot& s, uint32_t ramp) {
        for (uint32_t k = 0; k < LR_SENDS; ++k) {
            const float g = level_gain(s.params[LR_P_SEND1_LEVEL + 2 * k]);
            const bool pre = s.params[LR_P_SEND1_PRE + 2 * k] != 0.0f;
            s.send_pre[k].set(pre ? g : 0.0f, ramp);
            s.send_post[k].set(pre ? 0.0f : g, ramp);
        }
    }
    /// Move a slot to another bus, crossfading out of the old one.
    static void assign_group(Slot& s, int32_t g, uint32_t ramp) {
        s.params[LR_P_GROUP] = static_cast<float>(g);
        if (g == s.group) return;
        s.old_group = s.group;
        s.group = g;
        s.route.jump(ramp ? 0.0f : 1.0f);
        s.route.set(1.0f, ramp);
    }
    /// The delay time in frames now (tempo-synced or in ms), within the line. RT safe.
    uint32_t delay_frames_now(double sample_rate) const {
        const double frames = delay_beats > 0.0 ? delay_beats * grid.frames_per_beat() : delay_ms * sample_rate / 1000.0;
        return static_cast<uint32_t>(std::clamp(std::llround(frames), 1LL, static_cast<long long>(delay_max_frames)));
    }

    // ---- sample references (audio thread only) ----
    static void retain(Sample* s) {
        if (s) ++s->rt_refs;
    }
    void release(Sample* s) {
        if (s && --s->rt_refs == 0) {
            // Sized so that it cannot fill: every live sample fits at once.
            owner->garbage_.push(s);
        }
    }
    void drop_voice(Voice& v) {
        release(v.sample);
        v.sample = nullptr;
        v.releasing = false;
    }
    /// Fade the main voice out as the tail (cutting an older tail). RT safe.
    void main_to_tail(Slot& s) {
        if (!s.main.active()) return;
        if (s.tail.active()) drop_voice(s.tail);
        s.tail = s.main;
        s.main.sample = nullptr;
        s.tail.releasing = true;
        s.tail.env.set(0.0f, declick_frames);
        if (declick_frames == 0) drop_voice(s.tail);
    }
    void start_main(Slot& s, Sample* sample, uint64_t origin) {
        s.main.sample = sample;
        retain(sample);
        s.main.origin = origin;
        s.main.grid_locked = false;
        s.main.releasing = false;
        s.main.env.jump(declick_frames == 0 ? 1.0f : 0.0f);
        s.main.env.set(1.0f, declick_frames);
    }

    // ---- musical time ----
    /// What the slot plays now: its render when stretching, else the loaded audio.
    static Sample* play_buffer(const Slot& s) {
        return (s.render_needed && s.render) ? s.render : s.sample;
    }
    /// Output frames of one loop cycle (non-integer when following some tempos).
    double cycle_frames(const Slot& s) const {
        return s.loop_beats > 0.0 ? s.loop_beats * grid.frames_per_beat() : static_cast<double>(s.sample->frames);
    }
    /// Frequency multiplier of the slot's pitch setting.
    static double pitch_scale(const Slot& s) { return std::pow(2.0, s.pitch / 12.0); }
    uint64_t target_frames(const Slot& s) const {
        return std::max<uint64_t>(1, static_cast<uint64_t>(std::llround(cycle_frames(s))));
    }
    /// Loop phase (0..1) of a voice at frame f.
    double voice_phase(const Voice& v, uint64_t f) const {
        double phase;
        if (v.grid_locked) phase = (grid.beat_at(f) - v.start_beat) / v.beats;
        else phase = static_cast<double>((f - v.origin) % v.sample->frames) / static_cast<double>(v.sample->frames);
        return phase - std::floor(phase);
    }
    /// Derive loop_beats from what was declared and the loaded length.
    void update_loop_beats(Slot& s) {
        if (s.declared_beats > 0.0) {
            s.loop_beats = s.declared_beats;
        } else if (s.declared_bpm > 0.0 && s.sample) {
            const double beats = static_cast<double>(s.sample->frames) * s.declared_bpm / (60.0 * grid.sample_rate());
            const double whole = std::nearbyint(beats);
            // A loop cut to the beat is declared by its tempo: snap to whole beats.
            s.loop_beats = (whole >= 1.0 && std::fabs(beats - whole) < 0.02 * whole) ? whole : beats;
        } else {
            s.loop_beats = 0.0;
        }
    }
    /// Play `buffer` on the main voice from frame f on, at the same loop phase,
    /// following the grid or not as the slot says (crossfaded by the declick ramp).
    void rebind_main(Slot& s, Sample* buffer, uint64_t f) {
        if (!s.main.active() || s.main.releasing || !buffer) return;
        const double phase = voice_phase(s.main, f);
        const bool follow = s.loop_beats > 0.0;
        if (s.main.sample == buffer && s.main.grid_locked == follow &&
            (!follow || s.main.beats == s.loop_beats))
            return;
        main_to_tail(s);
        start_main(s, buffer, f);
        if (follow) {
            s.main.grid_locked = true;
            s.main.beats = s.loop_beats;
            s.main.start_beat = grid.beat_at(f) - phase * s.loop_beats;
        } else {
            const auto idx = static_cast<uint64_t>(std::llround(phase * static_cast<double>(buffer->frames))) %
                             buffer->frames;
            s.main.origin = f - idx;
        }
    }
    /// Work out whether the slot needs a render and ask for one if its current
    /// render does not fit any more; keep playing meanwhile. RT safe.
    void refresh_render(Slot& s, int32_t index, uint64_t f) {
        if (!s.sample) {
            release(s.render);
            s.render = nullptr;
            s.render_needed = s.render_ready = s.render_wanted = false;
            return;
        }
        const uint64_t target = target_frames(s);
        const double scale = pitch_scale(s);
        s.render_needed = s.mode == LR_MODE_STRETCH && (target != s.sample->frames || s.pitch != 0.0);
        if (s.render && s.render_load != s.info.load_count) {  // made from audio no longer loaded
            rebind_main(s, s.sample, f);
            release(s.render);
            s.render = nullptr;
        }
        if (!s.render_needed) {
            rebind_main(s, s.sample, f);
            release(s.render);
            s.render = nullptr;
            s.render_ready = s.render_wanted = false;
            owner->render_generations_[static_cast<uint32_t>(index)].store(++s.render_gen, std::memory_order_release);
        } else if (s.render && s.render_frames == target && s.render_pitch == scale) {
            s.render_ready = true;
            s.render_wanted = false;
        } else {
            s.render_ready = false;
            s.render_wanted = true;
            owner->render_generations_[static_cast<uint32_t>(index)].store(++s.render_gen, std::memory_order_release);
            request_render(s, index);
        }
        rebind_main(s, play_buffer(s), f);
    }
    void request_render(Slot& s, int32_t index) {
        RenderRequest req;
        req.slot = index;
        req.generation = s.render_gen;
        req.source = s.sample;
        req.target_frames = target_frames(s);
        req.pitch_scale = pitch_scale(s);
        retain(s.sample);
        if (owner->render_requests_.push(req)) {
            s.render_wanted = false;
        } else {
            release(s.sample);  // queue full: asked again next period
        }
    }
    /// Take finished renders; install those still wanted. RT safe.
    void install_renders() {
        RenderAnswer a;
        while (owner->render_answers_.pop_into(&a)) {
            Slot& s = slots[static_cast<uint32_t>(a.slot)];
            const bool current = a.generation == s.render_gen && a.source == s.sample && s.render_needed;
            release(a.source);
            if (!a.render) {
                // The renderer refused (e.g. a ratio beyond 1/8..8): stay varispeed, say so in the meters.
                if (current) s.render_needed = false;
                continue;
            }
            if (!current) {
                owner->garbage_.push(a.render);
                continue;
            }
            retain(a.render);
            Sample* old = s.render;
            s.render = a.render;
            s.render_frames = a.target_frames;
            s.render_pitch = a.pitch_scale;
            s.render_load = s.info.load_count;
            s.render_ready = true;
            rebind_main(s, s.render, frame0);
            release(old);
        }
        for (uint32_t i = 0; i < slots.size(); ++i)
            if (slots[i].render_wanted) request_render(slots[i], static_cast<int32_t>(i));
    }

    bool any_solo() const {
        for (const auto& s : slots)
            if (s.solo) return true;
        return false;
    }
    void update_gain_targets(Slot& s, bool any_soloed_now) {
        const bool audible = !s.mute && (!any_soloed_now || s.solo);
        const double g = audible ? dsp::db_to_gain(s.gain_db) : 0.0;
        double pl = 0, pr = 0;
        dsp::pan_gains(s.pan, s.sample ? s.sample->channels : 2, pan_law_db, &pl, &pr);
        s.gain[0].set(static_cast<float>(g * pl), declick_frames);
        s.gain[1].set(static_cast<float>(g * pr), declick_frames);
        s.audible.set(audible ? 1.0f : 0.0f, declick_frames);
    }
    void update_all_gain_targets() {
        const bool soloed = any_solo();
        for (auto& s : slots) update_gain_targets(s, soloed);
    }

    // ---- events to clients ----
    void reply(uint32_t client, const lr_command& cmd, int type, int code, uint64_t frame, const char* text,
               double v0 = 0.0, double v1 = 0.0) {
        send_event(client, cmd.id, static_cast<uint16_t>(type), cmd.type, cmd.slot, code, frame, text, v0, v1);
    }
    bool send_event(uint32_t client, uint32_t id, uint16_t type, uint16_t command, int32_t slot, int32_t code,
                    uint64_t frame, const char* text, double v0, double v1) {
        ClientView& view = clients[client];
        lr_event* ev = view.events.claim();
        if (!ev) {
            lr_client_slot* c = segment.client(client);
            c->events_dropped = c->events_dropped + 1;
            return false;
        }
        std::memset(ev, 0, offsetof(lr_event, message));
        ev->id = id;
        ev->type = type;
        ev->command = command;
        ev->slot = slot;
        ev->code = code;
        ev->frame = frame;
        ev->value[0] = v0;
        ev->value[1] = v1;
        ev->seq = ++view.event_seq;
        const std::size_t n = std::min<std::size_t>(std::strlen(text), LR_MESSAGE_MAX - 1);
        std::memcpy(ev->message, text, n);
        ev->message[n] = '\0';
        view.events.stage();  // visible at the end of the period, after its meters (publish_events)
        return true;
    }

    // ---- commands ----
    void read_clients() {
        uint32_t budget = kCommandsPerPeriod;
        for (uint32_t k = 0; k < LR_MAX_CLIENTS && budget > 0; ++k) {
            const uint32_t i = (client_cursor + k) % LR_MAX_CLIENTS;
            lr_client_slot* c = segment.client(i);
            const uint32_t state = load_acquire(c->state);
            if (state == LR_CLIENT_CLOSING) {
                free_client(i);
                continue;
            }
            if (state != LR_CLIENT_ACTIVE) continue;
            ClientView& view = clients[i];
            // A batch (LR_CMD_F_BATCH on all but its last command) is read whole,
            // past the budget, so that its commands share this period's frame;
            // a batch is at most one command ring long.
            bool in_batch = false;
            uint32_t batch_extra = LR_CMD_RING_SIZE;
            while ((budget > 0 || (in_batch && batch_extra-- > 0)) && view.events.space() > 0) {
                const lr_command* item = nullptr;
                const auto peek = view.commands.peek(&item);
                if (peek == RingConsumer<lr_command>::Peek::empty) break;
                if (peek == RingConsumer<lr_command>::Peek::corrupt) {
                    view.commands.discard_all();
                    send_event(i, 0, LR_EVT_ERROR, LR_CMD_NOP, -1, LR_E_BAD_MESSAGE, frame0,
                               "command ring indices are corrupt; pending commands discarded", 0, 0);
                    break;
                }
                std::memcpy(&command, item, sizeof(lr_command));
                view.commands.pop();
                if (budget > 0) --budget;
                in_batch = (command.flags & LR_CMD_F_BATCH) != 0;
                handle(i, command);
            }
        }
        client_cursor = (client_cursor + 1) % LR_MAX_CLIENTS;
    }

    /// Make this period's answers and notices visible: after the meters, so a
    /// client that sees an answer then reads meters that include its effect. RT safe.
    void publish_events() {
        for (auto& view : clients) view.events.publish();
    }

    void free_client(uint32_t i) {
        lr_client_slot* c = segment.client(i);
        clients[i].events.publish();  // nothing staged may reach the place's next owner
        clients[i].commands.discard_all();
        clients[i].event_seq = 0;  // the next owner's events count from 1
        c->generation = c->generation + 1;
        c->events_dropped = 0;
        store_release(c->state, LR_CLIENT_FREE);
        store_release(c->owner_pid, 0);
    }

    void handle(uint32_t client, const lr_command& cmd) {
        rt::Text why(message, sizeof message);
        lr_client_slot* c = segment.client(client);
        const int code = rt::validate_command(cmd, static_cast<uint32_t>(slots.size()), why);
        if (code != LR_OK) {
            c->commands_rejected = c->commands_rejected + 1;
            reply(client, cmd, LR_EVT_ERROR, code, frame0, message);
            return;
        }
        c->commands_accepted = c->commands_accepted + 1;
        switch (cmd.type) {
            case LR_CMD_PING:
                why << "pong";
                reply(client, cmd, LR_EVT_ACK, LR_OK, frame0, message);
                return;
            case LR_CMD_LOAD: return request_load(client, cmd);
            case LR_CMD_UNLOAD: return unload(client, cmd);
            case LR_CMD_DECLICK: {
                declick_frames = static_cast<uint32_t>(
                    std::lround(cmd.value[0] * owner->sample_rate_.load(std::memory_order_relaxed) / 1000.0));
                header->declick_frames = declick_frames;
                why << "declick ramp " << static_cast<uint64_t>(declick_frames) << " frames";
                reply(client, cmd, LR_EVT_ACK, LR_OK, frame0, message);
                return;
            }
            case LR_CMD_METER:
                grid.set_beats_per_bar(frame0, static_cast<uint32_t>(cmd.value[0]));
                why << "meter " << static_cast<uint32_t>(cmd.value[0]) << " beats per bar";
                reply(client, cmd, LR_EVT_ACK, LR_OK, frame0, message);
                return;
            case LR_CMD_LOOP_TEMPO:
            case LR_CMD_PITCH:
            case LR_CMD_MODE:
                return set_slot_timing(client, cmd, why);
            case LR_CMD_METER_RESET:
                reset_meters();
                why << "peak holds and integrated loudness restarted";
                reply(client, cmd, LR_EVT_ACK, LR_OK, frame0, message);
                return;
            case LR_CMD_TRANSPORT: {
                const auto mode = static_cast<uint32_t>(cmd.value[0]);
                owner->transport_mode_.store(mode, std::memory_order_release);
                why << "transport "
                    << (mode == LR_TRANSPORT_FOLLOW ? "follow" : mode == LR_TRANSPORT_MASTER ? "master" : "off");
                reply(client, cmd, LR_EVT_ACK, LR_OK, frame0, message);
                return;
            }
            default: return schedule_action(client, cmd, why);
        }
    }

    /// LOOP_TEMPO, PITCH and MODE: take effect now; a new render is asked for
    /// if one is needed, and the slot plays varispeed until it arrives.
    void set_slot_timing(uint32_t client, const lr_command& cmd, rt::Text& why) {
        Slot& s = slots[static_cast<uint32_t>(cmd.slot)];
        switch (cmd.type) {
            case LR_CMD_LOOP_TEMPO:
                if (cmd.value[1] > 0.0) {
                    assign_slot_setting(s, LR_P_LOOP_BEATS, cmd.value[1]);
                } else {
                    assign_slot_setting(s, LR_P_LOOP_BEATS, 0.0);
                    assign_slot_setting(s, LR_P_LOOP_BPM, cmd.value[0]);
                }
                break;
            case LR_CMD_PITCH: assign_slot_setting(s, LR_P_PITCH, cmd.value[0]); break;
            case LR_CMD_MODE: assign_slot_setting(s, LR_P_MODE, cmd.value[0]); break;
            default: break;
        }
        refresh_render(s, cmd.slot, frame0);
        why << rt::command_name(cmd.type) << " slot " << cmd.slot << ": ";
        if (!s.sample && s.declared_bpm > 0.0)
            why << "empty; a loop loaded here will follow the master tempo (played at " << s.declared_bpm << " BPM)";
        else if (!s.sample && s.declared_beats > 0.0)
            why << "empty; a loop loaded here will follow the master tempo, " << s.declared_beats << " beats";
        else if (!s.sample) why << "empty; a loop loaded here will play at its own tempo";
        else if (s.loop_beats > 0.0) why << "follows the master tempo, " << s.loop_beats << " beats";
        else why << "plays at its own tempo";
        why << ", pitch " << s.pitch << " st, " << (s.mode == LR_MODE_VARISPEED ? "varispeed" : "stretch");
        if (s.render_needed && !s.render_ready) why << " (render pending)";
        reply(client, cmd, LR_EVT_ACK, LR_OK, frame0, message, s.loop_beats, s.pitch);
    }

    void request_load(uint32_t client, const lr_command& cmd) {
        LoadRequest req;
        req.client = client;
        req.generation = segment.client(client)->generation;
        req.id = cmd.id;
        req.slot = cmd.slot;
        req.sample_rate = owner->sample_rate_.load(std::memory_order_relaxed);
        std::memcpy(req.path, cmd.text, cmd.text_len);
        req.path[cmd.text_len] = '\0';
        if (!owner->load_requests_.push(req)) {
            rt::Text why(message, sizeof message);
            why << "the loader is busy (" << static_cast<uint64_t>(owner->load_requests_.capacity())
                << " loads queued); try again";
            reply(client, cmd, LR_EVT_ERROR, LR_E_BUSY, frame0, message);
        }
        // Otherwise answered when the loader's result is installed.
    }

    void unload(uint32_t client, const lr_command& cmd) {
        Slot& s = slots[static_cast<uint32_t>(cmd.slot)];
        rt::Text why(message, sizeof message);
        if (!s.sample) {
            why << "slot " << cmd.slot << " is empty";
            reply(client, cmd, LR_EVT_ERROR, LR_E_NOT_LOADED, frame0, message);
            return;
        }
        main_to_tail(s);
        release(s.sample);
        s.sample = nullptr;
        refresh_render(s, cmd.slot, frame0);
        s.playing = false;
        s.grid_valid = false;
        std::memset(&s.info, 0, sizeof s.info);
        s.info_dirty = true;
        why << "slot " << cmd.slot << " unloaded";
        reply(client, cmd, LR_EVT_ACK, LR_OK, frame0, message);
    }

    /// Work out the frame a schedulable command takes effect at, then apply it
    /// now (this period's first frame) or put it in the schedule.
    void schedule_action(uint32_t client, const lr_command& cmd, rt::Text& why) {
        Slot* s = rt::command_takes_slot(cmd.type) ? &slots[static_cast<uint32_t>(cmd.slot)] : nullptr;
        uint64_t frame = frame0;
        uint64_t late_by = 0;
        if (cmd.flags & LR_CMD_F_AT) {
            if (cmd.at_frame < frame0) {
                late_by = frame0 - cmd.at_frame;
            } else if (cmd.at_frame - frame0 > rt::kMaxScheduleAhead) {
                why << "frame " << cmd.at_frame << " is more than " << rt::kMaxScheduleAhead
                    << " frames ahead of now (" << frame0 << ")";
                reply(client, cmd, LR_EVT_ERROR, LR_E_BAD_VALUE, frame0, message);
                return;
            } else {
                frame = cmd.at_frame;
            }
        }
        bool no_grid = false;
        if (cmd.quantize == LR_Q_FRAMES) {
            frame = rt::next_multiple(frame, cmd.quantize_arg);
        } else if (cmd.quantize == LR_Q_BEAT) {
            frame = grid.next_beat(frame, static_cast<uint32_t>(cmd.quantize_arg));
        } else if (cmd.quantize == LR_Q_BAR) {
            frame = grid.next_bar(frame, static_cast<uint32_t>(cmd.quantize_arg));
        } else if (cmd.quantize == LR_Q_SLOT) {
            const Slot& ref = slots[cmd.quantize_arg];
            if (ref.main.active() && !ref.main.releasing && ref.main.grid_locked) {
                // A follower's loop starts are on beats: start_beat + k * beats.
                const double k = std::ceil((grid.beat_at(frame) - ref.main.start_beat) / ref.main.beats - 1e-9);
                frame = std::max(frame, grid.frame_at_or_after(ref.main.start_beat + std::max(0.0, k) * ref.main.beats));
            } else if (ref.grid_valid && ref.sample) {
                frame = rt::next_grid_point(frame, ref.grid_origin, ref.main.active() ? ref.main.sample->frames
                                                                                       : ref.sample->frames);
            } else {
                no_grid = true;
            }
        }
        if (cmd.type == LR_CMD_PLAY && !s->sample) {
            why << "slot " << cmd.slot << " is empty: load a file first";
            reply(client, cmd, LR_EVT_ERROR, LR_E_NOT_LOADED, frame0, message);
            return;
        }
        rt::Action action{frame, 0, cmd.type, cmd.slot, cmd.value[0], cmd.param};
        if (cmd.type == LR_CMD_PLAY) schedule_pre_roll(*s, cmd.slot, frame);
        if (frame > frame0) {
            if (!schedule.insert(action)) {
                why << "schedule full (" << static_cast<uint64_t>(schedule.capacity()) << " pending actions)";
                reply(client, cmd, LR_EVT_ERROR, LR_E_SCHEDULE_FULL, frame0, message);
                return;
            }
            if (s) note_scheduled(*s, action);
        } else {
            if (s) note_scheduled(*s, action);
            apply(action);
        }
        if (cmd.type == LR_CMD_PARAM) {
            const lr_param_desc* p = lr_param_info(cmd.param);
            why << p->name;
            if (p->target == LR_TARGET_SLOT) why << " slot " << cmd.slot;
            else if (p->target == LR_TARGET_GROUP) why << " group " << cmd.slot;
            why << " = " << cmd.value[0];
            if (p->unit[0]) why << " " << p->unit;
        } else {
            why << rt::command_name(cmd.type);
        }
        if (s) why << " slot " << cmd.slot;
        else if (cmd.type == LR_CMD_TEMPO) why << " " << cmd.value[0] << " BPM";
        why << " at frame " << frame;
        if (late_by) why << " (requested frame was " << late_by << " frames in the past)";
        if (no_grid) why << " (reference slot " << cmd.quantize_arg << " is not playing: not quantized)";
        reply(client, cmd, LR_EVT_ACK, LR_OK, frame, message);
    }

    /// A fresh start of a loop that plays a render: its pre-roll starts up to
    /// pre_roll frames before `start` (as much as there is room for). RT safe.
    void schedule_pre_roll(const Slot& s, int32_t slot, uint64_t start) {
        const Sample* buffer = play_buffer(s);
        if (!buffer || buffer->pre_roll == 0 || start <= frame0 || s.pending_starts > 0) return;
        if (s.main.active() && !s.main.releasing) return;  // playing: a restart cuts in at `start`
        const uint64_t lead = std::min<uint64_t>(buffer->pre_roll, start - frame0);
        schedule.insert(rt::Action{start - lead, 0, rt::kActionPreRoll, slot, static_cast<double>(start), 0});
        // (schedule full: no pre-roll, the start itself is what matters)
    }

    /// Start the main voice on `buffer` so that its frame 0 plays at `start`,
    /// on the grid if the slot follows the master tempo. RT safe.
    void start_voice_for(Slot& s, Sample* buffer, uint64_t now, uint64_t start) {
        main_to_tail(s);
        start_main(s, buffer, start);
        if (s.loop_beats > 0.0) {
            s.main.grid_locked = true;
            s.main.beats = s.loop_beats;
            // Following a stopped JACK transport there is no "now" on the
            // grid: the loop is anchored at the song's start (beat 0), so once
            // the transport rolls it plays what the position says, on the bars.
            s.main.start_beat = paused ? 0.0 : grid.beat_at(start);
        } else if (now < start) {
            s.main.origin = start - buffer->frames;  // a cycle earlier: (f - origin) stays positive
        }
        // Starting at the loop's frame 0 plays the file's first sample as it is
        // (no fade-in: the downbeat's attack stays whole, as in every later
        // pass). A start elsewhere in the cycle (a pre-roll, a follower
        // anchored on a standing transport's song position) keeps the ramp.
        if (now == start && !(paused && s.loop_beats > 0.0)) s.main.env.jump(1.0f);
    }

    void note_scheduled(Slot& s, const rt::Action& a) {
        if (a.type == LR_CMD_PLAY) {
            ++s.pending_starts;
            s.grid_valid = true;
            s.grid_origin = a.frame;
        } else if (a.type == LR_CMD_STOP) {
            ++s.pending_stops;
        }
    }

    /// Apply an action at the current render position. RT safe.
    void apply(const rt::Action& a) {
        if (a.type == LR_CMD_PARAM) {
            set_param(a.param, a.slot, a.value, false, a.frame);
            return;
        }
        if (a.type == LR_CMD_TEMPO) {
            grid.set_tempo(a.frame, a.value);
            // Followers keep their phase (it comes from the grid); their renders no longer fit.
            for (uint32_t i = 0; i < slots.size(); ++i)
                if (slots[i].loop_beats > 0.0) refresh_render(slots[i], static_cast<int32_t>(i), a.frame);
            return;
        }
        Slot& s = slots[static_cast<uint32_t>(a.slot)];
        switch (a.type) {
            case rt::kActionPreRoll: {
                const auto start = static_cast<uint64_t>(a.value);
                Sample* buffer = s.sample ? play_buffer(s) : nullptr;
                if (!buffer || buffer->pre_roll == 0 || s.pending_starts == 0) break;  // unloaded, or the start was
                if (s.main.active() && !s.main.releasing) break;                       // ... overtaken meanwhile
                if (s.loop_beats == 0.0 && start < buffer->frames) break;  // no earlier cycle to anchor on
                start_voice_for(s, buffer, a.frame, start);
                s.pre_roll_for = start;
                break;
            }
            case LR_CMD_PLAY: {
                if (s.pending_starts) --s.pending_starts;
                const uint64_t pre_rolled = s.pre_roll_for;
                s.pre_roll_for = 0;
                if (!s.sample) break;  // unloaded meanwhile
                Sample* buffer = play_buffer(s);
                if (pre_rolled == a.frame && s.main.active() && !s.main.releasing && s.main.sample == buffer) {
                    // Sounding since its pre-roll, anchored on this frame: keep it.
                    if (s.main.grid_locked) s.main.start_beat = paused ? 0.0 : grid.beat_at(a.frame);
                } else {
                    start_voice_for(s, buffer, a.frame, a.frame);
                }
                s.playing = true;
                s.start_frame = a.frame;
                break;
            }
            case LR_CMD_STOP:
                if (s.pending_stops) --s.pending_stops;
                main_to_tail(s);
                s.playing = false;
                if (!s.pending_starts) s.grid_valid = false;
                break;
            case LR_CMD_GAIN: assign_slot_setting(s, LR_P_GAIN, a.value); break;
            case LR_CMD_PAN: assign_slot_setting(s, LR_P_PAN, a.value); break;
            case LR_CMD_MUTE: assign_slot_setting(s, LR_P_MUTE, a.value); break;
            case LR_CMD_SOLO: assign_slot_setting(s, LR_P_SOLO, a.value); break;
            default:
                break;
        }
    }

    // ---- loads coming back from the loader ----
    void install_loads() {
        LoadResult* r = nullptr;
        while ((r = owner->load_results_.front()) != nullptr) {
            const uint32_t client = r->client;
            lr_client_slot* c = segment.client(client);
            const bool client_still_there =
                load_acquire(c->state) == LR_CLIENT_ACTIVE && c->generation == r->generation;
            lr_command answered{};
            answered.id = r->id;
            answered.type = LR_CMD_LOAD;
            answered.slot = r->slot;
            if (r->code == LR_OK && r->sample) {
                Slot& s = slots[static_cast<uint32_t>(r->slot)];
                Sample* fresh = r->sample;
                retain(fresh);
                Sample* old = s.sample;
                s.sample = fresh;
                s.info.channels = fresh->channels;
                s.info.source_rate = fresh->source_rate;
                s.info.source_frames = fresh->source_frames;
                s.info.load_count += 1;
                std::memcpy(s.info.name, fresh->name, sizeof s.info.name);
                std::memcpy(s.info.path, fresh->path, sizeof s.info.path);
                s.info_dirty = true;
                update_loop_beats(s);
                update_gain_targets(s, any_solo());  // the pan law follows the source's channels
                if (s.main.active() && !s.main.releasing && !s.main.grid_locked && s.loop_beats == 0.0) {
                    // Swap what plays, keeping the slot's place on its grid.
                    const uint64_t origin = s.main.origin;
                    main_to_tail(s);
                    start_main(s, fresh, origin);
                }
                refresh_render(s, r->slot, frame0);  // followers rebind at the same phase
                release(old);
                if (client_still_there)
                    reply(client, answered, LR_EVT_ACK, LR_OK, frame0, r->message,
                          static_cast<double>(fresh->frames), static_cast<double>(fresh->source_rate));
            } else if (client_still_there) {
                reply(client, answered, LR_EVT_ERROR, r->code, frame0, r->message);
            }
            owner->load_results_.pop();
        }
    }

    // ---- rendering ----
    void render_voice(Voice& v, uint64_t from, uint32_t n, float* left, float* right) {
        const Sample& smp = *v.sample;
        const uint64_t length = smp.frames;
        const float* in_l = smp.channel(0);
        const float* in_r = smp.channel(1);
        uint64_t pos = 0;
        if (v.grid_locked) {
            // Phase from the master grid, at every sub-block: no drift, tempo changes keep the phase.
            const double cycle = v.beats * grid.frames_per_beat();
            const double phase = voice_phase(v, from);
            if (std::fabs(cycle - static_cast<double>(length)) > 1e-6) {
                render_varispeed(v, phase * static_cast<double>(length), static_cast<double>(length) / cycle, n,
                                 left, right);
                if (v.releasing && !v.env.moving()) drop_voice(v);
                return;
            }
            pos = static_cast<uint64_t>(std::llround(phase * static_cast<double>(length))) % length;
        } else {
            pos = (from - v.origin) % length;
        }
        if (!v.env.moving() && v.env.value == 1.0f) {
            for (uint32_t i = 0; i < n; ++i) {
                left[i] += in_l[pos];
                right[i] += in_r[pos];
                if (++pos == length) pos = 0;
            }
        } else {
            for (uint32_t i = 0; i < n; ++i) {
                const float e = v.env.next();
                left[i] += in_l[pos] * e;
                right[i] += in_r[pos] * e;
                if (++pos == length) pos = 0;
            }
        }
        if (v.releasing && !v.env.moving()) drop_voice(v);
    }

    /// Read a loop at fractional positions (`step` source frames per output
    /// frame), wrapping around, with Hermite interpolation. RT safe.
    void render_varispeed(Voice& v, double pos, double step, uint32_t n, float* left, float* right) {
        const Sample& smp = *v.sample;
        const auto length = static_cast<int64_t>(smp.frames);
        const float* in[2] = {smp.channel(0), smp.channel(1)};
        const double len = static_cast<double>(length);
        for (uint32_t i = 0; i < n; ++i) {
            float l = 0.0f, r = 0.0f;
            hermite_at(in, length, pos, &l, &r);
            const float e = v.env.next();
            left[i] += e * l;
            right[i] += e * r;
            pos += step;
            if (pos >= len) pos -= len;
        }
    }

    /// What the main voice played over frames [from, from + n), without its
    /// envelope and without side effects (no ramp moves, nothing dropped);
    /// a follower read at the present tempo. RT safe.
    void peek_voice(const Voice& v, uint64_t from, uint32_t n, float* left, float* right) const {
        const Sample& smp = *v.sample;
        const uint64_t length = smp.frames;
        const float* in[2] = {smp.channel(0), smp.channel(1)};
        double pos = 0.0, step = 1.0;
        if (v.grid_locked) {
            const double cycle = v.beats * grid.frames_per_beat();
            pos = voice_phase(v, from) * static_cast<double>(length);
            step = static_cast<double>(length) / cycle;
        } else {
            pos = static_cast<double>((from - v.origin) % length);
        }
        const auto len = static_cast<int64_t>(length);
        for (uint32_t i = 0; i < n; ++i) {
            hermite_at(in, len, pos, &left[i], &right[i]);
            pos += step;
            if (pos >= static_cast<double>(length)) pos -= static_cast<double>(length);
        }
    }

    /// While a render for a new pitch is being made, shift what plays by the
    /// missing ratio so the change is heard at once. A slot that needs no
    /// shift costs nothing here: when one starts, the delay lines are filled
    /// with what the voice played in the last window (read again from the
    /// loop, once), instead of being kept filled all the time. RT safe.
    void interim_pitch(Slot& s, uint64_t from, float* l, float* r, uint32_t n) {
        const Sample* playing = s.main.active() ? s.main.sample : nullptr;
        const double have = (playing && playing == s.render) ? s.render_pitch : 1.0;
        const double ratio = pitch_scale(s) / have;
        const bool on = s.mode == LR_MODE_STRETCH && s.render_needed && !s.render_ready && std::fabs(ratio - 1.0) > 1e-9;
        const bool idle = s.shift_wet.value == 0.0f && !s.shift_wet.moving();
        if (idle && !on) return;
        if (idle) {  // starting: the last window of dry output, as the shifter would have kept it
            if (playing && from >= kShiftWindow) peek_voice(s.main, from - kShiftWindow, kShiftWindow, s.shift_buf[0], s.shift_buf[1]);
            else std::fill_n(s.shift_buf[0], 2 * kShiftWindow, 0.0f);  // (both lines are contiguous)
            s.shift_write = 0;
        }
        const float target = on ? 1.0f : 0.0f;
        if (s.shift_wet.target != target) s.shift_wet.set(target, 256);
        shift_pitch(s, l, r, n, ratio);
    }

    /// Advance a silent slot's ramps by n frames. RT safe.
    static void skip_slot(Slot& s, uint32_t n) {
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
    }

    /// Add `gain`-ramped x into dst (n frames); nothing if the ramp rests at 0. RT safe.
    static void add_ramped(float* dst, const float* x, dsp::Ramp& gain, uint32_t n) {
        if (!gain.moving()) {
            const float g = gain.value;
            if (g == 0.0f) return;
            for (uint32_t i = 0; i < n; ++i) dst[i] += g * x[i];
            return;
        }
        for (uint32_t i = 0; i < n; ++i) dst[i] += gain.next() * x[i];
    }

    /// Render frames [from, from + n) at offset `offset` into the outputs:
    /// every slot through its strip, sends and fader into its bus, then the
    /// buses, effects and master gain. RT safe.
    void render(uint64_t from, uint32_t offset, uint32_t n, const CoreOutputs& out) {
        if (n == 0) return;
        float* master_l = out.master[0] + offset;
        float* master_r = out.master[1] + offset;
        bool any = false;  // a slot wrote into the buses
        for (uint32_t si = 0; si < slots.size(); ++si) {
            Slot& s = slots[si];
            if (!s.main.active() && !s.tail.active()) {
                skip_slot(s, n);
                continue;
            }
            any = true;
            bus_dirty_frames = std::max(bus_dirty_frames, offset + n);
            float* l = scratch[0].data();
            float* r = scratch[1].data();
            std::fill_n(l, n, 0.0f);
            std::fill_n(r, n, 0.0f);
            // A stopped transport (follow mode) silences the followers; they resume on its position.
            if (s.main.active() && !(paused && s.main.grid_locked)) render_voice(s.main, from, n, l, r);
            if (s.tail.active() && !(paused && s.tail.grid_locked)) render_voice(s.tail, from, n, l, r);
            interim_pitch(s, from, l, r, n);
            if (!s.eq.transparent()) {
                s.eq.process(l, r, n);
                s.eq_idle = false;
            }
            // Pre-fader sends: before gain and pan, after mute/solo.
            for (uint32_t k = 0; k < LR_SENDS; ++k) {
                dsp::Ramp& g = s.send_pre[k];
                if (!g.moving() && g.value == 0.0f) continue;
                float* bl = send_buf[k][0] + offset;
                float* br = send_buf[k][1] + offset;
                dsp::Ramp audible = s.audible;  // the same ramp for each send
                for (uint32_t i = 0; i < n; ++i) {
                    const float a = g.next() * audible.next();
                    bl[i] += a * l[i];
                    br[i] += a * r[i];
                }
            }
            s.audible.skip(n);
            // Fader: gain, pan, mute, solo.
            float* slot_l = out.slot_left ? out.slot_left[si] + offset : nullptr;
            float* slot_r = out.slot_right ? out.slot_right[si] + offset : nullptr;
            for (uint32_t i = 0; i < n; ++i) {
                l[i] *= s.gain[0].next();
                r[i] *= s.gain[1].next();
                s.meter.accumulate(l[i], r[i]);
            }
            if (slot_l) std::copy_n(l, n, slot_l);
            if (slot_r) std::copy_n(r, n, slot_r);
            for (uint32_t k = 0; k < LR_SENDS; ++k) {
                if (!s.send_post[k].moving() && s.send_post[k].value == 0.0f) continue;
                dsp::Ramp right = s.send_post[k];  // the right channel replays the left's ramp
                add_ramped(send_buf[k][0] + offset, l, s.send_post[k], n);
                add_ramped(send_buf[k][1] + offset, r, right, n);
            }
            // Into its group bus or the master, crossfading after a change of bus.
            float* to_l = s.group >= 0 ? group_buf[s.group][0] + offset : master_l;
            float* to_r = s.group >= 0 ? group_buf[s.group][1] + offset : master_r;
            if (!s.route.moving()) {
                for (uint32_t i = 0; i < n; ++i) {
                    to_l[i] += l[i];
                    to_r[i] += r[i];
                }
            } else {
                float* from_l = s.old_group >= 0 ? group_buf[s.old_group][0] + offset : master_l;
                float* from_r = s.old_group >= 0 ? group_buf[s.old_group][1] + offset : master_r;
                for (uint32_t i = 0; i < n; ++i) {
                    const float w = s.route.next();
                    to_l[i] += w * l[i];
                    to_r[i] += w * r[i];
                    from_l[i] += (1.0f - w) * l[i];
                    from_r[i] += (1.0f - w) * r[i];
                }
            }
        }
        mix_buses(offset, n, out, any);
    }

    /// Groups and effect returns into the master, then the master gain;
    /// bus outs for JACK. RT safe.
    void mix_buses(uint32_t offset, uint32_t n, const CoreOutputs& out, bool slots_wrote) {
        float* master_l = out.master[0] + offset;
        float* master_r = out.master[1] + offset;
        for (uint32_t g = 0; g < LR_GROUPS; ++g) {
            float* bl = group_buf[g][0] + offset;
            float* br = group_buf[g][1] + offset;
            bool used = false;  // no slot feeds it now: nothing to scale, meter or mix
            for (uint32_t i = 0; i < n && !used && slots_wrote; ++i) used = bl[i] != 0.0f || br[i] != 0.0f;
            if (!used) {
                group_gain[g].skip(n);
                if (out.group[g][0]) std::fill_n(out.group[g][0] + offset, n, 0.0f);
                if (out.group[g][1]) std::fill_n(out.group[g][1] + offset, n, 0.0f);
                continue;
            }
            for (uint32_t i = 0; i < n; ++i) {
                const float k = group_gain[g].next();
                bl[i] *= k;
                br[i] *= k;
                group_meter[g].accumulate(bl[i], br[i]);
                master_l[i] += bl[i];
                master_r[i] += br[i];
            }
            if (out.group[g][0]) std::copy_n(bl, n, out.group[g][0] + offset);
            if (out.group[g][1]) std::copy_n(br, n, out.group[g][1] + offset);
        }
        const uint32_t frames = delay_frames_now(grid.sample_rate());
        if (frames != delay.delay_frames()) delay.set_delay_frames(frames);
        for (uint32_t k = 0; k < LR_SENDS; ++k) {
            float* sl = send_buf[k][0] + offset;
            float* sr = send_buf[k][1] + offset;
            float* rl = return_buf[k][0] + offset;
            float* rr = return_buf[k][1] + offset;
            if (slots_wrote)  // else zeros: nothing to meter
                for (uint32_t i = 0; i < n; ++i) send_meter[k].accumulate(sl[i], sr[i]);
            if (out.send[k][0]) std::copy_n(sl, n, out.send[k][0] + offset);
            if (out.send[k][1]) std::copy_n(sr, n, out.send[k][1] + offset);
            bool input = false;
            for (uint32_t i = 0; i < n && !input && slots_wrote; ++i) input = sl[i] != 0.0f || sr[i] != 0.0f;
            FxSleep& sleep = fx_sleep[k];
            if (input) {
                sleep.asleep = false;
                sleep.quiet_frames = 0;
            } else if (sleep.asleep) {
                // Nothing is inside it: a change made meanwhile is complete at once,
                // so the first input after waking meets the settings in force.
                if (k == 0 && delay.gliding()) delay.settle();
                if (k == 1 && reverb.gliding()) reverb.settle();
                return_gain[k].skip(n);  // the return buffers stay zero
                if (out.fx_return[k][0]) std::fill_n(out.fx_return[k][0] + offset, n, 0.0f);
                if (out.fx_return[k][1]) std::fill_n(out.fx_return[k][1] + offset, n, 0.0f);
                continue;
            }
            bus_dirty_frames = std::max(bus_dirty_frames, offset + n);
            if (k == LR_SEND_DELAY) delay.process(sl, sr, rl, rr, n);
            else reverb.process(sl, sr, rl, rr, n);
            if (!input) {
                float peak = 0.0f;
                for (uint32_t i = 0; i < n; ++i) peak = std::max({peak, std::fabs(rl[i]), std::fabs(rr[i])});
                sleep.quiet_frames = peak < kFxSilence ? sleep.quiet_frames + n : 0;
                const uint64_t memory = k == LR_SEND_DELAY ? delay.delay_frames() + fx_sleep_frames : reverb_memory_frames;
                sleep.asleep = sleep.quiet_frames >= memory;
            }
            for (uint32_t i = 0; i < n; ++i) {
                const float g = return_gain[k].next();
                rl[i] *= g;
                rr[i] *= g;
                return_meter[k].accumulate(rl[i], rr[i]);
                master_l[i] += rl[i];
                master_r[i] += rr[i];
            }
            if (out.fx_return[k][0]) std::copy_n(rl, n, out.fx_return[k][0] + offset);
            if (out.fx_return[k][1]) std::copy_n(rr, n, out.fx_return[k][1] + offset);
        }
        if (master_gain.moving() || master_gain.value != 1.0f) {
            for (uint32_t i = 0; i < n; ++i) {
                const float g = master_gain.next();
                master_l[i] *= g;
                master_r[i] *= g;
            }
        }
    }

    /// LR_CMD_METER_RESET. RT safe.
    void reset_meters() {
        master_meter.reset_hold();
        for (auto& s : slots) s.meter.reset_hold();
        for (auto& m : group_meter) m.reset_hold();
        for (auto& m : send_meter) m.reset_hold();
        for (auto& m : return_meter) m.reset_hold();
        owner->loudness_reset_.fetch_add(1, std::memory_order_release);
    }

    /// Copy the master into the loudness meter's blocks. Once the master has
    /// been silent for kLoudnessQuietSeconds, further silent blocks are only
    /// counted (the loudness thread sleeps), and handed over as a count with
    /// the next block that is not silent. RT safe.
    void feed_loudness(const CoreOutputs& out, uint32_t nframes) {
        LoudnessBlock& b = loudness_block;
        for (uint32_t i = 0; i < nframes; ++i) {
            b.samples[2 * b.frames] = out.master[0][i];
            b.samples[2 * b.frames + 1] = out.master[1][i];
            if (++b.frames == kLoudnessBlockFrames) {
                const bool silent = std::all_of(b.samples, b.samples + 2 * kLoudnessBlockFrames,
                                                [](float v) { return v == 0.0f; });
                if (silent && loudness_quiet_frames >= uint64_t{kLoudnessQuietSeconds} * grid.sample_rate()) {
                    loudness_skipped += kLoudnessBlockFrames;
                } else {
                    b.silence_before = loudness_skipped;
                    if (owner->loudness_blocks_.push(b)) loudness_skipped = 0;
                    else ++loudness_dropped;  // meter thread behind: a gap, not a stall
                }
                loudness_quiet_frames = silent ? loudness_quiet_frames + kLoudnessBlockFrames : 0;
                b.frames = 0;
            }
        }
    }

    void publish(uint32_t nframes, uint64_t frame_end, const CoreOutputs& out, uint32_t sample_rate) {
        const double coeff = std::exp(-static_cast<double>(nframes) / (kRmsWindowSeconds * sample_rate));
        for (uint32_t i = 0; i < nframes; ++i) master_meter.accumulate(out.master[0][i], out.master[1][i]);
        master_meter.finish(nframes, coeff, hold_frames);
        for (auto& m : group_meter) m.finish(nframes, coeff, hold_frames);
        for (auto& m : send_meter) m.finish(nframes, coeff, hold_frames);
        for (auto& m : return_meter) m.finish(nframes, coeff, hold_frames);
        feed_loudness(out, nframes);

        const uint32_t seq = meter_header->seq;
        std::atomic_ref<uint32_t>(meter_header->seq).store(seq + 1, std::memory_order_relaxed);
        std::atomic_thread_fence(std::memory_order_release);
        meter_header->nframes = nframes;
        meter_header->period = period;
        meter_header->frame_time = frame0;
        for (int c = 0; c < 2; ++c) {
            meter_header->master_peak[c] = master_meter.peak[c];
            meter_header->master_rms[c] = static_cast<float>(std::sqrt(master_meter.mean_square[c]));
            meter_header->master_peak_hold[c] = master_meter.hold[c].value;
        }
        meter_header->lufs_momentary = owner->lufs_[0].load(std::memory_order_relaxed);
        meter_header->lufs_short_term = owner->lufs_[1].load(std::memory_order_relaxed);
        meter_header->lufs_integrated = owner->lufs_[2].load(std::memory_order_relaxed);
        meter_header->loudness_periods = owner->loudness_updates_.load(std::memory_order_relaxed);
        lr_mix_meter& mix = *mix_meter;
        for (uint32_t g = 0; g < LR_GROUPS; ++g) {
            group_meter[g].to(mix.groups[g]);
            std::copy_n(group_params[g], LR_GROUP_PARAMS, mix.group_params[g]);
        }
        for (uint32_t k = 0; k < LR_SENDS; ++k) {
            send_meter[k].to(mix.sends[k]);
            return_meter[k].to(mix.returns[k]);
        }
        std::copy_n(global_params, LR_GLOBAL_PARAMS, mix.global_params);
        mix.delay_frames = delay.delay_frames();
        meter_header->callback_load = last_load;
        meter_header->callback_load_max = max_load;
        meter_header->xruns = owner->xruns_.load(std::memory_order_relaxed);
        meter_header->slot_count = static_cast<uint32_t>(slots.size());
        meter_header->tempo_bpm = grid.bpm();
        meter_header->beat = grid.beat_at(frame0);
        meter_header->beats_per_bar = grid.beats_per_bar();
        uint32_t pending = 0;
        for (uint32_t si = 0; si < slots.size(); ++si) {
            Slot& s = slots[si];
            s.meter.finish(nframes, coeff, hold_frames);
            lr_slot_meter& m = slot_meters[si];
            m.peak[0] = s.meter.peak[0];
            m.peak[1] = s.meter.peak[1];
            m.rms[0] = static_cast<float>(std::sqrt(s.meter.mean_square[0]));
            m.rms[1] = static_cast<float>(std::sqrt(s.meter.mean_square[1]));
            m.peak_hold[0] = s.meter.hold[0].value;
            m.peak_hold[1] = s.meter.hold[1].value;
            m.group = s.group;
            if (s.params_dirty) {
                std::copy_n(s.params, LR_SLOT_PARAMS, slot_params[si].value);
                s.params_dirty = false;
            }
            // One cycle as it plays now (a follower's at the master tempo), and the place in it.
            const uint64_t cycle = s.sample ? target_frames(s) : 0;
            m.length = cycle;
            m.playhead = (s.playing && s.main.active())
                             ? static_cast<uint64_t>(std::llround(voice_phase(s.main, frame_end) *
                                                                 static_cast<double>(cycle))) % cycle
                             : 0;
            m.loop_beats = static_cast<float>(s.loop_beats);
            m.loop_bpm = (s.loop_beats > 0.0 && s.sample)
                             ? static_cast<float>(s.loop_beats * 60.0 * grid.sample_rate() / s.sample->frames)
                             : 0.0f;
            m.pitch = static_cast<float>(s.pitch);
            m.mode = s.mode;
            m.render = !s.render_needed ? uint32_t{LR_RENDER_NONE}
                       : s.render_ready ? uint32_t{LR_RENDER_READY}
                                        : uint32_t{LR_RENDER_PENDING};
            if (s.render_needed && !s.render_ready) ++pending;
            m.start_frame = s.start_frame;
            m.state = !s.sample ? uint32_t{LR_SLOT_EMPTY} : s.playing ? uint32_t{LR_SLOT_PLAYING} : uint32_t{LR_SLOT_STOPPED};
            const bool audible = !s.mute && (!any_solo_cached || s.solo);
            uint32_t flags = 0;
            if (s.mute) flags |= LR_SLOT_F_MUTED;
            if (s.solo) flags |= LR_SLOT_F_SOLOED;
            if (s.pending_starts) flags |= LR_SLOT_F_START_PENDING;
            if (s.pending_stops) flags |= LR_SLOT_F_STOP_PENDING;
            if (audible) flags |= LR_SLOT_F_AUDIBLE;
            m.flags = flags;
            m.gain_db = static_cast<float>(s.gain_db);
            m.pan = static_cast<float>(s.pan);
            if (s.info_dirty) {
                slot_infos[si] = s.info;
                s.info_dirty = false;
            }
        }
        meter_header->renders_pending = pending;
        meter_header->transport_mode = owner->transport_mode_.load(std::memory_order_relaxed);
        meter_header->transport_rolling = transport_rolling ? 1u : 0u;
        std::atomic_ref<uint32_t>(meter_header->seq).store(seq + 2, std::memory_order_release);
    }
    bool any_solo_cached = false;
};

AudioCore::AudioCore(shm::Segment& segment, const CoreConfig& config)
    : config_(config),
      impl_(std::make_unique<Impl>(segment, config)),
      load_requests_(64),
      load_results_(64),
      garbage_(static_cast<std::size_t>(config.slot_count) * 6 + 256),
      render_requests_(static_cast<std::size_t>(config.slot_count) + 8),
      render_answers_(static_cast<std::size_t>(config.slot_count) + 8),
      render_generations_(std::make_unique<std::atomic<uint32_t>[]>(config.slot_count)),
      loudness_blocks_(static_cast<std::size_t>(2 * config.sample_rate / kLoudnessBlockFrames) + 8) {
    for (auto& l : lufs_) l.store(-std::numeric_limits<float>::infinity());
    impl_->owner = this;
    sample_rate_.store(config.sample_rate);
}

AudioCore::~AudioCore() {
    // Samples still referenced by slots and voices, and any left in the queues.
    std::vector<Sample*> held;
    for (auto& s : impl_->slots)
        for (Sample* p : {s.sample, s.main.sample, s.tail.sample, s.render})
            if (p && std::find(held.begin(), held.end(), p) == held.end()) held.push_back(p);
    Sample* g = nullptr;
    while (garbage_.pop_into(&g))
        if (std::find(held.begin(), held.end(), g) == held.end()) held.push_back(g);
    LoadResult r;
    while (load_results_.pop_into(&r))
        if (r.sample) held.push_back(r.sample);
    RenderAnswer a;
    while (render_answers_.pop_into(&a)) {
        if (a.render) held.push_back(a.render);
        if (a.source && std::find(held.begin(), held.end(), a.source) == held.end()) held.push_back(a.source);
    }
    RenderRequest q;
    while (render_requests_.pop_into(&q))
        if (q.source && std::find(held.begin(), held.end(), q.source) == held.end()) held.push_back(q.source);
    for (Sample* p : held) delete p;
}

void AudioCore::timebase(double* bpm, double* beats_per_bar, double* beat) const {
    *bpm = impl_->grid.bpm();
    *beats_per_bar = impl_->grid.beats_per_bar();
    *beat = impl_->grid.beat_at(impl_->frame0 + impl_->last_nframes);  // JACK asks for the next cycle
}

void AudioCore::process(uint32_t nframes, uint64_t frame_time, const CoreOutputs& out) {
    Impl& m = *impl_;
    const uint64_t t0 = monotonic_nsecs();
    dsp::flush_denormals();  // filter and reverb tails must never go denormal (slow) on this thread
    const uint32_t rate = sample_rate_.load(std::memory_order_relaxed);
    m.frame0 = frame_time;
    m.last_nframes = nframes;
    ++m.period;
    // Published first: a client that reads them after an answer of this period
    // (even the engine's very first) sees this period's frame time and a
    // heartbeat (refreshed again at the end of the period).
    store_release64(m.header->frame_time, frame_time);
    store_release64(m.header->heartbeat_usecs, t0 / 1000);
    std::fill_n(out.master[0], nframes, 0.0f);
    std::fill_n(out.master[1], nframes, 0.0f);
    if (out.slot_left)
        for (uint32_t i = 0; i < config_.slot_count; ++i) {
            std::fill_n(out.slot_left[i], nframes, 0.0f);
            std::fill_n(out.slot_right[i], nframes, 0.0f);
        }
    if (nframes > config_.max_frames) {  // cannot happen with JACK2 (max 8192); stay silent
        m.last_load = 0;
        return;
    }
    for (auto& s : m.slots) s.meter.begin_period();
    m.master_meter.begin_period();
    for (auto& g : m.group_meter) g.begin_period();
    for (auto& g : m.send_meter) g.begin_period();
    for (auto& g : m.return_meter) g.begin_period();
    for (uint32_t b = 0; b < 2 * (LR_GROUPS + 2 * LR_SENDS); ++b)  // every bus channel, what was written
        std::fill_n(m.bus_storage.data() + static_cast<std::size_t>(b) * config_.max_frames, m.bus_dirty_frames, 0.0f);
    m.bus_dirty_frames = 0;

    if (!m.grid_started) {
        m.grid.reset(frame_time, rate);
        m.grid_started = true;
    }
    m.install_loads();
    m.install_renders();
    m.read_clients();
    const uint32_t transport = transport_mode_.load(std::memory_order_acquire);
    if (transport == LR_TRANSPORT_FOLLOW) {
        m.follow_transport();
    } else {
        m.paused = false;
        m.transport_rolling = transport == LR_TRANSPORT_MASTER && transport_.rolling;
    }

    const uint64_t end = frame_time + nframes;
    uint64_t cursor = frame_time;
    while (!m.schedule.empty() && m.schedule.earliest().frame < end) {
        const rt::Action a = m.schedule.pop_earliest();
        const uint64_t at = std::max(a.frame, cursor);
        m.render(cursor, static_cast<uint32_t>(cursor - frame_time), static_cast<uint32_t>(at - cursor), out);
        cursor = at;
        m.apply(a);
    }
    m.render(cursor, static_cast<uint32_t>(cursor - frame_time), static_cast<uint32_t>(end - cursor), out);

    m.any_solo_cached = m.any_solo();
    m.publish(nframes, end, out, rate);

    lr_header* h = m.header;
    const uint64_t t1 = monotonic_nsecs();
    store_release64(h->heartbeat_usecs, t1 / 1000);
    store_release64(h->heartbeat, m.period);
    m.publish_events();
    const double period_ns = 1e9 * nframes / rate;
    m.last_load = static_cast<float>(static_cast<double>(t1 - t0) / period_ns);
    m.max_load = std::max(m.max_load, m.last_load);
    wake_workers();
}

}  // namespace looprig
