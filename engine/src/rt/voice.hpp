// Voices and sample references. Owns:
//  - Voice: one playback of a Sample, anchored at a frame or on the master
//    grid, with its declick envelope;
//  - SlotPlayback: a slot's main voice and fading tail, and the start/stop
//    bookkeeping of the schedule (pending starts/stops, pre-roll, quantize grid);
//  - SampleRefs: the audio thread's reference counts of Samples (a sample no
//    one references goes to the garbage queue, for housekeeping to delete);
//  - Voices: starting, fading and playing voices (exactly, or Hermite-
//    interpolated varispeed when a follower's cycle is not its length),
//    wrapping at the loop point.
// Every function here runs on the audio thread and is RT safe (no
// allocation, locks, blocking, I/O); each says so.
#pragma once

#include "../sample.hpp"
#include "../spsc_queue.hpp"
#include "dsp.hpp"
#include "musical_grid.hpp"

#include <cmath>
#include <cstdint>

namespace looprig::rt {

/// One playback of a sample from `origin` (the frame where its frame 0 plays).
struct Voice {
    Sample* sample = nullptr;
    uint64_t origin = 0;       // not grid-locked: frame where loop frame 0 played
    bool grid_locked = false;  // following the master tempo: phase from the grid
    double start_beat = 0.0;   // grid-locked: master beat where loop frame 0 played
    double beats = 0.0;        // grid-locked: loop length in beats
    dsp::Ramp env;
    bool releasing = false;
    /// RT safe.
    bool active() const { return sample != nullptr; }
};

/// What a slot plays: the main voice, the tail fading out after a stop,
/// retrigger or swap, and what the schedule has in store for them.
struct SlotPlayback {
    Voice main;   // what plays
    Voice tail;   // what fades out after a stop, retrigger or swap
    bool playing = false;
    uint64_t start_frame = 0;
    uint32_t pending_starts = 0;
    uint32_t pending_stops = 0;
    uint64_t pre_roll_for = 0;  // the start frame the main voice is pre-rolling into (0 = none)
    bool grid_valid = false;    // for quantize slot:K
    uint64_t grid_origin = 0;
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

/// The audio thread's references to Samples (slot, main voice, fading voice,
/// render): at zero the sample goes to the garbage queue, which is sized so
/// that it cannot fill (every sample that can exist at once fits).
class SampleRefs {
public:
    explicit SampleRefs(SpscQueue<Sample*>& garbage) : garbage_(garbage) {}
    /// RT safe.
    static void retain(Sample* s) {
        if (s) ++s->rt_refs;
    }
    /// RT safe.
    void release(Sample* s) {
        if (s && --s->rt_refs == 0) garbage_.push(s);
    }
    /// A sample no one references (a render that came too late): to the garbage queue. RT safe.
    void discard(Sample* s) { garbage_.push(s); }

private:
    SpscQueue<Sample*>& garbage_;
};

/// Starting, fading and playing voices, on the master grid when they follow it.
class Voices {
public:
    Voices(const MusicalGrid& grid, SampleRefs& refs, uint32_t declick_frames)
        : grid_(grid), refs_(refs), declick_frames_(declick_frames) {}

    /// Start/stop/swap ramp length (LR_CMD_DECLICK). RT safe.
    uint32_t declick_frames() const { return declick_frames_; }
    void set_declick_frames(uint32_t frames) { declick_frames_ = frames; }

    /// Loop phase (0..1) of a voice at frame f. RT safe.
    double voice_phase(const Voice& v, uint64_t f) const;
    /// Release the voice's sample and silence it. RT safe.
    void drop_voice(Voice& v);
    /// Fade the main voice out as the tail (cutting an older tail). RT safe.
    void main_to_tail(SlotPlayback& p);
    /// Play `sample` on the main voice, its frame 0 at `origin`, fading in
    /// over the declick ramp; not grid-locked. RT safe.
    void start_main(SlotPlayback& p, Sample* sample, uint64_t origin);

    /// Add frames [from, from + n) of the voice into left/right (with its
    /// envelope); a releasing voice whose fade has ended is dropped. A
    /// grid-locked voice takes its phase from the grid at every call; if its
    /// cycle is not its sample's length it is read varispeed. RT safe.
    void play_voice(Voice& v, uint64_t from, uint32_t n, float* left, float* right);
    /// Read a loop at fractional positions (`step` source frames per output
    /// frame), wrapping around, with Hermite interpolation; add into
    /// left/right with the voice's envelope. RT safe.
    static void play_varispeed(Voice& v, double pos, double step, uint32_t n, float* left, float* right);
    /// What the voice played over frames [from, from + n), written (not
    /// added) without its envelope and without side effects (no ramp moves,
    /// nothing dropped); a follower read at the present tempo. RT safe.
    void peek_voice(const Voice& v, uint64_t from, uint32_t n, float* left, float* right) const;

private:
    const MusicalGrid& grid_;
    SampleRefs& refs_;
    uint32_t declick_frames_;
};

}  // namespace looprig::rt
