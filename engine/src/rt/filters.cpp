// RBJ reference responses and the gliding state-variable filter section.
#include "filters.hpp"

#include <algorithm>
#include <cmath>
#include <complex>
#include <numbers>

namespace looprig::rt {

namespace {

constexpr double kPi = std::numbers::pi;
constexpr double kShelfK = std::numbers::sqrt2;  // 1/Q of a shelf with slope S = 1

double clamp_freq(double f0, double fs) { return std::clamp(f0, 1.0, 0.49 * fs); }
double clamp_q(double q) { return std::clamp(q, 0.01, 100.0); }
double clamp_gain(double db) { return std::clamp(db, -60.0, 60.0); }

}  // namespace

double rbj_magnitude_db(FilterShape shape, double f0, double q, double gain_db, double f, double sample_rate) {
    // The cookbook's analog prototypes, H(s) with s normalised to the centre frequency,
    // evaluated at s = j tan(pi f/fs) / tan(pi f0/fs): the bilinear transform prewarped at f0.
    const double omega = std::tan(kPi * f / sample_rate) / std::tan(kPi * f0 / sample_rate);
    const std::complex<double> s(0.0, omega);
    const double A = std::pow(10.0, gain_db / 40.0);
    const double sa = std::sqrt(A);
    std::complex<double> h;
    switch (shape) {
    case FilterShape::lowpass: h = 1.0 / (s * s + s / q + 1.0); break;
    case FilterShape::highpass: h = s * s / (s * s + s / q + 1.0); break;
    case FilterShape::peaking: h = (s * s + s * (A / q) + 1.0) / (s * s + s / (A * q) + 1.0); break;
    case FilterShape::low_shelf:
        h = A * (s * s + sa * kShelfK * s + A) / (A * s * s + sa * kShelfK * s + 1.0);
        break;
    case FilterShape::high_shelf:
        h = A * (A * s * s + sa * kShelfK * s + 1.0) / (s * s + sa * kShelfK * s + A);
        break;
    }
    return 20.0 * std::log10(std::abs(h));
}

SvfCoefs svf_design(FilterShape shape, double f0, double q, double gain_db, double sample_rate) {
    // Cytomic "SvfLinearTrapOptimised2": the same prototypes as above, so the same responses.
    f0 = clamp_freq(f0, sample_rate);
    q = clamp_q(q);
    const double g = std::tan(kPi * f0 / sample_rate);
    SvfCoefs c;
    switch (shape) {
    case FilterShape::lowpass:
        c = {g, 1.0 / q, 0.0, 0.0, 1.0};
        break;
    case FilterShape::highpass:
        c = {g, 1.0 / q, 1.0, -1.0 / q, -1.0};
        break;
    case FilterShape::peaking: {
        const double A = std::pow(10.0, clamp_gain(gain_db) / 40.0);
        const double k = 1.0 / (q * A);
        c = {g, k, 1.0, k * (A * A - 1.0), 0.0};
        break;
    }
    case FilterShape::low_shelf: {
        const double A = std::pow(10.0, clamp_gain(gain_db) / 40.0);
        c = {g / std::sqrt(A), kShelfK, 1.0, kShelfK * (A - 1.0), A * A - 1.0};
        break;
    }
    case FilterShape::high_shelf: {
        const double A = std::pow(10.0, clamp_gain(gain_db) / 40.0);
        c = {g * std::sqrt(A), kShelfK, A * A, kShelfK * (1.0 - A) * A, 1.0 - A * A};
        break;
    }
    }
    return c;
}

void SvfSection::prepare(FilterShape shape, double sample_rate, uint32_t ramp_frames) {
    shape_ = shape;
    fs_ = sample_rate;
    ramp_ = ramp_frames;
    const double f = shape == FilterShape::highpass ? 80.0 : shape == FilterShape::lowpass ? 8000.0 : 1000.0;
    set_immediately(f, std::numbers::sqrt2 / 2.0, 0.0);
    reset();
}

bool SvfSection::identity() const {
    return shape_ != FilterShape::lowpass && shape_ != FilterShape::highpass && gain_.value == 0.0 &&
           !gliding();
}

double SvfSection::freq() const { return std::exp(freq_.value); }
double SvfSection::q() const { return std::exp(q_.value); }

SvfCoefs SvfSection::design_now() const {
    return svf_design(shape_, std::exp(freq_.value), std::exp(q_.value), gain_.value, fs_);
}

void SvfSection::set_immediately(double f0, double q, double gain_db) {
    freq_.jump(std::log(clamp_freq(f0, fs_)));
    q_.jump(std::log(clamp_q(q)));
    gain_.jump(clamp_gain(gain_db));
    cur_ = end_ = design_now();
    inc_ = SvfCoefs{0.0, 0.0, 0.0, 0.0, 0.0};
    segment_left_ = 0;
    tick_ = SvfTick::from(cur_);
}

void SvfSection::set(double f0, double q, double gain_db) {
    gain_db = clamp_gain(gain_db);
    if (identity() && gain_db == 0.0) {  // inaudible change: no glide needed
        set_immediately(f0, q, gain_db);
        return;
    }
    freq_.set(std::log(clamp_freq(f0, fs_)), ramp_);
    q_.set(std::log(clamp_q(q)), ramp_);
    gain_.set(gain_db, ramp_);
}

void SvfSection::settle() {
    if (!gliding()) return;
    freq_.jump(freq_.target);
    q_.jump(q_.target);
    gain_.jump(gain_.target);
    cur_ = end_ = design_now();
    segment_left_ = 0;
    tick_ = SvfTick::from(cur_);
}

void SvfSection::step_segment() {
    if (segment_left_ == 0) {
        uint32_t len = std::max({freq_.left, q_.left, gain_.left});
        len = std::min(len, kSegment);
        freq_.advance(len);
        q_.advance(len);
        gain_.advance(len);
        end_ = design_now();
        const double inv = 1.0 / static_cast<double>(len);
        inc_.g = (end_.g - cur_.g) * inv;
        inc_.k = (end_.k - cur_.k) * inv;
        inc_.m0 = (end_.m0 - cur_.m0) * inv;
        inc_.m1 = (end_.m1 - cur_.m1) * inv;
        inc_.m2 = (end_.m2 - cur_.m2) * inv;
        segment_left_ = len;
    }
    if (--segment_left_ == 0) {
        cur_ = end_;
    } else {
        cur_.g += inc_.g;
        cur_.k += inc_.k;
        cur_.m0 += inc_.m0;
        cur_.m1 += inc_.m1;
        cur_.m2 += inc_.m2;
    }
    tick_ = SvfTick::from(cur_);
}

void SvfSection::process(float* left, float* right, uint32_t n) {
    uint32_t i = 0;
    while (i < n && gliding()) {
        step_segment();
        left[i] = static_cast<float>(tick_.run(l1_, l2_, left[i]));
        right[i] = static_cast<float>(tick_.run(r1_, r2_, right[i]));
        ++i;
    }
    // Settled: constant coefficients, the two channels interleaved for instruction-level parallelism.
    const SvfTick t = tick_;
    double l1 = l1_, l2 = l2_, r1 = r1_, r2 = r2_;
    for (; i < n; ++i) {
        left[i] = static_cast<float>(t.run(l1, l2, left[i]));
        right[i] = static_cast<float>(t.run(r1, r2, right[i]));
    }
    l1_ = l1, l2_ = l2, r1_ = r1, r2_ = r2;
    flush_tiny();
}

void SvfSection::flush_tiny() {
    constexpr double kTiny = 1e-30;
    if (std::fabs(l1_) < kTiny) l1_ = 0.0;
    if (std::fabs(l2_) < kTiny) l2_ = 0.0;
    if (std::fabs(r1_) < kTiny) r1_ = 0.0;
    if (std::fabs(r2_) < kTiny) r2_ = 0.0;
}

}  // namespace looprig::rt
