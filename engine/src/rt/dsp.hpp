// Small DSP building blocks shared by the mixer. All RT safe.
#pragma once

#include <cmath>
#include <cstdint>
#include <numbers>
#if defined(__SSE__)
#include <xmmintrin.h>
#endif

namespace looprig::dsp {

/// Set flush-to-zero and denormals-are-zero for the calling thread (x86 SSE;
/// elsewhere nothing): decaying filter, delay and reverb states then cost the
/// same as any other numbers. Cheap enough to call every period. RT safe.
inline void flush_denormals() {
#if defined(__SSE__)
    _mm_setcsr(_mm_getcsr() | 0x8040);  // FTZ (bit 15) | DAZ (bit 6)
#endif
}

/// dB to linear amplitude: 10^(dB/20).
inline double db_to_gain(double db) { return std::pow(10.0, db / 20.0); }

/// The pan laws of a mono source, named by their gain at centre (dB):
/// --pan-law 0 | -3 | -4.5 | -6.
inline bool valid_pan_law(double centre_db) {
    return centre_db == 0.0 || centre_db == -3.0 || centre_db == -4.5 || centre_db == -6.0;
}

/// Balance (a stereo source, or a mono one with the 0 dB law): unity at
/// centre; moving right lowers only the left channel, moving left only the
/// right, by cos(|p| * pi / 2) (-3 dB half way, silent at the end). p in [-1, 1].
inline void balance_gains(double p, double* left, double* right) {
    const double fall = std::cos(std::fabs(p) * std::numbers::pi / 2.0);
    *left = p > 0.0 ? fall : 1.0;
    *right = p < 0.0 ? fall : 1.0;
}

/// Pan of a mono source fed to both channels: theta = (p + 1) * pi / 4,
/// left = cos(theta)^k, right = sin(theta)^k with k = 1 for the -3 dB law
/// (constant power), 1.5 for -4.5 dB, 2 for -6 dB (constant amplitude:
/// left + right = 1); the 0 dB law is the balance. p in [-1, 1].
inline void mono_pan_gains(double p, double centre_db, double* left, double* right) {
    if (centre_db == 0.0) return balance_gains(p, left, right);
    const double theta = (p + 1.0) * std::numbers::pi / 4.0;
    const double c = std::cos(theta);
    const double s = p == 0.0 ? c : std::sin(theta);  // both channels equal to the bit at centre; 0 at the ends
    const double k = centre_db == -6.0 ? 2.0 : centre_db == -4.5 ? 1.5 : 1.0;
    *left = k == 1.0 ? c : std::pow(c, k);
    *right = k == 1.0 ? s : std::pow(s, k);
}

/// Channel gains of a slot's pan p for a source of `channels` (1 = mono,
/// fed to both channels; 2 = stereo): a balance for stereo, the mono law
/// `centre_db` for mono. Unity at centre for stereo, so a stereo file played
/// at the default settings reaches the master bit-identical.
inline void pan_gains(double p, uint32_t channels, double centre_db, double* left, double* right) {
    if (channels == 1) mono_pan_gains(p, centre_db, left, right);
    else balance_gains(p, left, right);
}

/// A linear ramp towards a target over a number of frames (0 = jump).
struct Ramp {
    float value = 0.0f;
    float target = 0.0f;
    float step = 0.0f;
    uint32_t left = 0;

    void jump(float v) {
        value = target = v;
        step = 0.0f;
        left = 0;
    }
    void set(float t, uint32_t frames) {
        if (frames == 0 || t == value) {
            jump(t);
            return;
        }
        target = t;
        step = (t - value) / static_cast<float>(frames);
        left = frames;
    }
    /// Value for the next frame.
    float next() {
        if (left) {
            value += step;
            if (--left == 0) value = target;
        }
        return value;
    }
    /// Advance n frames without producing output.
    void skip(uint32_t n) {
        if (!left) return;
        if (n >= left) jump(target);
        else {
            value += step * static_cast<float>(n);
            left -= n;
        }
    }
    bool moving() const { return left != 0; }
};

}  // namespace looprig::dsp
