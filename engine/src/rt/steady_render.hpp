// Steady-state renders: the bookkeeping that lets a loop play a render made
// off the audio thread (stretched to one cycle at the master tempo, shifted
// in pitch) at the same phase as what it played before. Owns:
//  - LoopTiming: what the user declared for a slot (loop tempo or length in
//    beats, pitch, mode) and the loop length in beats derived from it;
//  - SteadyRender: the render a slot plays (or is waiting for), what it was
//    made for, and the generation last asked for;
//  - SteadyRenders: deciding whether a slot needs a render, asking the render
//    threads for one (RenderRequest), installing their answers, and binding
//    the main voice to what should play at the same loop phase.
// Every function here runs on the audio thread and is RT safe (no
// allocation, locks, blocking, I/O); each says so.
#pragma once

#include "../worker_queues.hpp"
#include "looprig/shm_layout.h"

#include <cstdint>
#include <vector>

namespace looprig::rt {

class MusicalGrid;
class SampleRefs;
class Voices;
struct Slot;

/// A slot's musical time as declared (LR_CMD_LOOP_TEMPO, PITCH, MODE).
struct LoopTiming {
    double declared_bpm = 0.0;    // LOOP_TEMPO by BPM
    double declared_beats = 0.0;  // LOOP_TEMPO by length in beats
    double loop_beats = 0.0;      // > 0: follows the master tempo
    double pitch = 0.0;           // semitones
    uint32_t mode = LR_MODE_STRETCH;
};

/// A slot's steady-state render.
struct SteadyRender {
    Sample* render = nullptr;   // the render (possibly stale while a new one is made)
    uint64_t frames = 0;        // what `render` was made for
    double pitch = 1.0;
    uint64_t load = 0;          // lr_slot_info::load_count of the source it was made from
    uint32_t generation = 0;
    bool needed = false;
    bool ready = false;
    bool wanted = false;        // a request still has to be queued
};

class SteadyRenders {
public:
    SteadyRenders(const MusicalGrid& grid, Voices& voices, SampleRefs& refs, WorkerQueues& queues)
        : grid_(grid), voices_(voices), refs_(refs), queues_(queues) {}

    /// Frequency multiplier of a pitch setting. RT safe.
    static double pitch_scale(const LoopTiming& t);
    /// What the slot plays now: its render when stretching, else the loaded audio. RT safe.
    static Sample* play_buffer(const Slot& s);
    /// A timing setting (LR_P_PITCH, LR_P_MODE, LR_P_LOOP_BPM, LR_P_LOOP_BEATS)
    /// into t: the loop is declared by tempo or by length, and setting one
    /// (non-zero) clears the other; loop_beats follows. False for any other
    /// id. The caller then refreshes the slot's render. RT safe.
    bool set_timing(LoopTiming& t, uint32_t id, double v, const Sample* loaded) const;
    /// Derive loop_beats from what was declared and the loaded length. RT safe.
    void update_loop_beats(LoopTiming& t, const Sample* loaded) const;
    /// Output frames of one loop cycle (non-integer when following some tempos);
    /// the slot has a sample. RT safe.
    double cycle_frames(const Slot& s) const;
    /// cycle_frames() rounded, at least 1. RT safe.
    uint64_t target_frames(const Slot& s) const;

    /// Play `buffer` on the main voice from frame f on, at the same loop phase,
    /// following the grid or not as the slot says (crossfaded by the declick ramp). RT safe.
    void rebind_main(Slot& s, Sample* buffer, uint64_t f);
    /// Work out whether the slot needs a render and ask for one if its current
    /// render does not fit any more; keep playing meanwhile. RT safe.
    void refresh_render(Slot& s, int32_t index, uint64_t f);
    /// refresh_render() for every slot that follows the master tempo (after a
    /// tempo change: their phase comes from the grid, their renders no longer fit). RT safe.
    void refresh_followers(std::vector<Slot>& slots, uint64_t f);
    /// Queue a render request for the slot (again next period if the queue is full). RT safe.
    void request_render(Slot& s, int32_t index);
    /// Take finished renders, install those still wanted at frame0 (at the
    /// same phase), re-ask for those the queue had no room for. RT safe.
    void install_renders(std::vector<Slot>& slots, uint64_t frame0);

private:
    const MusicalGrid& grid_;
    Voices& voices_;
    SampleRefs& refs_;
    WorkerQueues& queues_;
};

}  // namespace looprig::rt
