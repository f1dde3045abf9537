#include "midi_control.hpp"

#include "actions.hpp"
#include "client_protocol.hpp"
#include "musical_grid.hpp"
#include "rt_text.hpp"
#include "slot.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace looprig::rt {

namespace {
constexpr uint8_t kUnknown = 0xFF;
constexpr uint64_t kTapReset = 2;  // seconds between taps that start a new count
}  // namespace

MidiControl::MidiControl(std::vector<Slot>& slots, const MusicalGrid& grid, ClientProtocol& protocol,
                         const lr_mix_meter* mix, uint32_t sample_rate)
    : slots_(slots), grid_(grid), protocol_(protocol), mix_(mix), sample_rate_(sample_rate) {
    std::fill(std::begin(shown_), std::end(shown_), kUnknown);
}

MidiControl::~MidiControl() {
    delete offered_.exchange(nullptr);
    delete retired_.exchange(nullptr);
    delete table_;
}

bool MidiControl::offer(MidiTable* table) {
    MidiTable* expected = nullptr;
    return offered_.compare_exchange_strong(expected, table, std::memory_order_acq_rel);
}

void MidiControl::begin_period(uint64_t frame0, uint32_t nframes) {
    frame0_ = frame0;
    nframes_ = nframes;
    out_count_ = 0;
    // Adopt a new table only when the owner has taken the last retired one
    // (it always has before offering: see MidiMapOwner::install).
    if (retired_.load(std::memory_order_acquire) == nullptr) {
        if (MidiTable* t = offered_.exchange(nullptr, std::memory_order_acq_rel)) {
            retired_.store(table_, std::memory_order_release);
            table_ = t;
            std::fill(std::begin(shown_), std::end(shown_), kUnknown);
            feedback_cursor_ = 0;
        }
    }
    MidiAnswer* a = nullptr;
    while ((a = answers_.front()) != nullptr) {
        protocol_.reply(a->place, a->cmd, a->code == LR_OK ? LR_EVT_ACK : LR_EVT_ERROR, a->code, frame0, a->message);
        answers_.pop();
    }
}

void MidiControl::request(uint32_t place, const lr_command& cmd) {
    char message[LR_MESSAGE_MAX];
    if (cmd.type == LR_CMD_MIDI_LEARN) {
        if (learning_) {  // the one armed before is replaced: tell its client
            Text(message, sizeof message) << "midi learn cancelled: another learn was armed";
            protocol_.reply(learn_place_, learn_cmd_, LR_EVT_ERROR, LR_E_BUSY, frame0_, message);
        }
        learning_ = true;
        learn_place_ = place;
        learn_cmd_ = cmd;
        return;  // answered when a note or CC comes (or the learn is cancelled)
    }
    MidiRequest r;
    r.place = place;
    r.cmd = cmd;
    if (!requests_.push(r)) {
        Text(message, sizeof message) << "midi: busy (too many map requests waiting)";
        protocol_.reply(place, cmd, LR_EVT_ERROR, LR_E_BUSY, frame0_, message);
    }
}

void MidiControl::handle_input(const MidiInEvent* events, uint32_t count, Actions& actions) {
    if (count) events_in_.fetch_add(count, std::memory_order_relaxed);
    for (uint32_t i = 0; i < count; ++i) handle_event(events[i], actions);
}

void MidiControl::handle_event(const MidiInEvent& e, Actions& actions) {
    if (e.size < 3) return;  // clock, active sensing, program change...: nothing is bound to them
    const uint8_t status = e.data[0] & 0xF0;
    const uint8_t channel = e.data[0] & 0x0F;
    const uint8_t number = e.data[1] & 0x7F;
    const uint8_t value = e.data[2] & 0x7F;
    const bool note_on = status == 0x90 && value > 0;
    const bool cc = status == 0xB0;
    if (!note_on && !cc) return;  // note-offs (and note-ons of velocity 0) do nothing
    if (learning_) {
        MidiRequest r;
        r.place = learn_place_;
        r.cmd = learn_cmd_;
        r.is_cc = cc ? 1 : 0;
        r.channel = channel;
        r.number = number;
        if (requests_.push(r)) learning_ = false;  // else: try with the next event
        return;
    }
    if (!table_) return;
    const MidiBinding& b = cc ? table_->cc[channel][number] : table_->note[channel][number];
    if (b.action == MidiAction::none) return;
    // JACK hands this period the events of the last: they act one period after their frame.
    const uint64_t at = frame0_ + std::min(e.offset, nframes_ - 1) + nframes_;
    act(b, cc, channel, number, value, at, actions);
}

