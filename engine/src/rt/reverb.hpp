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
//    a multichannel allpass that multiplies the echo density by kLines (16), so
//    a single click becomes about a million echoes within ~40 ms, with a flat
//    spectrum and no metallic ringing (there is no feedback in it); the first
//    steps are short, so the onset is already dense (Gaussian) after a few ms;
//  - a feedback delay network of kLines delay lines whose lengths are primes
//    (mutually prime) spread geometrically over 37..127 ms (1.18 s in all:
//    about 1.2 modes per Hz), mixed by an orthogonal 16x16 Hadamard matrix
//    (lossless; a fast Walsh-Hadamard transform, outputs in a permuted order),
//    with a decay filter on each line:
//    a gain g = 10^(-3 L / (RT60 fs)) for a line of L frames, which makes the
//    mid-frequency decay exactly RT60 whatever the line, times an RBJ high
//    shelf (slope S = 1, centred on the damping frequency) of 20 log10(g) dB,
//    so that above the damping frequency each pass loses twice as many dB and
//    the RT60 there is exactly half;
//  - no modulation of the line lengths. Read through an interpolator, a slowly
//    varying length (0.2..0.4 ms at 0.13..0.83 Hz was tried) either spreads
//    high tones into noise or damps the top octaves: a first-order allpass
//    interpolator jumps in phase at high frequencies each time the integer
//    part of the delay moves (a steady 12 kHz tone through the whole reverb
//    came out with -15 dB of its energy more than 50 Hz away, 5 kHz with
//    -35 dB; unmodulated: below -128 dB); cubic Lagrange loses up to 1 dB per
//    pass at 12 kHz, varying with the fraction, which breaks the exact
//    two-band decay. With 16 lines the late tail's spectrum is already far
//    less peaky and less stationary than with 8;
//  - outputs: each output channel reads about one tap per kTapSpacingMs of
//    every line, evenly spaced over the line from a random phase stratified
//    over the lines (so the taps of all the lines interleave evenly), with
//    random signs (so left and right are decorrelated), each tap weighted by
//    sqrt(L / taps in the line) (equal weight per frame of delay) and by
//    g^(age/L) to undo the decay its sample has not been through yet. The
//    output is then, on average, a fixed fraction of the energy stored in the
//    whole network, which decays exactly exponentially from the first
//    milliseconds: no build-up bump when the lines first come back (as there
//    is when the output is taken at the line ends), and a smooth Schroeder
//    curve.
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
    static constexpr int kLines = 16;
    static constexpr int kDiffusionSteps = 5;
    /// Output taps: about one per this many ms of delay in every line, per output channel.
    static constexpr double kTapSpacingMs = 12.0;

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
    /// Silence: clears every buffer (memset of about 0.8 MB at 48 kHz). RT safe
    void reset();

    /// Finish every glide and crossfade at once. RT safe
    void settle();
    /// A glide (decay, damping) or a pre-delay crossfade is in progress. RT safe.
    bool gliding() const {
        return log_decay_.moving() || log_damping_.moving() || pre_fade_left_ != 0 || pre_cur_ != pre_target_;
    }
    /// The line lengths in frames (mutually prime). RT safe
    const std::array<uint32_t, kLines>& line_frames() const { return line_len_; }
    /// The pre-delay in force (target) in frames. RT safe
    uint32_t predelay_frames() const { return pre_target_; }

private:
    static constexpr uint32_t kChunk = 16;  // frames processed together; glides move the coefficients per chunk

    void update_coefficients();  // from decay_ and damping_ now
    void start_pre_fade(uint32_t d);
    void run_chunk(const float* in_l, const float* in_r, float* out_l, float* out_r, uint32_t n);  // n <= kChunk

    double fs_ = 48000.0;
    uint32_t ramp_ = 0;

    // pre-delay
    std::vector<float> pre_l_, pre_r_;
    uint32_t pre_mask_ = 0, pre_pos_ = 0, pre_max_ = 0;
    uint32_t pre_target_ = 0, pre_cur_ = 0, pre_next_ = 0, pre_fade_left_ = 0;
    double pre_w_ = 0.0, pre_step_ = 0.0;

    // diffusion: one interleaved ring per step, frames of kLines floats
    std::vector<float> diff_[kDiffusionSteps];
    uint32_t diff_mask_[kDiffusionSteps] = {};         // of the float index (frames * kLines)
    uint32_t diff_off_[kDiffusionSteps][kLines] = {};  // delay * kLines - channel
    float diff_sign_[kDiffusionSteps][kLines] = {};
    uint32_t diff_pos_ = 0;                            // frame counter
    alignas(16) float chunk_in_[kChunk][kLines] = {};  // the diffuser's output for the chunk

    // the network: one ring per line, line j at j * stride_, of size_ frames (a power of two)
    // followed by a mirror of its first kChunk frames, so that kChunk frames from any position
    // are contiguous
    std::vector<float> lines_;
    uint32_t size_ = 0, stride_ = 0, pos_ = 0;
    std::array<uint32_t, kLines> line_len_{};
    // per-line decay filter (float SVF high shelf, gain folded into m0..m2)
    alignas(16) float a1_[kLines] = {}, a2_[kLines] = {}, a3_[kLines] = {};
    alignas(16) float m0_[kLines] = {}, m1_[kLines] = {}, m2_[kLines] = {};
    alignas(16) float ic1_[kLines] = {}, ic2_[kLines] = {};

    // output taps: [channel][tap], tap_count_ of them per channel
    static constexpr int kMaxTaps = 256;
    int tap_count_ = 0;
    int tap_first_[2][kLines + 1] = {};       // the taps of line j are [tap_first_[ch][j], tap_first_[ch][j + 1])
    uint32_t tap_spacing_[2][kLines] = {};    // frames between the taps of a line
    uint32_t tap_delay_[2][kMaxTaps] = {};
    uint32_t tap_line_[2][kMaxTaps] = {};
    float tap_sign_norm_[2][kMaxTaps] = {};  // sign * sqrt(L / taps in the line)
    float tap_gain_[2][kMaxTaps] = {};       // sign_norm * sqrt(kappa) * g^(age/L)

    Glide log_decay_;    // ln(RT60 s)
    Glide log_damping_;  // ln(Hz)
    uint32_t chunk_left_ = 0;  // frames left in the current chunk (0: a new one starts)
};

}  // namespace looprig::rt
