// Second-order filters for the mixer: the RBJ Audio-EQ-Cookbook responses
// (the reference) and the state-variable filter that realises them on the
// audio path.
//
// Why a state-variable filter and not the cookbook's direct-form biquad:
// Andrew Simper's linear trapezoidal SVF (Cytomic, "SvfLinearTrapOptimised2")
// is the bilinear transform, prewarped at the cutoff, of the same analog
// prototypes the cookbook uses, so its steady-state responses are the RBJ
// responses exactly (the unit tests compare them to 0.01 dB). Unlike a direct
// form it keeps a well-defined state (two integrator capacitor "charges")
// when its coefficients change from one sample to the next, so it stays
// stable and click-free under fast parameter sweeps, and it is far less
// sensitive to coefficient rounding at low cutoffs. (Its zero-input state
// update has spectral norm <= 1 for every g, k > 0, so a coefficient change,
// however abrupt, never adds energy to the state.)
#pragma once

#include <cstdint>

namespace looprig::rt {

enum class FilterShape { lowpass, highpass, peaking, low_shelf, high_shelf };

/// Magnitude in dB at frequency f of the RBJ Audio-EQ-Cookbook design (bilinear, prewarped at f0)
/// for the shape; shelves use shelf slope S = 1. `q` is used by lowpass/highpass/peaking; `gain_db` by peaking/shelves.
/// The reference the tests compare the audio path with. Not for the audio path.
/// Evaluated on the analog prototype at the warped frequency tan(pi f/fs) / tan(pi f0/fs),
/// which is what the bilinear transform maps f to. Not RT safe (not meant for it; it does not allocate).
double rbj_magnitude_db(FilterShape shape, double f0, double q, double gain_db, double f, double sample_rate);

/// Coefficients of the linear trapezoidal SVF: g = tan(pi f0 / fs) (scaled for shelves),
/// k = 1/Q (scaled for the peaking filter), output = m0 x + m1 band + m2 low.
struct SvfCoefs {
    double g = 0.0, k = 2.0, m0 = 1.0, m1 = 0.0, m2 = 0.0;
};

/// The SVF coefficients that realise the RBJ design for the shape. f0 is clamped to
/// (0, 0.49 fs], q to [0.01, 100]. RT safe (tan and pow, no allocation).
SvfCoefs svf_design(FilterShape shape, double f0, double q, double gain_db, double sample_rate);

/// Coefficients in the form the per-sample update uses. RT safe.
struct SvfTick {
    double a1 = 1.0, a2 = 0.0, a3 = 0.0, m0 = 1.0, m1 = 0.0, m2 = 0.0;

    static SvfTick from(const SvfCoefs& c) {
        SvfTick t;
        t.a1 = 1.0 / (1.0 + c.g * (c.g + c.k));
        t.a2 = c.g * t.a1;
        t.a3 = c.g * t.a2;
        t.m0 = c.m0;
        t.m1 = c.m1;
        t.m2 = c.m2;
        return t;
    }
    /// One sample through one channel's state (ic1, ic2). RT safe.
    double run(double& ic1, double& ic2, double x) const {
        const double v3 = x - ic2;
        const double v1 = a1 * ic1 + a2 * v3;
        const double v2 = ic2 + a2 * ic1 + a3 * v3;
        ic1 = 2.0 * v1 - ic1;
        ic2 = 2.0 * v2 - ic2;
        return m0 * x + m1 * v1 + m2 * v2;
    }
};

/// A value moving linearly to a target over a number of frames (0 = jump).
/// Double precision so that long glides end exactly on target. RT safe.
struct Glide {
    double value = 0.0;
    double target = 0.0;
    double step = 0.0;
    uint32_t left = 0;

    void jump(double v) {
        value = target = v;
        step = 0.0;
        left = 0;
    }
    /// Glide from where it is now to t. A target equal to the one in force keeps the glide going.
    void set(double t, uint32_t frames) {
        if (t == target && (left || t == value)) return;
        if (frames == 0 || t == value) {
            jump(t);
            return;
        }
        target = t;
        step = (t - value) / static_cast<double>(frames);
        left = frames;
    }
    /// Advance n frames.
    void advance(uint32_t n) {
        if (!left) return;
        if (n >= left) jump(target);
        else {
            value += step * static_cast<double>(n);
            left -= n;
        }
    }
    /// Value for the next frame (advances one frame).
    double next() {
        advance(1);
        return value;
    }
    bool moving() const { return left != 0; }
};

/// One SVF section on a stereo pair whose frequency and Q glide geometrically and whose gain
/// glides linearly in dB. While gliding, exact coefficients are computed every kSegment frames
/// and interpolated linearly sample by sample in between (no zipper noise, and at most
/// two tan/pow per segment); once settled the coefficients are exactly svf_design(targets).
class SvfSection {
public:
    static constexpr uint32_t kSegment = 16;

    /// Shape, rate and glide length. Does not allocate; call before audio. Not RT safe.
    void prepare(FilterShape shape, double sample_rate, uint32_t ramp_frames);
    /// New targets, glided to over ramp_frames from where the glide is now. If the section
    /// is an identity now and stays one (a peaking filter or shelf at 0 dB), it jumps. RT safe.
    void set(double f0, double q, double gain_db);
    /// Jump to these parameters now (no glide), keeping the state. RT safe.
    void set_immediately(double f0, double q, double gain_db);
    /// Finish any glide at once. RT safe.
    void settle();
    /// A glide or an interpolation segment is in progress. RT safe.
    bool gliding() const { return segment_left_ != 0 || freq_.moving() || q_.moving() || gain_.moving(); }
    /// process() is an exact identity now and until the next set(): a peaking filter or
    /// shelf at 0 dB that is not gliding (its m1 and m2 are exactly 0). RT safe.
    bool identity() const;
    /// Clear the state. RT safe.
    void reset() { l1_ = l2_ = r1_ = r2_ = 0.0; }
    /// Filter a stereo pair in place, any n. RT safe.
    void process(float* left, float* right, uint32_t n);
    /// One stereo sample (for feedback loops). RT safe.
    void tick(double& l, double& r) {
        if (gliding()) step_segment();
        l = tick_.run(l1_, l2_, l);
        r = tick_.run(r1_, r2_, r);
    }
    /// States smaller than 1e-30 become 0: a decaying tail never goes denormal. Call once
    /// per block. RT safe.
    void flush_tiny();

    double freq() const;
    double q() const;
    double gain_db() const { return gain_.value; }
    FilterShape shape() const { return shape_; }

private:
    void step_segment();  // advance the per-sample interpolation by one frame
    SvfCoefs design_now() const;

    FilterShape shape_ = FilterShape::peaking;
    double fs_ = 48000.0;
    uint32_t ramp_ = 0;
    Glide freq_;  // log(f0)
    Glide q_;     // log(q)
    Glide gain_;  // dB
    SvfCoefs cur_;       // coefficients at the current frame
    SvfCoefs inc_;       // per-frame increment within the segment
    SvfCoefs end_;       // exact coefficients at the end of the segment
    uint32_t segment_left_ = 0;
    SvfTick tick_;
    double l1_ = 0.0, l2_ = 0.0, r1_ = 0.0, r2_ = 0.0;
};

}  // namespace looprig::rt