void MidiControl::command(Actions& actions, uint32_t type, int32_t slot, double value, uint64_t at, bool quantized,
                          uint32_t param) {
    lr_command cmd{};
    cmd.id = next_command_id_++;
    if (next_command_id_ == 0) next_command_id_ = 1;
    cmd.type = static_cast<uint16_t>(type);
    if (type != LR_CMD_TRANSPORT) {  // a mode switch, not an event on the timeline: at the next period
        cmd.flags = LR_CMD_F_AT;
        cmd.at_frame = at;
    }
    cmd.slot = slot;
    cmd.value[0] = value;
    cmd.param = param;
    if (quantized && mix_) {
        const auto lq = static_cast<uint32_t>(mix_->global_params[LR_P_LAUNCH_QUANTIZE - LR_P_GLOBAL_BASE]);
        switch (lq) {
            case LR_LAUNCH_BEAT: cmd.quantize = LR_Q_BEAT; cmd.quantize_arg = 1; break;
            case LR_LAUNCH_BAR: cmd.quantize = LR_Q_BAR; cmd.quantize_arg = 1; break;
            case LR_LAUNCH_2_BARS: cmd.quantize = LR_Q_BAR; cmd.quantize_arg = 2; break;
            case LR_LAUNCH_4_BARS: cmd.quantize = LR_Q_BAR; cmd.quantize_arg = 4; break;
            case LR_LAUNCH_8_BARS: cmd.quantize = LR_Q_BAR; cmd.quantize_arg = 8; break;
            default: break;
        }
    }
    actions.handle(kControllerPlace, cmd);
}

void MidiControl::act(const MidiBinding& b, bool is_cc, uint8_t, uint8_t, uint8_t value, uint64_t at,
                      Actions& actions) {
    const auto slot_count = static_cast<int32_t>(slots_.size());
    const bool slot_action = b.action == MidiAction::toggle || b.action == MidiAction::play ||
                             b.action == MidiAction::stop || b.action == MidiAction::mute ||
                             b.action == MidiAction::solo;
    if (slot_action && (b.index < 0 || b.index >= slot_count)) return;
    // A CC acts on press (value >= 64) for the actions a pad or pedal triggers.
    const bool pressed = !is_cc || value >= 64;
    switch (b.action) {
        case MidiAction::toggle: {
            if (!pressed) return;
            const SlotPlayback& p = slots_[static_cast<uint32_t>(b.index)].play;
            const bool going = (p.playing && p.pending_stops == 0) || p.pending_starts > 0;
            command(actions, going ? LR_CMD_STOP : LR_CMD_PLAY, b.index, 0.0, at, true);
            return;
        }
        case MidiAction::play:
            if (pressed) command(actions, LR_CMD_PLAY, b.index, 0.0, at, true);
            return;
        case MidiAction::stop:
            if (pressed) command(actions, LR_CMD_STOP, b.index, 0.0, at, true);
            return;
        case MidiAction::mute:
        case MidiAction::solo: {
            const uint32_t id = b.action == MidiAction::mute ? LR_P_MUTE : LR_P_SOLO;
            const bool on = is_cc ? value >= 64 : slots_[static_cast<uint32_t>(b.index)].strip.params[id] < 0.5;
            command(actions, b.action == MidiAction::mute ? LR_CMD_MUTE : LR_CMD_SOLO, b.index, on ? 1.0 : 0.0, at,
                    false);
            return;
        }
        case MidiAction::param:
        case MidiAction::tempo: {
            double v = 0.0;
            const double now = b.action == MidiAction::tempo ? grid_.bpm() : current_param(b.param, b.index);
            if (b.relative) {
                const int steps = value < 64 ? value : static_cast<int>(value) - 128;
                v = now + steps * static_cast<double>(b.step);
                v = std::clamp(v, static_cast<double>(std::min(b.lo, b.hi)), static_cast<double>(std::max(b.lo, b.hi)));
            } else if (is_cc) {
                v = b.lo + (b.hi - b.lo) * (value / 127.0);
            } else {
                v = b.hi;  // a note sets the top of the range
            }
            if (b.action == MidiAction::tempo) command(actions, LR_CMD_TEMPO, 0, v, at, false);
            else command(actions, LR_CMD_PARAM, b.index, v, at, false, b.param);
            return;
        }
        case MidiAction::tap:
            if (pressed) tap(at, actions);
            return;
        case MidiAction::scene: {
            // Launcher rows of 8: the row's loaded slots play; in each of its
            // columns the other rows' slots stop (as a clip launcher's scene).
            if (!pressed) return;
            constexpr int32_t kRow = 8;
            const int32_t first = b.index * kRow;
            if (first < 0 || first >= slot_count) return;
            const int32_t last = std::min(first + kRow, slot_count);
            for (int32_t s = 0; s < slot_count; ++s) {
                const Slot& slot = slots_[static_cast<uint32_t>(s)];
                if (s >= first && s < last) {
                    if (slot.loaded.sample) command(actions, LR_CMD_PLAY, s, 0.0, at, true);
                } else if (first + s % kRow < last &&
                           ((slot.play.playing && slot.play.pending_stops == 0) || slot.play.pending_starts > 0)) {
                    command(actions, LR_CMD_STOP, s, 0.0, at, true);
                }
            }
            return;
        }
        case MidiAction::transport:
            if (pressed) command(actions, LR_CMD_TRANSPORT, 0, b.index, at, false);
            return;
        case MidiAction::stop_all:
            if (!pressed) return;
            for (int32_t s = 0; s < slot_count; ++s) {
                const SlotPlayback& p = slots_[static_cast<uint32_t>(s)].play;
                if ((p.playing && p.pending_stops == 0) || p.pending_starts > 0)
                    command(actions, LR_CMD_STOP, s, 0.0, at, true);
            }
            return;
        default:
            return;
    }
}

