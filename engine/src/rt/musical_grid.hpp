// The master musical grid: tempo, time signature (beats per bar), and the mapping between JACK frames
// and beats. Piecewise linear: a tempo change re-anchors the grid at the frame
// it happens, so beat positions stay continuous and every loop that derives
// its phase from the grid stays locked to it. All functions RT safe.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace looprig::rt {

class MusicalGrid {
public:
    static constexpr double kMinBpm = 20.0;
    static constexpr double kMaxBpm = 400.0;
    static constexpr uint32_t kMaxBeatsPerBar = 32;

    void reset(uint64_t frame, double sample_rate, double bpm = 120.0, uint32_t beats_per_bar = 4) {
        anchor_frame_ = frame;
        anchor_beat_ = 0.0;
        bar_anchor_beat_ = 0.0;
        sample_rate_ = sample_rate;
        bpm_ = bpm;
        beats_per_bar_ = beats_per_bar;
    }

    double bpm() const { return bpm_; }
    uint32_t beats_per_bar() const { return beats_per_bar_; }
    double sample_rate() const { return sample_rate_; }
    double frames_per_beat() const { return 60.0 * sample_rate_ / bpm_; }

    /// Beat position at frame f (may be negative before the anchor).
    double beat_at(uint64_t f) const {
        const double frames = f >= anchor_frame_ ? static_cast<double>(f - anchor_frame_)
                                                 : -static_cast<double>(anchor_frame_ - f);
        return snap(anchor_beat_ + frames * bpm_ / (60.0 * sample_rate_));
    }
    /// First frame at or after beat b.
    uint64_t frame_at_or_after(double b) const {
        const double offset = (b - anchor_beat_) * frames_per_beat();
        const double f = static_cast<double>(anchor_frame_) + offset;
        const double r = std::nearbyint(f);
        const double whole = std::fabs(f - r) < 1e-6 ? r : std::ceil(f);
        return whole <= 0.0 ? 0 : static_cast<uint64_t>(whole);
    }
    /// Next frame >= `earliest` on a beat that is a multiple of `every` beats.
    uint64_t next_beat(uint64_t earliest, uint32_t every) const {
        const double step = every ? every : 1;
        const double b = std::ceil(beat_at(earliest) / step - 1e-9) * step;
        return std::max(earliest, frame_at_or_after(b));
    }
    /// Next frame >= `earliest` on a bar start (every `every` bars).
    uint64_t next_bar(uint64_t earliest, uint32_t every) const {
        const double step = static_cast<double>(beats_per_bar_) * (every ? every : 1);
        const double rel = (beat_at(earliest) - bar_anchor_beat_) / step;
        const double b = bar_anchor_beat_ + std::ceil(rel - 1e-9) * step;
        return std::max(earliest, frame_at_or_after(b));
    }

    /// Change tempo from frame f on (the beat position at f is kept).
    void set_tempo(uint64_t f, double bpm) {
        anchor_beat_ = beat_at(f);
        anchor_frame_ = f;
        bpm_ = bpm;
    }
    /// Take position, tempo and beats per bar from outside (the JACK transport): beat
    /// `beat` at frame f; bars start every `beats_per_bar` beats from beat 0.
    void set_position(uint64_t f, double beat, double bpm, uint32_t beats_per_bar) {
        anchor_frame_ = f;
        anchor_beat_ = snap(beat);
        bpm_ = std::clamp(bpm, kMinBpm, kMaxBpm);
        beats_per_bar_ = std::clamp<uint32_t>(beats_per_bar, 1, kMaxBeatsPerBar);
        bar_anchor_beat_ = 0.0;
    }
    /// Change the beats per bar (time signature) from frame f on: bars restart at the bar that f is in.
    void set_beats_per_bar(uint64_t f, uint32_t beats) {
        const double b = beat_at(f);
        const double bar_start =
            bar_anchor_beat_ + std::floor((b - bar_anchor_beat_) / beats_per_bar_ + 1e-9) * beats_per_bar_;
        bar_anchor_beat_ = bar_start;
        beats_per_bar_ = beats;
    }

private:
    /// Beats within 1e-9 of a whole number are that number (float noise on the grid).
    static double snap(double b) {
        const double r = std::nearbyint(b);
        return std::fabs(b - r) < 1e-9 ? r : b;
    }
    uint64_t anchor_frame_ = 0;
    double anchor_beat_ = 0.0;
    double bar_anchor_beat_ = 0.0;
    double sample_rate_ = 48000.0;
    double bpm_ = 120.0;
    uint32_t beats_per_bar_ = 4;
};

}  // namespace looprig::rt
