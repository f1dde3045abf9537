// The send-1 effect: a tempo-synced stereo echo with filtered feedback and ping-pong.
//
// Signal flow per channel (line = delay line, D = delay time in frames):
//     out[t]  = line[t - D]                                   (the wet signal)
//     line[t] = in[t] + highcut(lowcut(feedback * out[t]))
// so the first echo is the input itself, D frames later and unfiltered, and
// every later echo has been through the feedback gain and the two filters once
// more. Ping-pong: the mono sum (L+R)/2 enters the left line only, and the
// feedback of each line goes to the other line, so echo k lands on the left
// for odd k and on the right for even k.
#pragma once

#include "filters.hpp"

#include <cstdint>
#include <vector>

namespace looprig::rt {

/// Tempo-synced echo (the engine converts beats to frames and calls set_delay_frames on tempo changes).
class StereoDelay {
public:
    /// Allocates delay lines for up to max_delay_frames. Not RT safe.
    void prepare(double sample_rate, uint32_t max_delay_frames, uint32_t ramp_frames);
    /// Delay time in frames, clamped to 1..max_delay_frames. A change crossfades from the old read tap to the new one over ramp_frames (no pitch glide, no click). RT safe.
    /// A change during a crossfade is taken up when that crossfade ends (so at most two ramps later).
    void set_delay_frames(uint32_t frames);
    uint32_t delay_frames() const { return target_d_; }  // the target in force
    /// 0..0.95 linear, glides. RT safe
    void set_feedback(double gain);
    /// High-pass (12 dB/octave Butterworth) in the feedback path only, glides. RT safe
    void set_lowcut(double hz);
    /// Low-pass (12 dB/octave Butterworth) in the feedback path only, glides. At or above
    /// min(20 kHz, 0.45 fs) (the top of the parameter range) the low-pass is open: it is
    /// crossfaded out and the feedback is not low-passed at all. RT safe
    void set_highcut(double hz);
    /// Crossfades. RT safe
    void set_pingpong(bool on);
    /// Writes the wet signal only (the echoes) to out_*; out may alias in. RT safe.
    void process(const float* in_l, const float* in_r, float* out_l, float* out_r, uint32_t n);
    /// Silence the lines. O(1): the lines are marked empty, not cleared. RT safe.
    void reset();

    /// Finish every glide and crossfade at once (e.g. after setting the initial parameters). RT safe.
    void settle();
    /// A glide or a tap crossfade is in progress. RT safe.
    bool gliding() const {
        return feedback_.moving() || pingpong_.moving() || highcut_on_.moving() || lowcut_.gliding() ||
               highcut_.gliding() || fade_left_ != 0 || cur_d_ != target_d_;
    }
    uint32_t max_delay_frames() const { return max_d_; }

private:
    float read(const std::vector<float>& line, uint32_t d) const {
        return d <= written_ ? line[(pos_ - d) & mask_] : 0.0f;
    }
    void start_fade(uint32_t d);

    double fs_ = 48000.0;
    uint32_t ramp_ = 0;
    uint32_t max_d_ = 1;
    std::vector<float> line_l_, line_r_;
    uint32_t mask_ = 0;
    uint32_t pos_ = 0;       // next write position
    uint32_t written_ = 0;   // frames written since reset (saturates at the line length)

    uint32_t target_d_ = 1;  // last requested
    uint32_t cur_d_ = 1;     // tap in force
    uint32_t next_d_ = 1;    // tap faded to
    uint32_t fade_left_ = 0;
    double fade_w_ = 0.0, fade_step_ = 0.0;

    Glide feedback_;
    Glide pingpong_;    // 0 = straight, 1 = ping-pong
    Glide highcut_on_;  // 1 = low-pass in the loop, 0 = open
    SvfSection lowcut_, highcut_;
};

}  // namespace looprig::rt
