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

/// Constant-power pan law, -3 dB at centre: theta = (p + 1) * pi / 4,
/// left = cos(theta), right = sin(theta); p in [-1, 1].
inline void pan_gains(double p, double* left, double* right) {
    const double theta = (p + 1.0) * std::numbers::pi / 4.0;
    *left = std::cos(theta);
    *right = std::sin(theta);
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
