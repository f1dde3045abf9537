// MIDI controllers, the audio thread's side (docs/MIDI.md). Once per period:
//  - take_table(): adopt a new compiled map (midi_table.hpp) handed over by
//    its owner (MidiMapOwner, midi_map.hpp) — the old one goes back to it;
//  - handle_input(): each event of midi_in becomes a command, as a client's
//    would, taking effect exactly one period after the event's frame (or at
//    the next launch-quantize point after that); while a learn is armed the
//    next note/CC is handed to the owner instead;
//  - clock(): MIDI clock (24 per beat), start/stop/song position from the
//    master grid, on the frame of each tick (called per sub-block, so a tempo
//    change inside a period is followed);
//  - feedback(): each LED bound to a slot shows its state, sent when it changes
//    and all again when a controller connects (request_refresh()).
// Every function says whether it is RT safe; the RT ones run on the audio
// thread only (no allocation, locks, blocking, I/O).
#pragma once

#include "../midi_table.hpp"
#include "../spsc_queue.hpp"
#include "looprig/shm_layout.h"

#include <atomic>
#include <cstdint>
#include <vector>

namespace looprig::rt {

class Actions;
class ClientProtocol;
class MusicalGrid;
struct Slot;

/// One event read from midi_in (at most 3 bytes are looked at).
struct MidiInEvent {
    uint32_t offset = 0;  // frame inside the period
    uint8_t size = 0;
    uint8_t data[3] = {};
};

/// One event for the MIDI outs: `ports` bit 0 = midi_out, bit 1 = midi_clock_out.
struct MidiOutEvent {
    uint32_t offset = 0;
    uint8_t size = 0;
    uint8_t data[3] = {};
    uint8_t ports = 1;
};

/// LR_CMD_MIDI_LEARN / LR_CMD_MIDI_MAP for the map's owner (a learn carries the
/// note/CC that came): audio thread -> owner.
struct MidiRequest {
    uint32_t place = 0;
    lr_command cmd{};
    uint8_t is_cc = 0;
    uint8_t channel = 0;
    uint8_t number = 0;
};

/// The owner's answer to a MidiRequest: owner -> audio thread, which replies.
struct MidiAnswer {
    uint32_t place = 0;
    lr_command cmd{};
    int32_t code = 0;
    char message[LR_MESSAGE_MAX] = {};
};

class MidiControl {
public:
    static constexpr uint32_t kMaxOut = 1024;  // events per period on the MIDI outs
    static constexpr uint32_t kMaxFeedbackPerPeriod = 128;

    /// Not RT safe.
    MidiControl(std::vector<Slot>& slots, const MusicalGrid& grid, ClientProtocol& protocol,
                const lr_mix_meter* mix, uint32_t sample_rate);
    ~MidiControl();

    // ---- the map's owner (one non-RT thread) ----
    /// Hand a table to the audio thread (it adopts it at its next period).
    /// Returns false if the previous one was not taken yet (try again). Not RT safe.
    bool offer(MidiTable* table);
    /// A table the audio thread no longer uses, or nullptr. Not RT safe.
    MidiTable* take_retired() { return retired_.exchange(nullptr, std::memory_order_acq_rel); }
    SpscQueue<MidiRequest>& requests() { return requests_; }
    SpscQueue<MidiAnswer>& answers() { return answers_; }
    /// Send every LED again (a controller connected to midi_out). Any thread.
    void request_refresh() { refresh_.store(true, std::memory_order_release); }
    /// Also restart the clock with song position + continue (a device connected). Any thread.
    void request_clock_sync() { clock_sync_.store(true, std::memory_order_release); }
    uint64_t events_in() const { return events_in_.load(std::memory_order_relaxed); }

    // ---- the audio thread ----
    /// Adopt an offered table; reply the owner's answers. RT safe.
    void begin_period(uint64_t frame0, uint32_t nframes);
    /// LR_CMD_MIDI_LEARN (arm: the next note/CC goes to the owner) and
    /// LR_CMD_MIDI_MAP (to the owner), validated. RT safe.
    void request(uint32_t place, const lr_command& cmd);
    /// midi_in's events of this period (in time order). RT safe.
    void handle_input(const MidiInEvent* events, uint32_t count, Actions& actions);
    /// Clock ticks due in [from, to) (a sub-block of this period). RT safe.
    void clock(uint64_t from, uint64_t to, bool rolling);
    /// LEDs whose state changed (end of the period). RT safe.
    void feedback();
    /// This period's output events, sorted by offset. RT safe.
    const MidiOutEvent* out_events() const { return out_; }
    uint32_t out_count() const { return out_count_; }

private:
    void handle_event(const MidiInEvent& e, Actions& actions);
    void act(const MidiBinding& b, bool is_cc, uint8_t channel, uint8_t number, uint8_t value, uint64_t at,
             Actions& actions);
    void command(Actions& actions, uint32_t type, int32_t slot, double value, uint64_t at, bool quantized,
                 uint32_t param = 0);
    void tap(uint64_t at, Actions& actions);
    double current_param(uint32_t id, int32_t index) const;
    uint8_t shown_value(const MidiFeedback& f) const;
    void emit(uint32_t offset, uint8_t b0, uint8_t b1, uint8_t b2, uint8_t size, uint8_t ports);

    std::vector<Slot>& slots_;
    const MusicalGrid& grid_;
    ClientProtocol& protocol_;
    const lr_mix_meter* mix_;
    uint32_t sample_rate_;
    std::atomic<MidiTable*> offered_{nullptr};
    std::atomic<MidiTable*> retired_{nullptr};
    MidiTable* table_ = nullptr;
    SpscQueue<MidiRequest> requests_{64};
    SpscQueue<MidiAnswer> answers_{64};
    std::atomic<bool> refresh_{true};
    std::atomic<bool> clock_sync_{false};
    std::atomic<uint64_t> events_in_{0};
    // learn
    bool learning_ = false;
    uint32_t learn_place_ = 0;
    lr_command learn_cmd_{};
    // this period
    uint64_t frame0_ = 0;
    uint32_t nframes_ = 0;
    MidiOutEvent out_[kMaxOut];
    uint32_t out_count_ = 0;
    uint32_t next_command_id_ = 1;
    // feedback: what each LED shows now (0xFF: unknown, send)
    uint8_t shown_[MidiTable::kMaxFeedback];
    uint32_t feedback_cursor_ = 0;
    // tap tempo
    uint64_t taps_[4] = {};
    uint32_t tap_count_ = 0;
    // clock
    int64_t next_tick_ = INT64_MIN;  // the next tick's number (beats * 24); INT64_MIN = find it
    bool clock_rolling_ = false;
    bool clock_started_ = false;
};

}  // namespace looprig::rt
