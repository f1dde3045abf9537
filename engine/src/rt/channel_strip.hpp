// The per-slot channel strip: high-pass, low-pass and a 3-band EQ (low shelf,
// peaking mid, high shelf), each an RBJ-cookbook response realised by a
// linear trapezoidal state-variable filter (filters.hpp).
#pragma once

#include "filters.hpp"

#include <cstdint>

namespace looprig::rt {

struct StripSettings {
    bool hp_on = false; double hp_freq = 80, hp_q = 0.7071067811865476;
    bool lp_on = false; double lp_freq = 8000, lp_q = 0.7071067811865476;
    bool eq_on = true;
    double low_freq = 200, low_gain_db = 0;
    double mid_freq = 1000, mid_gain_db = 0, mid_q = 0.7071067811865476;
    double high_freq = 5000, high_gain_db = 0;
};

/// Per-slot stereo filters in series: high-pass, low-pass, low shelf, peaking mid, high shelf.
///
/// Sections that are off, or EQ bands at 0 dB, are skipped (and their states cleared, so they
/// restart from silence when they come back, under a crossfade or a gain glide from 0 dB).
/// Switches crossfade the section's output with its input (hp, lp) or the output of the three
/// EQ bands with their input (eq) over ramp_frames.
class ChannelStrip {
public:
    /// ramp_frames: length of parameter glides and on/off crossfades (the engine passes 20 ms). Not RT safe (call before audio).
    void prepare(double sample_rate, uint32_t ramp_frames);
    /// New targets; each parameter glides to its target over ramp_frames (frequencies and Q geometrically, gains linearly in dB); a switch crossfades between bypass and filtered over ramp_frames. A new set() during a glide starts from where the glide is. RT safe.
    void set(const StripSettings& s);
    /// Jump to these settings at once (no glide), keeping filter states. RT safe.
    void set_immediately(const StripSettings& s);
    /// Filter in place, any n. RT safe.
    void process(float* left, float* right, uint32_t n);
    /// True when process() would be an exact identity (all sections off or at 0 dB, nothing gliding): the engine then skips process(). RT safe.
    bool transparent() const;
    /// Clear filter states (e.g. when a slot restarts from silence). RT safe.
    void reset();
    /// Finish every glide and crossfade at once: a silent slot's new settings
    /// are in force when it starts, not glided into over its first 20 ms. RT safe.
    void settle();

    /// The settings last given (the targets in force). RT safe.
    const StripSettings& settings() const { return settings_; }

private:
    static constexpr uint32_t kChunk = 128;  // frames per pass of the sections (scratch size)

    /// A switchable group of sections in series with its bypass crossfade weight.
    void run_stage(SvfSection* sections, int count, Glide& weight, float* left, float* right, uint32_t n);
    static bool stage_off(const Glide& w) { return w.value == 0.0 && !w.moving(); }
    bool eq_identity() const;

    double fs_ = 48000.0;
    uint32_t ramp_ = 0;
    StripSettings settings_;
    SvfSection hp_, lp_;
    SvfSection eq_[3];  // low shelf, peaking mid, high shelf
    Glide hp_w_, lp_w_, eq_w_;  // 0 = bypassed, 1 = filtered
    float dry_l_[kChunk] = {};
    float dry_r_[kChunk] = {};
};

}  // namespace looprig::rt
