// The compiled MIDI map: what each note and CC does, and which of them show
// their target's state on midi_out (LED feedback). Plain data, built by the
// map's owner off the audio thread (midi_map.hpp) and handed to the audio
// thread whole (rt/midi_control.hpp), which only reads it.
#pragma once

#include <cstdint>

namespace looprig {

enum class MidiAction : uint8_t {
    none = 0,
    toggle,       // slot: play if stopped, stop if playing or queued (launch quantize)
    play,         // slot (launch quantize)
    stop,         // slot (launch quantize)
    mute,         // slot: toggle mute (note), or on/off by CC value >= 64
    solo,         // slot: toggle solo (note), or on/off by CC value >= 64
    param,        // a param (slot/group/global) from the CC value: lo..hi, or relative steps
    tempo,        // master tempo from the CC value: lo..hi BPM, or relative steps
    tap,          // tap tempo: the interval between taps sets the tempo
    scene,        // play launcher row `index` (8 slots a row), stop the other rows' slots in its columns
    stop_all,     // stop every slot (launch quantize)
    transport,    // the JACK transport mode `index` (lr_transport_mode: off, follow, master)
    count
};

/// What a note or CC does. `index` is the slot, group or scene; `param` the
/// lr_param for MidiAction::param. Absolute CCs map 0..127 onto lo..hi;
/// relative ones (two's complement: 1..63 up, 65..127 down) step by `step`.
struct MidiBinding {
    MidiAction action = MidiAction::none;
    uint8_t relative = 0;
    uint8_t pad[2] = {};
    int32_t index = 0;
    uint32_t param = 0;
    float lo = 0.0f;
    float hi = 1.0f;
    float step = 0.0f;
};

/// What a feedback message shows.
enum class MidiShow : uint8_t { slot_state = 0, mute, solo };

/// One LED: note or CC `number` on `channel` (0..15) shows `show` of slot `index`.
struct MidiFeedback {
    uint8_t is_cc = 0;
    uint8_t channel = 0;
    uint8_t number = 0;
    MidiShow show = MidiShow::slot_state;
    int32_t index = 0;
};

/// Velocities (note) or values (CC) of each state; Launchpad (MK1 / Mini)
/// colours by default: off, amber, yellow, green, red.
struct MidiColors {
    uint8_t empty = 0;
    uint8_t loaded = 63;   // amber: stopped, ready
    uint8_t queued = 62;   // yellow: waiting for its quantize point to start or stop
    uint8_t playing = 60;  // green
    uint8_t on = 15;       // red: mute / solo on
    uint8_t off = 0;
};

struct MidiTable {
    static constexpr uint32_t kMaxFeedback = 1024;
    MidiBinding note[16][128];
    MidiBinding cc[16][128];
    uint32_t feedback_count = 0;
    MidiFeedback feedback[kMaxFeedback];
    MidiColors colors;
    bool clock = true;  // MIDI clock on midi_out (midi_clock_out always has it)
};

}  // namespace looprig