void MidiControl::tap(uint64_t at, Actions& actions) {
    if (tap_count_ > 0 && at - taps_[(tap_count_ - 1) % 4] > kTapReset * sample_rate_) tap_count_ = 0;
    taps_[tap_count_ % 4] = at;
    ++tap_count_;
    if (tap_count_ < 2) return;
    const uint32_t n = std::min<uint32_t>(tap_count_, 4);
    const uint64_t first = taps_[(tap_count_ - n) % 4];
    const double interval = static_cast<double>(at - first) / (n - 1);
    if (interval <= 0.0) return;
    const double bpm = 60.0 * sample_rate_ / interval;
    if (bpm >= MusicalGrid::kMinBpm && bpm <= MusicalGrid::kMaxBpm) command(actions, LR_CMD_TEMPO, 0, bpm, at, false);
}

double MidiControl::current_param(uint32_t id, int32_t index) const {
    if (id < LR_SLOT_PARAMS) {
        if (index < 0 || static_cast<std::size_t>(index) >= slots_.size()) return 0.0;
        return slots_[static_cast<uint32_t>(index)].strip.params[id];
    }
    if (!mix_) return 0.0;
    if (id >= LR_P_GLOBAL_BASE) return mix_->global_params[id - LR_P_GLOBAL_BASE];
    if (index < 0 || index >= LR_GROUPS) return 0.0;
    return mix_->group_params[index][id - LR_P_GROUP_BASE];
}

void MidiControl::emit(uint32_t offset, uint8_t b0, uint8_t b1, uint8_t b2, uint8_t size, uint8_t ports) {
    if (out_count_ >= kMaxOut) return;
    // Keep the list sorted by offset (JACK takes a port's events in time order).
    uint32_t i = out_count_++;
    while (i > 0 && out_[i - 1].offset > offset) {
        out_[i] = out_[i - 1];
        --i;
    }
    MidiOutEvent& e = out_[i];
    e.offset = offset;
    e.size = size;
    e.data[0] = b0;
    e.data[1] = b1;
    e.data[2] = b2;
    e.ports = ports;
}

