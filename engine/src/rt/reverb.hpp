// The send-2 effect: an algorithmic stereo reverb (wet output only).
//
// Why algorithmic and not convolution (e.g. zita-convolver): a feedback delay
// network needs no impulse-response assets to ship, load or resample; its
// decay time and damping are continuous parameters that can be changed live
// (a convolution reverb would need a new IR rendered and swapped in); its CPU
// cost is small and fixed, independent of the decay time, and the same in
// every period (partitioned convolution of a 5 s IR costs far more and has
// uneven per-period cost); and it runs entirely in the audio callback, with no
// extra threads to schedule and synchronise.
//
// Design (all lengths scaled to the sample rate):
//  - pre-delay (0..250 ms), changed by crossfading two read taps (no pitch glide, no click);
//  - input diffusion: the stereo input is spread over kLines channels and sent
//    through kDiffusionSteps steps of (a different short delay per channel,
//    polarity flips, a Hadamard matrix). Each step is lossless (paraunitary):
//    a multichannel allpass that multiplies the echo density by kLines, so
//    a single click becomes thousands of echoes within ~35 ms, with a flat
//    spectrum and no metallic ringing (there is no feedback in it);
//  - a feedback delay network of kLines delay lines whose lengths are primes
//    (mutually prime) spread over 45..100 ms, mixed by an orthogonal Hadamard
//    matrix (lossless), with a decay filter on each line: a gain
//    g = 10^(-3 L / (RT60 fs)) for a line of L frames, which makes the
//    mid-frequency decay exactly RT60 whatever the line, times an RBJ high
//    shelf (slope S = 1, centred on the damping frequency) of 20 log10(g) dB,
//    so that above the damping frequency each pass loses twice as many dB and
//    the RT60 there is exactly half;
//  - outputs: each output channel reads kTaps taps inside every line, evenly
//    spaced over the line from its own random phase, with random signs (so left
//    and right are decorrelated), each tap weighted by sqrt(L) (equal tap
//    density per frame of delay in every line) and by g^(age/L) to undo the
//    decay its sample has not been through yet. The output is then, on average,
//    a fixed fraction of the energy stored in the whole network, which decays
//    exactly exponentially from the first milliseconds: no build-up bump when
//    the lines first come back (as there is when the output is taken at the
//    line ends), and a smooth Schroeder curve;
//  - no modulation: it would blur the exact RT60 and the monotonic decay; the
//    echo density of the diffuser and the prime line lengths keep the tail
//    free of flutter.
// Level: for a unit impulse each output carries an energy of about
// 0.5 * sqrt(RT60 / 2 s) (so 0 dB in total at 2 s; longer decays are somewhat
// louder overall, as in a real room), with sample peaks far below 0 dBFS.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "filters.hpp"

namespace looprig::rt {

/// Algorithmic stereo reverb of studio quality (wet output only).
class Reverb {
public:
    static constexpr int kLines = 8;
    static constexpr int kDiffusionSteps = 4;
    static constexpr int kTaps = 6;  // output taps per line per output channel

    /// Allocates. Not RT safe
    void prepare(double sample_rate, uint32_t ramp_frames);
    /// 0.1..30, mid-frequency RT60; glides. RT safe
    void set_decay(double rt60_seconds);
    /// 500..20000: above it the RT60 is half; glides. RT safe
    void set_damping(double hz);
    /// 0..250; changes without clicks (crossfade between two read taps). RT safe
    void set_predelay_ms(double ms);
    /// Writes the wet signal; out may alias in. RT safe
    void process(const float* in_l, const float* in_r, float* out_l, float* out_r, uint32_t n);
    /// Silence: clears every buffer (memset of about 0.5 MB at 48 kHz). RT safe
    void reset();

    /// Finish every glide and crossfade at once. RT safe
    void settle();
    /// The line lengths in frames (mutually prime). RT safe
    const std::array<uint32_t, kLines>& line_frames() const { return line_len_; }
    /// The pre-delay in force (target) in frames. RT safe
    uint32_t predelay_frames() const { return pre_target_; }

private:
    static constexpr uint32_t kSegment = 16;  // coefficients are recomputed this often while gliding

    void update_coefficients();  // from decay_ and damping_ now
    void start_pre_fade(uint32_t d);

    double fs_ = 48000.0;
    uint32_t ramp_ = 0;

    // pre-delay
    std::vector<float> pre_l_, pre_r_;
    uint32_t pre_mask_ = 0, pre_pos_ = 0, pre_max_ = 0;
    uint32_t pre_target_ = 0, pre_cur_ = 0, pre_next_ = 0, pre_fade_left_ = 0;
    double pre_w_ = 0.0, pre_step_ = 0.0;

    // diffusion: one interleaved ring per step, frames of kLines floats
    std::vector<float> diff_[kDiffusionSteps];
    uint32_t diff_mask_[kDiffusionSteps] = {};
    uint32_t diff_delay_[kDiffusionSteps][kLines] = {};
    float diff_sign_[kDiffusionSteps][kLines] = {};
    uint32_t diff_pos_ = 0;

    // the network: one interleaved ring, frames of kLines floats
    std::vector<float> lines_;
    uint32_t mask_ = 0, pos_ = 0;
    std::array<uint32_t, kLines> line_len_{};
    // per-line decay filter (float SVF high shelf, gain folded into m0..m2)
    alignas(32) float a1_[kLines] = {}, a2_[kLines] = {}, a3_[kLines] = {};
    alignas(32) float m0_[kLines] = {}, m1_[kLines] = {}, m2_[kLines] = {};
    alignas(32) float ic1_[kLines] = {}, ic2_[kLines] = {};

    // output taps: [channel][line * kTaps + t]
    static constexpr int kTapCount = kLines * kTaps;
    uint32_t tap_delay_[2][kTapCount] = {};
    uint32_t tap_line_[2][kTapCount] = {};
    float tap_sign_norm_[2][kTapCount] = {};  // sign * sqrt(L / kTaps)
    float tap_gain_[2][kTapCount] = {};       // sign_norm * sqrt(kappa) * g^(age/L)

    Glide log_decay_;    // ln(RT60 s)
    Glide log_damping_;  // ln(Hz)
    uint32_t segment_left_ = 0;
};

}  // namespace looprig::rt
