// The interim pitch shifter: while the render of a new pitch is being made,
// what a slot plays is shifted by the missing ratio so the change is heard at
// once. Owns ShifterState (a slot's delay lines, taps and wet ramp; the lines
// live in one block that InterimShifter allocates up front), the Doppler
// shifter itself (shift_pitch) and the decision per sub-block (run). Every
// function but the constructor runs on the audio thread and is RT safe (no
// allocation, locks, blocking, I/O); each says so.
#pragma once

#include "dsp.hpp"

#include <cstdint>
#include <vector>

namespace looprig::rt {

class Voices;
struct Slot;

/// Delay lines of the interim pitch shifter: 2048 frames (43 ms at 48 kHz).
constexpr uint32_t kShiftWindow = 2048;

/// A slot's shifter: two delay lines of kShiftWindow frames (contiguous: the
/// right one follows the left), the write position, the first tap's delay
/// and the wet share (0 = dry, the shifter idle).
struct ShifterState {
    float* buf[2] = {nullptr, nullptr};
    uint32_t write = 0;
    double delay = 0.0;
    dsp::Ramp wet;
};

/// Doppler pitch shifter: two taps half a window apart sweep through a delay
/// line at (1 - ratio) frames per frame, with sine gains that are zero where a
/// tap wraps. Cheap and immediate; used only until the render of a new pitch
/// arrives. Shifts l/r (n frames) in place, mixed by the wet ramp. RT safe.
void shift_pitch(ShifterState& s, float* l, float* r, uint32_t n, double ratio);

class InterimShifter {
public:
    /// Allocates every slot's delay lines. Not RT safe.
    explicit InterimShifter(uint32_t slot_count);
    /// Point each slot's ShifterState at its delay lines. Not RT safe.
    void attach(std::vector<Slot>& slots);

    /// Shift what the slot played over [from, from + n) (in l/r) while a
    /// render for a new pitch is pending; fade out when it is not. A slot that
    /// needs no shift costs nothing here: when one starts, the delay lines are
    /// filled with what the main voice played in the last window (read again
    /// from the loop, once), instead of being kept filled all the time. RT safe.
    void run(Slot& s, const Voices& voices, uint64_t from, float* l, float* r, uint32_t n);

private:
    std::vector<float> storage_;
};

}  // namespace looprig::rt