void MidiControl::clock(uint64_t from, uint64_t to, bool rolling) {
    const uint8_t ports = (table_ && !table_->clock) ? 2 : 3;
    if (!rolling) {
        if (clock_rolling_) emit(static_cast<uint32_t>(from - frame0_), 0xFC, 0, 0, 1, ports);  // stop
        clock_rolling_ = false;
        return;
    }
    const double beat = grid_.beat_at(from);
    const bool sync = clock_sync_.exchange(false, std::memory_order_acq_rel);
    // Where the ticks go on: restarted when the grid jumped (a relocation) or a device asked.
    if (!clock_rolling_ || sync || next_tick_ == INT64_MIN ||
        std::fabs(static_cast<double>(next_tick_) / 24.0 - beat) > 1.0 / 12.0) {
        // Resume on the next 16th (6 ticks): song position, continue (start at 0), then the tick.
        next_tick_ = static_cast<int64_t>(std::ceil(beat * 4.0 - 1e-9)) * 6;
        clock_rolling_ = true;
        clock_started_ = false;
    }
    for (;;) {
        const uint64_t f = grid_.frame_at_or_after(static_cast<double>(next_tick_) / 24.0);
        if (f >= to) break;
        const auto offset = static_cast<uint32_t>(std::max(f, from) - frame0_);
        if (!clock_started_) {
            const int64_t sixteenths = std::max<int64_t>(0, next_tick_ / 6);
            const int64_t bar = 4 * static_cast<int64_t>(std::max<uint32_t>(1, grid_.beats_per_bar()));
            const int64_t wrap = (16384 / bar) * bar;  // song position is 14 bits: wrap on a bar line
            const auto spp = static_cast<uint32_t>(sixteenths % wrap);
            emit(offset, 0xF2, static_cast<uint8_t>(spp & 0x7F), static_cast<uint8_t>(spp >> 7), 3, ports);
            emit(offset, spp == 0 ? 0xFA : 0xFB, 0, 0, 1, ports);
            clock_started_ = true;
        }
        emit(offset, 0xF8, 0, 0, 1, ports);
        ++next_tick_;
    }
}

uint8_t MidiControl::shown_value(const MidiFeedback& f) const {
    const MidiColors& c = table_->colors;
    if (f.index < 0 || static_cast<std::size_t>(f.index) >= slots_.size()) return c.off;
    const Slot& s = slots_[static_cast<uint32_t>(f.index)];
    switch (f.show) {
        case MidiShow::mute: return s.strip.params[LR_P_MUTE] >= 0.5 ? c.on : c.off;
        case MidiShow::solo: return s.strip.params[LR_P_SOLO] >= 0.5 ? c.on : c.off;
        default: break;
    }
    if (!s.loaded.sample) return c.empty;
    if (s.play.pending_starts > 0 || (s.play.playing && s.play.pending_stops > 0)) return c.queued;
    return s.play.playing ? c.playing : c.loaded;
}

void MidiControl::feedback() {
    if (!table_ || table_->feedback_count == 0) return;
    if (refresh_.exchange(false, std::memory_order_acq_rel)) {
        std::fill(std::begin(shown_), std::end(shown_), kUnknown);
        feedback_cursor_ = 0;
    }
    // A bounded number per period (a full refresh of a big grid spreads over a few).
    const uint32_t n = table_->feedback_count;
    const uint32_t offset = nframes_ ? nframes_ - 1 : 0;
    uint32_t sent = 0;
    for (uint32_t k = 0; k < n && sent < kMaxFeedbackPerPeriod; ++k) {
        const uint32_t i = (feedback_cursor_ + k) % n;
        const MidiFeedback& f = table_->feedback[i];
        const uint8_t v = shown_value(f);
        if (v == shown_[i]) continue;
        shown_[i] = v;
        ++sent;
        if (f.is_cc) emit(offset, static_cast<uint8_t>(0xB0 | f.channel), f.number, v, 3, 1);
        else emit(offset, static_cast<uint8_t>(0x90 | f.channel), f.number, v, 3, 1);
        if (sent == kMaxFeedbackPerPeriod) feedback_cursor_ = (i + 1) % n;
    }
}

}  // namespace looprig::rt
