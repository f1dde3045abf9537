// The mixer's DSP building blocks: the RBJ reference, the channel strip, the
// stereo delay and the reverb, measured by feeding real signals through them.
#include "channel_strip.hpp"
#include "filters.hpp"
#include "reverb.hpp"
#include "stereo_delay.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <complex>
#include <cstdio>
#include <cstring>
#include <numbers>
#include <string>
#include <vector>

using namespace looprig::rt;

namespace {

constexpr double kPi = std::numbers::pi;
constexpr double kQ = 0.7071067811865476;
constexpr uint32_t kBlock = 64;

/// Deterministic white noise in [-1, 1).
struct Noise {
    uint64_t s = 0x2545F4914F6CDD1Dull;
    uint64_t bits() {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        return s;
    }
    double uniform() { return static_cast<double>(bits() >> 11) * (1.0 / 9007199254740992.0); }  // [0, 1)
    float next() { return static_cast<float>(2.0 * uniform() - 1.0); }
};

/// Amplitude of the sinusoid at frequency f in y (least-squares fit of cos, sin and a constant).
double sine_amplitude(const float* y, size_t n, double f, double fs) {
    double m[3][3] = {}, v[3] = {};
    const double w = 2.0 * kPi * f / fs;
    for (size_t i = 0; i < n; ++i) {
        const double b[3] = {std::cos(w * static_cast<double>(i)), std::sin(w * static_cast<double>(i)), 1.0};
        for (int r = 0; r < 3; ++r) {
            v[r] += b[r] * y[i];
            for (int c = 0; c < 3; ++c) m[r][c] += b[r] * b[c];
        }
    }
    // Gaussian elimination with partial pivoting.
    int idx[3] = {0, 1, 2};
    for (int col = 0; col < 3; ++col) {
        int piv = col;
        for (int r = col + 1; r < 3; ++r)
            if (std::fabs(m[idx[r]][col]) > std::fabs(m[idx[piv]][col])) piv = r;
        std::swap(idx[col], idx[piv]);
        for (int r = col + 1; r < 3; ++r) {
            const double k = m[idx[r]][col] / m[idx[col]][col];
            for (int c = col; c < 3; ++c) m[idx[r]][c] -= k * m[idx[col]][c];
            v[idx[r]] -= k * v[idx[col]];
        }
    }
    double x[3];
    for (int r = 2; r >= 0; --r) {
        double s = v[idx[r]];
        for (int c = r + 1; c < 3; ++c) s -= m[idx[r]][c] * x[c];
        x[r] = s / m[idx[r]][r];
    }
    return std::hypot(x[0], x[1]);
}

std::vector<double> log_spaced(int count, double lo, double hi) {
    std::vector<double> f(count);
    for (int i = 0; i < count; ++i) f[i] = lo * std::pow(hi / lo, static_cast<double>(i) / (count - 1));
    return f;
}

/// The cookbook biquad (b0, b1, b2, a0, a1, a2), written out independently of the code under test.
struct Biquad {
    double b0, b1, b2, a0, a1, a2;
};

Biquad cookbook(FilterShape shape, double f0, double q, double gain_db, double fs) {
    const double A = std::pow(10.0, gain_db / 40.0);
    const double w0 = 2.0 * kPi * f0 / fs;
    const double cs = std::cos(w0), sn = std::sin(w0);
    const double alpha = sn / (2.0 * q);
    const double S = 1.0;
    const double alpha_shelf = sn / 2.0 * std::sqrt((A + 1.0 / A) * (1.0 / S - 1.0) + 2.0);
    const double sa = 2.0 * std::sqrt(A) * alpha_shelf;
    switch (shape) {
    case FilterShape::lowpass: return {(1 - cs) / 2, 1 - cs, (1 - cs) / 2, 1 + alpha, -2 * cs, 1 - alpha};
    case FilterShape::highpass: return {(1 + cs) / 2, -(1 + cs), (1 + cs) / 2, 1 + alpha, -2 * cs, 1 - alpha};
    case FilterShape::peaking: return {1 + alpha * A, -2 * cs, 1 - alpha * A, 1 + alpha / A, -2 * cs, 1 - alpha / A};
    case FilterShape::low_shelf:
        return {A * ((A + 1) - (A - 1) * cs + sa), 2 * A * ((A - 1) - (A + 1) * cs), A * ((A + 1) - (A - 1) * cs - sa),
                (A + 1) + (A - 1) * cs + sa, -2 * ((A - 1) + (A + 1) * cs), (A + 1) + (A - 1) * cs - sa};
    case FilterShape::high_shelf:
        return {A * ((A + 1) + (A - 1) * cs + sa), -2 * A * ((A - 1) + (A + 1) * cs), A * ((A + 1) + (A - 1) * cs - sa),
                (A + 1) - (A - 1) * cs + sa, 2 * ((A - 1) - (A + 1) * cs), (A + 1) - (A - 1) * cs - sa};
    }
    return {1, 0, 0, 1, 0, 0};
}

double biquad_db(const Biquad& b, double f, double fs) {
    const std::complex<double> z1 = std::polar(1.0, -2.0 * kPi * f / fs);
    const std::complex<double> h = (b.b0 + b.b1 * z1 + b.b2 * z1 * z1) / (b.a0 + b.a1 * z1 + b.a2 * z1 * z1);
    return 20.0 * std::log10(std::abs(h));
}

/// A direct-form-I biquad in double, for band-limiting test signals.
struct Df1 {
    Biquad c;
    double x1 = 0, x2 = 0, y1 = 0, y2 = 0;
    double run(double x) {
        const double y = (c.b0 * x + c.b1 * x1 + c.b2 * x2 - c.a1 * y1 - c.a2 * y2) / c.a0;
        x2 = x1, x1 = x, y2 = y1, y1 = y;
        return y;
    }
};

/// Band-pass lo..hi: two Butterworth high-passes and two low-passes (24 dB/octave skirts).
std::vector<double> bandpass(const std::vector<float>& x, double lo, double hi, double fs) {
    Df1 f[4] = {{cookbook(FilterShape::highpass, lo, kQ, 0, fs)}, {cookbook(FilterShape::highpass, lo, kQ, 0, fs)},
                {cookbook(FilterShape::lowpass, hi, kQ, 0, fs)}, {cookbook(FilterShape::lowpass, hi, kQ, 0, fs)}};
    std::vector<double> y(x.size());
    for (size_t i = 0; i < x.size(); ++i) {
        double v = x[i];
        for (Df1& s : f) v = s.run(v);
        y[i] = v;
    }
    return y;
}

// ---------------------------------------------------------------- channel strip helpers

double expected_db(const StripSettings& s, double f, double fs) {
    double e = 0.0;
    if (s.hp_on) e += rbj_magnitude_db(FilterShape::highpass, s.hp_freq, s.hp_q, 0.0, f, fs);
    if (s.lp_on) e += rbj_magnitude_db(FilterShape::lowpass, s.lp_freq, s.lp_q, 0.0, f, fs);
    if (s.eq_on) {
        e += rbj_magnitude_db(FilterShape::low_shelf, s.low_freq, kQ, s.low_gain_db, f, fs);
        e += rbj_magnitude_db(FilterShape::peaking, s.mid_freq, s.mid_q, s.mid_gain_db, f, fs);
        e += rbj_magnitude_db(FilterShape::high_shelf, s.high_freq, kQ, s.high_gain_db, f, fs);
    }
    return e;
}

/// Steady-state gain (dB) of the strip at f, measured on both channels (sine left, cosine right,
/// different amplitudes). Returns the larger deviation from `expect` of the two.
double strip_error_db(const StripSettings& s, double f, double fs, double expect, double* measured) {
    ChannelStrip cs;
    cs.prepare(fs, static_cast<uint32_t>(0.02 * fs));
    cs.set_immediately(s);
    const size_t settle = static_cast<size_t>(0.25 * fs);
    const size_t meas = static_cast<size_t>(std::max(0.5, 20.0 / f) * fs);
    const size_t total = settle + meas;
    std::vector<float> l(total), r(total), il(total), ir(total);
    for (size_t i = 0; i < total; ++i) {
        const double ph = 2.0 * kPi * f * static_cast<double>(i) / fs;
        il[i] = l[i] = static_cast<float>(0.5 * std::sin(ph));
        ir[i] = r[i] = static_cast<float>(0.25 * std::cos(ph));
    }
    for (size_t i = 0; i < total; i += kBlock)
        cs.process(&l[i], &r[i], static_cast<uint32_t>(std::min<size_t>(kBlock, total - i)));
    const double gl = 20.0 * std::log10(sine_amplitude(&l[settle], meas, f, fs) / sine_amplitude(&il[settle], meas, f, fs));
    const double gr = 20.0 * std::log10(sine_amplitude(&r[settle], meas, f, fs) / sine_amplitude(&ir[settle], meas, f, fs));
    *measured = gl;
    return std::max(std::fabs(gl - expect), std::fabs(gr - expect));
}

/// Largest |y[i] - y[i-1]| over [from, to).
double max_step(const std::vector<float>& y, size_t from, size_t to) {
    double m = 0.0;
    for (size_t i = std::max<size_t>(from, 1); i < to; ++i) m = std::max(m, std::fabs(static_cast<double>(y[i]) - y[i - 1]));
    return m;
}

}  // namespace

// ==================================================================== 2. the reference

TEST_CASE("rbj_magnitude_db agrees with the cookbook biquad evaluated directly on the unit circle") {
    Noise rng;
    const FilterShape shapes[] = {FilterShape::lowpass, FilterShape::highpass, FilterShape::peaking,
                                  FilterShape::low_shelf, FilterShape::high_shelf};
    const double rates[] = {44100.0, 48000.0, 96000.0};
    double worst = 0.0;
    int compared = 0;
    for (int trial = 0; trial < 400; ++trial) {
        const FilterShape shape = shapes[trial % 5];
        const double fs = rates[(trial / 5) % 3];
        const double f0 = 10.0 * std::pow(2000.0, rng.uniform());        // 10 Hz .. 20 kHz
        const double q = 0.1 * std::pow(200.0, rng.uniform());            // 0.1 .. 20
        const double gain = -24.0 + 48.0 * rng.uniform();
        const Biquad b = cookbook(shape, f0, q, gain, fs);
        for (double f : log_spaced(40, 10.0, 0.49 * fs)) {
            const double ref = biquad_db(b, f, fs);
            const double got = rbj_magnitude_db(shape, f0, q, gain, f, fs);
            if (ref < -200.0) continue;  // beyond double precision of the direct evaluation
            worst = std::max(worst, std::fabs(ref - got));
            ++compared;
        }
    }
    std::printf("[fx] rbj_magnitude_db vs direct cookbook biquad: %d points, max |diff| %.3g dB\n", compared, worst);
    CHECK(compared > 10000);
    CHECK(worst < 1e-6);
    // Anchors: the defining properties of the designs.
    CHECK(rbj_magnitude_db(FilterShape::peaking, 1000, 2, 9, 1000, 48000) == doctest::Approx(9.0).epsilon(1e-9));
    CHECK(rbj_magnitude_db(FilterShape::lowpass, 1000, kQ, 0, 1000, 48000) == doctest::Approx(-3.0103).epsilon(1e-4));
    CHECK(rbj_magnitude_db(FilterShape::low_shelf, 200, kQ, 6, 200, 48000) == doctest::Approx(3.0).epsilon(1e-9));
    CHECK(rbj_magnitude_db(FilterShape::high_shelf, 5000, kQ, 6, 20000, 48000) == doctest::Approx(6.0).epsilon(1e-2));
}

// ==================================================================== 1. strip magnitude

TEST_CASE("channel strip: steady-state sine gain matches the RBJ responses within 0.01 dB") {
    struct Case {
        const char* name;
        StripSettings s;
    };
    std::vector<Case> cases;
    auto add = [&](const char* name, auto tweak) {
        StripSettings s;
        tweak(s);
        cases.push_back({name, s});
    };
    add("HP 100 Hz Q 0.707", [](StripSettings& s) { s.hp_on = true, s.hp_freq = 100, s.hp_q = kQ; });
    add("HP 1 kHz Q 4", [](StripSettings& s) { s.hp_on = true, s.hp_freq = 1000, s.hp_q = 4; });
    add("LP 2 kHz Q 0.707", [](StripSettings& s) { s.lp_on = true, s.lp_freq = 2000, s.lp_q = kQ; });
    add("LP 8 kHz Q 10", [](StripSettings& s) { s.lp_on = true, s.lp_freq = 8000, s.lp_q = 10; });
    add("low shelf 200 Hz +6 dB", [](StripSettings& s) { s.low_freq = 200, s.low_gain_db = 6; });
    add("low shelf 200 Hz -12 dB", [](StripSettings& s) { s.low_freq = 200, s.low_gain_db = -12; });
    add("peak 1 kHz +9 dB Q 2", [](StripSettings& s) { s.mid_freq = 1000, s.mid_gain_db = 9, s.mid_q = 2; });
    add("peak 1 kHz -6 dB Q 0.5", [](StripSettings& s) { s.mid_freq = 1000, s.mid_gain_db = -6, s.mid_q = 0.5; });
    add("high shelf 5 kHz +6 dB", [](StripSettings& s) { s.high_freq = 5000, s.high_gain_db = 6; });
    auto all_five = [](StripSettings& s) {
        s.hp_on = true, s.hp_freq = 60, s.hp_q = 0.9;
        s.lp_on = true, s.lp_freq = 12000, s.lp_q = 1.5;
        s.low_freq = 150, s.low_gain_db = 4;
        s.mid_freq = 2500, s.mid_gain_db = -5, s.mid_q = 1.2;
        s.high_freq = 8000, s.high_gain_db = 3;
    };
    add("all five", all_five);

    const std::vector<double> freqs = log_spaced(20, 20.0, 20000.0);
    double worst_all = 0.0;
    auto run = [&](const char* name, const StripSettings& s, double fs) {
        double worst = 0.0, at = 0.0, range_lo = 1e9, range_hi = -1e9;
        for (double f : freqs) {
            const double expect = expected_db(s, f, fs);
            double measured = 0.0;
            const double err = strip_error_db(s, f, fs, expect, &measured);
            range_lo = std::min(range_lo, expect);
            range_hi = std::max(range_hi, expect);
            if (err > worst) worst = err, at = f;
            INFO(name, " at ", fs, " Hz: f = ", f, " expected ", expect, " dB, measured ", measured, " dB");
            CHECK(err < 0.01);
        }
        worst_all = std::max(worst_all, worst);
        std::printf("[fx] strip %-24s fs %6.0f: response %+7.2f..%+6.2f dB, max error %.2e dB (at %.0f Hz)\n", name, fs,
                    range_lo, range_hi, worst, at);
    };
    for (const Case& c : cases) run(c.name, c.s, 48000.0);
    StripSettings s;
    all_five(s);
    run("all five", s, 44100.0);
    run("all five", s, 96000.0);
    std::printf("[fx] strip: worst magnitude error over all settings %.2e dB\n", worst_all);
}

// ==================================================================== 3. stability

namespace {

/// Runs the strip for `seconds` on `input`, calling `change(strip, block_index)` before every block of
/// `block_len(block_index)` frames. Returns the largest |y|; fails on a non-finite sample.
template <typename Change, typename Len>
double stress_strip(const std::vector<float>& input, Change change, Len block_len, ChannelStrip& cs) {
    std::vector<float> l(input), r(input);
    double peak = 0.0;
    bool finite = true;
    size_t i = 0;
    for (uint32_t b = 0; i < input.size(); ++b) {
        const uint32_t n = static_cast<uint32_t>(std::min<size_t>(block_len(b), input.size() - i));
        change(cs, b);
        cs.process(&l[i], &r[i], n);
        for (uint32_t k = 0; k < n; ++k) {
            finite = finite && std::isfinite(l[i + k]) && std::isfinite(r[i + k]);
            peak = std::max({peak, static_cast<double>(std::fabs(l[i + k])), static_cast<double>(std::fabs(r[i + k]))});
        }
        i += n;
    }
    CHECK(finite);
    return peak;
}

StripSettings random_extremes(Noise& rng, bool hp, bool lp, bool eq, bool extremes) {
    auto pick = [&](double lo, double hi, bool geometric) {
        if (extremes) return rng.uniform() < 0.5 ? lo : hi;
        const double u = rng.uniform();
        return geometric ? lo * std::pow(hi / lo, u) : lo + (hi - lo) * u;
    };
    StripSettings s;
    s.hp_on = hp && rng.uniform() < 0.8;
    s.hp_freq = pick(10, 20000, true), s.hp_q = pick(0.1, 20, true);
    s.lp_on = lp && rng.uniform() < 0.8;
    s.lp_freq = pick(10, 20000, true), s.lp_q = pick(0.1, 20, true);
    s.eq_on = eq && rng.uniform() < 0.8;
    s.low_freq = pick(10, 20000, true), s.low_gain_db = eq ? pick(-24, 24, false) : 0;
    s.mid_freq = pick(10, 20000, true), s.mid_gain_db = eq ? pick(-24, 24, false) : 0, s.mid_q = pick(0.1, 20, true);
    s.high_freq = pick(10, 20000, true), s.high_gain_db = eq ? pick(-24, 24, false) : 0;
    return s;
}

}  // namespace

TEST_CASE("channel strip: parameters jumping between their range ends never blow up") {
    const double fs = 48000.0;
    const size_t frames = static_cast<size_t>(10 * fs);
    Noise rng;
    std::vector<float> noise(frames), sine(frames);
    for (size_t i = 0; i < frames; ++i) {
        noise[i] = rng.next();
        sine[i] = static_cast<float>(std::sin(2.0 * kPi * 1000.0 * static_cast<double>(i) / fs));
    }
    // One kind of section at a time: the largest steady gain is one resonance (Q 20: +26 dB)
    // or one band at +24 dB, so |y| stays below 64 for |x| <= 1.
    struct Only {
        const char* name;
        bool hp, lp, eq;
    };
    for (const Only o : {Only{"high-pass", true, false, false}, Only{"low-pass", false, true, false},
                         Only{"one EQ band", false, false, true}}) {
        for (const auto* input : {&noise, &sine}) {
            // mode 0: set() with range ends every 64 frames; mode 1: set() with random values at
            // random block lengths (1..1024); mode 2: set_immediately() likewise (no glide at all).
            for (int mode = 0; mode < 3; ++mode) {
                ChannelStrip cs;
                cs.prepare(fs, 960);
                const double peak = stress_strip(
                    *input,
                    [&](ChannelStrip& c, uint32_t) {
                        StripSettings s = random_extremes(rng, o.hp, o.lp, o.eq, mode == 0);
                        if (o.eq) {  // one band only: the other two flat
                            const int band = static_cast<int>(rng.uniform() * 3);
                            if (band != 0) s.low_gain_db = 0;
                            if (band != 1) s.mid_gain_db = 0;
                            if (band != 2) s.high_gain_db = 0;
                        }
                        if (mode < 2) c.set(s);
                        else c.set_immediately(s);
                    },
                    [&](uint32_t) { return mode == 0 ? 64u : 1u + static_cast<uint32_t>(rng.uniform() * 1024); }, cs);
                static const char* const kModes[] = {"set/64 frames", "set/random", "jumps/random"};
                std::printf("[fx] stress %-11s %-5s %-13s: peak |y| %.2f\n", o.name, input == &noise ? "noise" : "sine",
                            kModes[mode], peak);
                // Gliding: within the steady-state gains. Instant jumps of a Q-20 resonator release its
                // stored energy through the new tuning's outputs: a bounded transient, a few times larger.
                CHECK(peak < (mode < 2 ? 64.0 : 256.0));
            }
        }
    }
    // Everything at once: gains multiply (up to 20 * 20 * 15.8^3 at one frequency), so the bound is
    // that product; the point is that nothing grows without bound, and that the strip is healthy afterwards.
    const double product = 20.0 * 20.0 * std::pow(10.0, 3 * 24.0 / 20.0);
    for (int mode = 0; mode < 2; ++mode) {  // 0: set() every 64 frames, 1: set_immediately() at random
        ChannelStrip cs;
        cs.prepare(fs, 960);
        const double peak = stress_strip(
            noise,
            [&](ChannelStrip& c, uint32_t) {
                const StripSettings s = random_extremes(rng, true, true, true, mode == 0);
                if (mode == 0) c.set(s);
                else c.set_immediately(s);
            },
            [&](uint32_t) { return mode == 0 ? 64u : 1u + static_cast<uint32_t>(rng.uniform() * 1024); }, cs);
        std::printf("[fx] stress all sections %s: peak |y| %.1f (bound %.0f)\n", mode == 0 ? "set/64" : "jumps", peak,
                    product);
        CHECK(peak < product);
        // Recovers: a flat strip with the hp on passes a 1 kHz sine at the designed gain.
        StripSettings flat;
        flat.hp_on = true;
        cs.set(flat);
        std::vector<float> l(sine.begin(), sine.begin() + 48000), r(l);
        cs.process(l.data(), r.data(), static_cast<uint32_t>(l.size()));
        const double g = 20.0 * std::log10(sine_amplitude(&l[24000], 24000, 1000.0, fs));
        CHECK(g == doctest::Approx(expected_db(flat, 1000.0, fs)).epsilon(0.001));
    }
}

// ==================================================================== 4. smoothness

TEST_CASE("channel strip: gain glides and switch crossfades are free of steps; flat is an exact identity") {
    const double fs = 48000.0;
    const uint32_t ramp = 960;

    // Runs a steady sine, applies `to` at frame `at` (after `from` was in force), and returns
    // (largest step during the change) / (largest step of the steady state before or after, whichever is larger).
    auto step_ratio = [&](double f, const StripSettings& from, const StripSettings& to, bool immediate) {
        ChannelStrip cs;
        cs.prepare(fs, ramp);
        cs.set_immediately(from);
        const size_t at = 24064, total = 72000;  // a change mid-cycle (not at a zero crossing)
        std::vector<float> l(total), r(total);
        for (size_t i = 0; i < total; ++i) l[i] = r[i] = static_cast<float>(0.25 * std::sin(2.0 * kPi * f * i / fs));
        for (size_t i = 0; i < total; i += kBlock) {
            if (i == at) immediate ? cs.set_immediately(to) : cs.set(to);
            cs.process(&l[i], &r[i], kBlock);
        }
        const double during = max_step(l, at, at + 4 * ramp);
        const double steady = std::max(max_step(l, at - 12000, at), max_step(l, total - 12000, total));
        return during / steady;
    };
    StripSettings flat, boost, cut;
    boost.mid_freq = cut.mid_freq = 1000;
    boost.mid_gain_db = 24;
    cut.mid_gain_db = -12;
    for (double f : {1000.0, 150.0, 3000.0}) {
        const double up = step_ratio(f, flat, boost, false);
        const double cut_to_boost = step_ratio(f, cut, boost, false);
        const double boost_to_cut = step_ratio(f, boost, cut, false);
        std::printf("[fx] mid gain glide, %4.0f Hz sine: largest step %.3f x steady (0 -> +24 dB), %.3f x (-12 -> +24), "
                    "%.3f x (+24 -> -12)\n",
                    f, up, cut_to_boost, boost_to_cut);
        CHECK(up < 1.5);
        CHECK(cut_to_boost < 1.5);
        CHECK(boost_to_cut < 1.5);
    }
    // The measurement catches a step: the same change without a glide.
    const double jump = step_ratio(1000.0, boost, cut, true);
    std::printf("[fx] +24 -> -12 dB with set_immediately instead: %.2f x steady\n", jump);
    CHECK(jump > 1.5);

    // The high-pass switched on and off (a resonant one, on a sine near its corner).
    StripSettings hp_off, hp_on;
    hp_off.hp_freq = hp_on.hp_freq = 1000;
    hp_off.hp_q = hp_on.hp_q = 4;
    hp_on.hp_on = true;
    const double on = step_ratio(900.0, hp_off, hp_on, false);
    const double off = step_ratio(900.0, hp_on, hp_off, false);
    const double off_jump = step_ratio(900.0, hp_on, hp_off, true);
    std::printf("[fx] hp switch crossfade: on %.3f x, off %.3f x steady; off without crossfade %.2f x\n", on, off, off_jump);
    CHECK(on < 1.5);
    CHECK(off < 1.5);
    CHECK(off_jump > 1.5);

    // Transparency: by default, and again after returning to flat; then bit-exact.
    auto identity_now = [&](ChannelStrip& cs) {
        Noise rng;
        std::vector<float> l(1000), r(1000);
        for (size_t i = 0; i < l.size(); ++i) l[i] = rng.next(), r[i] = rng.next();
        std::vector<float> l0(l), r0(r);
        cs.process(l.data(), r.data(), 1000);
        return std::memcmp(l.data(), l0.data(), 4000) == 0 && std::memcmp(r.data(), r0.data(), 4000) == 0;
    };
    ChannelStrip cs;
    cs.prepare(fs, ramp);
    CHECK(cs.transparent());
    CHECK(identity_now(cs));
    StripSettings s;
    s.mid_gain_db = 6;
    s.lp_on = true;
    cs.set(s);
    CHECK_FALSE(cs.transparent());
    CHECK_FALSE(identity_now(cs));
    cs.set(StripSettings{});
    CHECK_FALSE(cs.transparent());  // gliding back
    std::vector<float> l(4 * ramp, 0.1f), r(4 * ramp, 0.1f);
    cs.process(l.data(), r.data(), static_cast<uint32_t>(l.size()));
    CHECK(cs.transparent());
    CHECK(identity_now(cs));
    // eq off with non-flat bands is transparent too; switching it on is not (and crossfades).
    StripSettings loud;
    loud.eq_on = false;
    loud.low_gain_db = 12;
    cs.set(loud);
    cs.process(l.data(), r.data(), static_cast<uint32_t>(l.size()));
    CHECK(cs.transparent());
    CHECK(identity_now(cs));
    loud.eq_on = true;
    cs.set(loud);
    CHECK_FALSE(cs.transparent());
}

// ==================================================================== 5. delay

namespace {

/// Impulse response of the delay: impulses (il, ir) at frame t0, `frames` long.
void delay_ir(StereoDelay& d, size_t t0, float il, float ir, size_t frames, std::vector<float>& ol,
              std::vector<float>& orr) {
    std::vector<float> xl(frames, 0.0f), xr(frames, 0.0f);
    xl[t0] = il;
    xr[t0] = ir;
    ol.assign(frames, 0.0f);
    orr.assign(frames, 0.0f);
    for (size_t i = 0; i < frames; i += kBlock) {
        const uint32_t n = static_cast<uint32_t>(std::min<size_t>(kBlock, frames - i));
        d.process(&xl[i], &xr[i], &ol[i], &orr[i], n);
    }
}

}  // namespace

TEST_CASE("stereo delay: echoes land exactly at t + kD, the first one unfiltered at exactly 1.0") {
    const double fs = 48000.0;
    const uint32_t max_d = 60000;
    const double fb = 0.5;
    for (uint32_t D : {1u, 100u, 12345u, max_d}) {
        for (bool pingpong : {false, true}) {
            CAPTURE(D);
            CAPTURE(pingpong);
            StereoDelay d;
            d.prepare(fs, max_d, 960);
            d.set_delay_frames(D);
            d.set_feedback(fb);
            d.set_lowcut(10.0);
            d.set_highcut(20000.0);
            d.set_pingpong(pingpong);
            d.settle();
            CHECK(d.delay_frames() == D);
            const size_t t0 = 37;
            std::vector<float> ol, orr;
            // left 1.0, right 0.5: straight, each comes back on its own side; ping-pong: 0.75 enters
            delay_ir(d, t0, 1.0f, 0.5f, t0 + 4 * static_cast<size_t>(D) + 10, ol, orr);
            // Nothing before the first echo.
            bool silent = true;
            for (size_t i = 0; i < t0 + D; ++i) silent = silent && ol[i] == 0.0f && orr[i] == 0.0f;
            CHECK(silent);
            if (!pingpong) {
                CHECK(ol[t0 + D] == 1.0f);
                CHECK(orr[t0 + D] == 0.5f);
            } else {
                CHECK(ol[t0 + D] == 0.75f);
                CHECK(orr[t0 + D] == 0.0f);
            }
            // Echoes k = 2, 3: amplitude fb^(k-1) times the first (the wide filters take < 0.5 %;
            // for D = 1 their tails overlap the echoes: 2 %).
            const double tol = D == 1 ? 0.02 : 0.005;
            for (int k = 2; k <= 3; ++k) {
                const size_t at = t0 + k * static_cast<size_t>(D);
                const double g = std::pow(fb, k - 1);
                if (!pingpong) {
                    CHECK(ol[at] == doctest::Approx(g).epsilon(tol));
                    CHECK(orr[at] == doctest::Approx(0.5 * g).epsilon(tol));
                } else {
                    const std::vector<float>& on = (k % 2 == 1) ? ol : orr;   // odd k: left
                    const std::vector<float>& off = (k % 2 == 1) ? orr : ol;
                    CHECK(on[at] == doctest::Approx(0.75 * g).epsilon(tol));
                    if (D > 1) CHECK(std::fabs(off[at]) < 1e-3);
                }
                if (D > 1) {
                    // the echo is at exactly t + kD: the frame before it holds only the low cut's tail
                    // of the previous echo (< 1 %), the echo itself is the largest sample around
                    CHECK(std::fabs(ol[at - 1]) < 1e-2 * g);
                    CHECK(std::fabs(orr[at - 1]) < 1e-2 * g);
                    const std::vector<float>& on = (!pingpong || k % 2 == 1) ? ol : orr;
                    size_t arg = at - D / 2;
                    for (size_t i = at - D / 2; i < at + D / 2; ++i)
                        if (std::fabs(on[i]) > std::fabs(on[arg])) arg = i;
                    CHECK(arg == at);
                }
            }
        }
    }
}

TEST_CASE("stereo delay: a delay change crossfades without a click and is exact after the ramp; bounded at 0.95") {
    const double fs = 48000.0;
    const uint32_t ramp = 960;
    auto run = [&](uint32_t ramp_frames, double* ratio) {
        StereoDelay d;
        d.prepare(fs, 48000, ramp_frames);
        d.set_delay_frames(1000);
        d.set_feedback(0.0);
        d.settle();
        const size_t total = 48000, at = 24000;
        std::vector<float> x(total), ol(total), orr(total);
        for (size_t i = 0; i < total; ++i) x[i] = static_cast<float>(0.5 * std::sin(2.0 * kPi * 440.0 * i / fs));
        for (size_t i = 0; i < total; i += kBlock) {
            if (i == at) d.set_delay_frames(3000);
            d.process(&x[i], &x[i] /* right = left */, &ol[i], &orr[i], kBlock);
        }
        *ratio = max_step(ol, at, at + 2 * ramp + 100) / max_step(ol, 4000, at);
        return d;
    };
    double smooth = 0.0, hard = 0.0;
    StereoDelay d = run(ramp, &smooth);
    run(0, &hard);
    std::printf("[fx] delay 1000 -> 3000 frames on a 440 Hz sine: largest step %.3f x steady (crossfade), %.2f x (no ramp)\n",
                smooth, hard);
    CHECK(smooth < 1.5);
    CHECK(hard > 1.5);  // the measurement does see a click
    CHECK(d.delay_frames() == 3000);
    // After the ramp the new time is exact (silence first, to empty the line of the sine).
    std::vector<float> ol, orr;
    delay_ir(d, 0, 0.0f, 0.0f, 4000, ol, orr);
    delay_ir(d, 0, 1.0f, 1.0f, 3200, ol, orr);
    size_t first = 0;
    while (first < ol.size() && ol[first] == 0.0f) ++first;
    CHECK(first == 3000);
    CHECK(ol[3000] == 1.0f);

    // A change during a crossfade is taken up after it: exact after two ramps.
    d.set_delay_frames(500);
    std::vector<float> z(kBlock, 0.0f), zo(kBlock), zo2(kBlock);
    d.process(z.data(), z.data(), zo.data(), zo2.data(), kBlock);
    d.set_delay_frames(700);
    for (uint32_t i = 0; i < 2 * ramp; i += kBlock) d.process(z.data(), z.data(), zo.data(), zo2.data(), kBlock);
    delay_ir(d, 0, 1.0f, 1.0f, 800, ol, orr);
    first = 0;
    while (first < ol.size() && ol[first] == 0.0f) ++first;
    CHECK(first == 700);

    // Feedback 0.95 with the filters, 60 s of full-scale noise, then a resonant sine: bounded.
    for (int filters = 0; filters < 2; ++filters) {
        StereoDelay e;
        e.prepare(fs, 48000, ramp);
        e.set_delay_frames(100);
        e.set_feedback(0.95);
        e.set_lowcut(filters ? 80.0 : 10.0);
        e.set_highcut(filters ? 8000.0 : 20000.0);
        e.settle();
        Noise rng;
        std::vector<float> xl(kBlock), xr(kBlock), yl(kBlock), yr(kBlock);
        double peak = 0.0;
        bool finite = true;
        const size_t frames = static_cast<size_t>(60 * fs);
        for (size_t i = 0; i < frames; i += kBlock) {
            const bool sine = i >= frames / 2;  // 480 Hz: on a comb peak of a 100-frame loop
            for (uint32_t k = 0; k < kBlock; ++k) {
                xl[k] = sine ? static_cast<float>(std::sin(2.0 * kPi * 480.0 * (i + k) / fs)) : rng.next();
                xr[k] = sine ? xl[k] : rng.next();
            }
            if (i % 4800 == 0) e.set_pingpong(((i / 4800) % 2) == 1);
            e.process(xl.data(), xr.data(), yl.data(), yr.data(), kBlock);
            for (uint32_t k = 0; k < kBlock; ++k) {
                finite = finite && std::isfinite(yl[k]) && std::isfinite(yr[k]);
                peak = std::max({peak, static_cast<double>(std::fabs(yl[k])), static_cast<double>(std::fabs(yr[k]))});
            }
        }
        std::printf("[fx] delay feedback 0.95 (%s), 60 s: peak |y| %.2f\n", filters ? "lowcut 80, highcut 8k" : "open",
                    peak);
        CHECK(finite);
        CHECK(peak < 64.0);
    }
}

// ==================================================================== 6. reverb

namespace {

struct ReverbIr {
    std::vector<float> l, r;
};

/// Response of a settled reverb to `in` (stereo, same on both sides unless `left_only`), `seconds` long.
ReverbIr reverb_response(double fs, double rt60, double damping, double predelay_ms, const std::vector<float>& in,
                         double seconds, bool left_only = false) {
    Reverb rv;
    rv.prepare(fs, static_cast<uint32_t>(0.02 * fs));
    rv.set_decay(rt60);
    rv.set_damping(damping);
    rv.set_predelay_ms(predelay_ms);
    rv.settle();
    const size_t frames = static_cast<size_t>(seconds * fs);
    std::vector<float> xl(frames, 0.0f), xr(frames, 0.0f);
    for (size_t i = 0; i < std::min(frames, in.size()); ++i) {
        xl[i] = in[i];
        xr[i] = left_only ? 0.0f : in[i];
    }
    ReverbIr o{std::vector<float>(frames), std::vector<float>(frames)};
    for (size_t i = 0; i < frames; i += kBlock) {
        const uint32_t n = static_cast<uint32_t>(std::min<size_t>(kBlock, frames - i));
        rv.process(&xl[i], &xr[i], &o.l[i], &o.r[i], n);
    }
    return o;
}

size_t onset(const ReverbIr& o) {
    double peak = 0.0;
    for (size_t i = 0; i < o.l.size(); ++i) peak = std::max({peak, (double)std::fabs(o.l[i]), (double)std::fabs(o.r[i])});
    for (size_t i = 0; i < o.l.size(); ++i)
        if (std::fabs(o.l[i]) >= 1e-3 * peak || std::fabs(o.r[i]) >= 1e-3 * peak) return i;
    return o.l.size();
}

struct DecayCheck {
    bool reached_60 = false;
    double worst_rise_db = 0.0;     // 10 ms windows: largest rise above the quietest earlier window
    double worst_rise_50_db = 0.0;  // the same with 50 ms windows
    double worst_dev_db = 0.0;      // 10 ms windows: largest distance from the fitted exponential
    double loudest_at_ms = 0.0;     // where the loudest 10 ms window is, from `start`
    double reached_at_s = 0.0;      // where the level is 60 dB below the loudest window
};

/// Energy envelope (L^2 + R^2) in windows of `ms` from `start`, dB.
std::vector<double> envelope_db(const ReverbIr& o, size_t start, double ms, double fs) {
    const size_t w = static_cast<size_t>(ms * 1e-3 * fs);
    std::vector<double> level;
    for (size_t i = start; i + w <= o.l.size(); i += w) {
        double e = 0.0;
        for (size_t k = i; k < i + w; ++k) e += double(o.l[k]) * o.l[k] + double(o.r[k]) * o.r[k];
        level.push_back(10.0 * std::log10(e / w + 1e-300));
    }
    return level;
}

/// From `from` until the level is 60 dB below the loudest window: how far any window rises above
/// the quietest window before it (0 for a strictly monotonic decay), for 10 and 50 ms windows, and
/// how far the 10 ms levels stray from a straight line (an exponential) fitted to them.
DecayCheck check_decay(const ReverbIr& o, size_t start, size_t from, double fs) {
    DecayCheck c;
    const std::vector<double> level = envelope_db(o, start, 10.0, fs);
    const double loudest = *std::max_element(level.begin(), level.end());
    c.loudest_at_ms = 10.0 * static_cast<double>(std::max_element(level.begin(), level.end()) - level.begin());
    const size_t first = (from - start) / static_cast<size_t>(0.01 * fs);
    size_t end = level.size();
    double running_min = 1e300;
    for (size_t k = first; k < level.size(); ++k) {
        if (level[k] < loudest - 60.0) {
            c.reached_60 = true;
            c.reached_at_s = static_cast<double>(k) * 0.01 + static_cast<double>(start) / fs;
            end = k;
            break;
        }
        if (running_min < 1e299) c.worst_rise_db = std::max(c.worst_rise_db, level[k] - running_min);
        running_min = std::min(running_min, level[k]);
    }
    double sx = 0, sy = 0, sxx = 0, sxy = 0, n = 0;
    for (size_t k = first; k < end; ++k) sx += k, sy += level[k], sxx += double(k) * k, sxy += k * level[k], ++n;
    const double slope = (n * sxy - sx * sy) / (n * sxx - sx * sx), icpt = (sy - slope * sx) / n;
    for (size_t k = first; k < end; ++k) c.worst_dev_db = std::max(c.worst_dev_db, std::fabs(level[k] - (icpt + slope * k)));
    const std::vector<double> level50 = envelope_db(o, from, 50.0, fs);
    running_min = 1e300;
    for (size_t k = 0; k < level50.size() && level50[k] >= loudest - 60.0; ++k) {
        if (running_min < 1e299) c.worst_rise_50_db = std::max(c.worst_rise_50_db, level50[k] - running_min);
        running_min = std::min(running_min, level50[k]);
    }
    return c;
}

/// RT60 from the Schroeder backward integral of y: line fit of the EDC between -5 and -35 dB (T30).
double schroeder_rt60(const std::vector<double>& y, double fs) {
    std::vector<double> edc(y.size());
    double acc = 0.0;
    for (size_t i = y.size(); i-- > 0;) {
        acc += y[i] * y[i];
        edc[i] = acc;
    }
    const double total = edc[0];
    double sx = 0, sy = 0, sxx = 0, sxy = 0;
    size_t n = 0;
    for (size_t i = 0; i < y.size(); ++i) {
        const double db = 10.0 * std::log10(edc[i] / total);
        if (db > -5.0) continue;
        if (db < -35.0) break;
        const double t = static_cast<double>(i) / fs;
        sx += t, sy += db, sxx += t * t, sxy += t * db;
        ++n;
    }
    const double slope = (n * sxy - sx * sy) / (n * sxx - sx * sx);  // dB per second
    return -60.0 / slope;
}

}  // namespace

TEST_CASE("reverb: smooth exponential decay, exact RT60, damping, stability, decorrelation, pre-delay") {
    const double fs = 48000.0;
    std::vector<float> impulse(1, 1.0f);

    // A diffuse tail is noise: the energy of a 10 ms window scatters by a few tenths of a dB around
    // the exponential, more than the 0.12 dB a 5 s decay loses per window, so a strictly falling
    // sequence of 10 ms windows is impossible even for an ideal exponentially decaying white noise
    // (which rises up to ~0.9 dB above its running minimum over a 5 s decay; a low-passed one, like
    // a damped tail, up to ~1.8 dB). The checks: no 10 ms window rises more than that statistics
    // allows, 50 ms windows fall (within 0.5 dB), every window of an undamped tail stays within 2.5 dB
    // of the fitted exponential (no bumps, no build-up after 50 ms; a damped tail has two slopes), and
    // the loudest window is in the first 50 ms.
    SUBCASE("impulse and noise-burst responses decay monotonically to -60 dB; RT60 within 15 %") {
        for (double rt60 : {0.5, 2.0, 5.0}) {
            for (double damping : {20000.0, 6000.0}) {
                CAPTURE(rt60);
                CAPTURE(damping);
                const double rise_limit = damping > 10000.0 ? 1.25 : 2.5;
                const ReverbIr ir = reverb_response(fs, rt60, damping, 0.0, impulse, 1.6 * rt60 + 1.0);
                const size_t on = onset(ir);
                const DecayCheck c = check_decay(ir, on, on + static_cast<size_t>(0.05 * fs), fs);
                double energy = 0.0, peak = 0.0;
                for (size_t i = 0; i < ir.l.size(); ++i) {
                    energy += double(ir.l[i]) * ir.l[i] + double(ir.r[i]) * ir.r[i];
                    peak = std::max({peak, (double)std::fabs(ir.l[i]), (double)std::fabs(ir.r[i])});
                }
                // RT60, mid band (500 Hz .. 2 kHz) and broadband
                const double mid = schroeder_rt60(bandpass(ir.l, 500.0, 2000.0, fs), fs);
                std::vector<double> broad(ir.l.begin(), ir.l.end());
                const double wide = schroeder_rt60(broad, fs);
                std::printf("[fx] reverb RT60 %.1f s damping %5.0f: onset %.1f ms, loudest 10 ms window at +%.0f ms; rise "
                            "above running min %.2f dB (10 ms), %.2f dB (50 ms); off the exponential <= %.2f dB; -60 dB at "
                            "%.2f s; RT60 mid %.3f s (%+.1f %%), broadband %.3f s; energy L+R %+.2f dB, peak %.1f dBFS\n",
                            rt60, damping, 1000.0 * on / fs, c.loudest_at_ms, c.worst_rise_db, c.worst_rise_50_db,
                            c.worst_dev_db, c.reached_at_s, mid, 100.0 * (mid / rt60 - 1.0), wide,
                            10.0 * std::log10(energy / 2.0), 20.0 * std::log10(peak));
                CHECK(c.reached_60);
                CHECK(c.reached_at_s < 1.3 * rt60 + 0.1);
                CHECK(c.loudest_at_ms <= 50.0);
                CHECK(c.worst_rise_db < rise_limit);
                CHECK(c.worst_rise_50_db < 0.5);
                if (damping > 10000.0) CHECK(c.worst_dev_db < 2.5);  // damped: two slopes, not one exponential
                CHECK(mid == doctest::Approx(rt60).epsilon(0.15));
                CHECK(peak < 1.0);

                // 100 ms noise burst: monotonic from 50 ms after the burst.
                Noise rng;
                std::vector<float> burst(static_cast<size_t>(0.1 * fs));
                for (float& v : burst) v = 0.5f * rng.next();
                const ReverbIr nb = reverb_response(fs, rt60, damping, 0.0, burst, 1.6 * rt60 + 1.0);
                const DecayCheck cb = check_decay(nb, 0, static_cast<size_t>(0.15 * fs), fs);
                std::printf("[fx] reverb RT60 %.1f s damping %5.0f, 100 ms noise burst: rise %.2f dB (10 ms), %.2f dB "
                            "(50 ms); off the exponential <= %.2f dB; -60 dB at %.2f s\n",
                            rt60, damping, cb.worst_rise_db, cb.worst_rise_50_db, cb.worst_dev_db, cb.reached_at_s);
                CHECK(cb.reached_60);
                CHECK(cb.worst_rise_db < rise_limit);
                CHECK(cb.worst_rise_50_db < 0.5);
                if (damping > 10000.0) CHECK(cb.worst_dev_db < 2.5);
            }
        }
    }

    SUBCASE("damping: the 8 kHz band decays faster than the mid band") {
        const double rt60 = 2.0;
        const ReverbIr ir = reverb_response(fs, rt60, 4000.0, 0.0, impulse, 4.5);
        const double mid = schroeder_rt60(bandpass(ir.l, 500.0, 2000.0, fs), fs);
        const double hf = schroeder_rt60(bandpass(ir.l, 7000.0, 9000.0, fs), fs);
        std::printf("[fx] reverb RT60 2 s, damping 4 kHz: mid %.3f s, 8 kHz band %.3f s (ratio %.2f, design 0.5)\n", mid, hf,
                    hf / mid);
        CHECK(hf < 0.7 * mid);
        CHECK(hf > 0.4 * mid);
    }

    SUBCASE("stable and finite over 60 s at RT60 30 s") {
        Reverb rv;
        rv.prepare(fs, 960);
        rv.set_decay(30.0);
        rv.set_damping(20000.0);
        rv.settle();
        Noise rng;
        std::vector<float> xl(kBlock), xr(kBlock), yl(kBlock), yr(kBlock);
        double peak = 0.0, last_second = 0.0;
        bool finite = true;
        const size_t frames = static_cast<size_t>(60 * fs);
        for (size_t i = 0; i < frames; i += kBlock) {
            for (uint32_t k = 0; k < kBlock; ++k) xl[k] = 0.5f * rng.next(), xr[k] = 0.5f * rng.next();
            rv.process(xl.data(), xr.data(), yl.data(), yr.data(), kBlock);
            for (uint32_t k = 0; k < kBlock; ++k) {
                finite = finite && std::isfinite(yl[k]) && std::isfinite(yr[k]);
                peak = std::max({peak, (double)std::fabs(yl[k]), (double)std::fabs(yr[k])});
                if (i + k >= frames - static_cast<size_t>(fs)) last_second += double(yl[k]) * yl[k];
            }
        }
        const double rms = std::sqrt(last_second / fs);
        std::printf("[fx] reverb RT60 30 s, 60 s of noise (rms 0.29): output rms %.3f, peak %.2f\n", rms, peak);
        CHECK(finite);
        CHECK(peak < 8.0);
        CHECK(rms > 0.01);
    }

    SUBCASE("left and right are decorrelated") {
        for (bool left_only : {false, true}) {
            const ReverbIr ir = reverb_response(fs, 2.0, 6000.0, 0.0, impulse, 2.0, left_only);
            const size_t from = static_cast<size_t>(0.05 * fs);
            double worst = 0.0;
            for (int lag = -96; lag <= 96; ++lag) {
                double lr = 0, ll = 0, rr = 0;
                for (size_t i = from + 96; i + 96 < ir.l.size(); ++i) {
                    const double a = ir.l[i], b = ir.r[i + lag];
                    lr += a * b, ll += a * a, rr += b * b;
                }
                worst = std::max(worst, std::fabs(lr / std::sqrt(ll * rr)));
            }
            std::printf("[fx] reverb L/R normalised cross-correlation of the tail (%s input), max over +-2 ms: %.3f\n",
                        left_only ? "left-only" : "stereo", worst);
            CHECK(worst < 0.5);
        }
    }

    SUBCASE("pre-delay of 100 ms delays the onset by 100 ms") {
        const ReverbIr a = reverb_response(fs, 1.0, 6000.0, 0.0, impulse, 0.5);
        const ReverbIr b = reverb_response(fs, 1.0, 6000.0, 100.0, impulse, 0.5);
        const double shift_ms = 1000.0 * (static_cast<double>(onset(b)) - static_cast<double>(onset(a))) / fs;
        std::printf("[fx] reverb pre-delay 100 ms: onset moves by %.3f ms\n", shift_ms);
        CHECK(std::fabs(shift_ms - 100.0) <= 1.0);
    }

    // A click is broadband; a smooth crossfade of a 300 Hz sine stays within ~100 Hz of it. The
    // reverb's steady response at one frequency has deep notches and peaks here and there (as any
    // room's), so comparing sample steps with the steady state's measures the luck of where 300 Hz
    // falls; the high-frequency content does not depend on it: the third difference (a high-pass,
    // +18 dB per octave, -84 dB at 300 Hz) of the output during the change, relative to the
    // steady output's RMS. The largest step is printed too.
    SUBCASE("a pre-delay change on a steady sine gives no click") {
        for (uint32_t ramp : {960u, 0u}) {
            Reverb rv;
            rv.prepare(fs, ramp);
            rv.set_decay(0.3);
            rv.set_predelay_ms(0.0);
            rv.settle();
            const size_t total = static_cast<size_t>(4 * fs), at = static_cast<size_t>(3 * fs);
            std::vector<float> x(total), yl(total), yr(total);
            for (size_t i = 0; i < total; ++i) x[i] = static_cast<float>(0.5 * std::sin(2.0 * kPi * 300.0 * i / fs));
            for (size_t i = 0; i < total; i += kBlock) {
                if (i == at) rv.set_predelay_ms(61.0);
                rv.process(&x[i], &x[i], &yl[i], &yr[i], kBlock);
            }
            const double ratio = max_step(yl, at, at + 2000) / max_step(yl, at - 24000, at);
            auto d3_rms = [&](size_t from, size_t to) {
                double e = 0.0;
                for (size_t i = from; i < to; ++i) {
                    const double d = double(yl[i]) - 3.0 * yl[i - 1] + 3.0 * yl[i - 2] - double(yl[i - 3]);
                    e += d * d;
                }
                return std::sqrt(e / static_cast<double>(to - from));
            };
            double steady = 0.0;
            for (size_t i = at - 24000; i < at; ++i) steady += double(yl[i]) * yl[i];
            steady = std::sqrt(steady / 24000.0);
            const double hf_db = 20.0 * std::log10(d3_rms(at, at + 2000) / steady + 1e-30);
            const double hf_steady_db = 20.0 * std::log10(d3_rms(at - 24000, at) / steady + 1e-30);
            std::printf("[fx] reverb pre-delay 0 -> 61 ms on a 300 Hz sine, ramp %u: high-frequency content %.1f dB "
                        "(steady %.1f dB) re the steady RMS; largest step %.2f x steady\n",
                        ramp, hf_db, hf_steady_db, ratio);
            if (ramp) CHECK(hf_db < hf_steady_db + 20.0);
            else CHECK(hf_db > hf_steady_db + 30.0);
        }
    }
}

// ==================================================================== tails end in zeros

TEST_CASE("tails end in exact zeros: no denormals in the strip, the delay or the reverb") {
    const double fs = 48000.0;
    std::vector<float> zl(kBlock, 0.0f), zr(kBlock, 0.0f), ol(kBlock), orr(kBlock);
    std::vector<float> one(kBlock, 0.0f);
    one[0] = 1.0f;

    ChannelStrip cs;
    cs.prepare(fs, 960);
    StripSettings s;
    s.hp_on = true, s.hp_freq = 10, s.hp_q = 20;
    s.low_gain_db = 12, s.low_freq = 10;
    cs.set_immediately(s);
    std::vector<float> l(one), r(one);
    cs.process(l.data(), r.data(), kBlock);
    bool subnormal = false;
    for (int i = 0; i < 48000 * 60 / 64; ++i) {  // a 10 Hz Q 20 resonance: time constant 0.64 s
        std::fill(l.begin(), l.end(), 0.0f), std::fill(r.begin(), r.end(), 0.0f);
        cs.process(l.data(), r.data(), kBlock);
        for (float v : l) subnormal = subnormal || std::fpclassify(v) == FP_SUBNORMAL;
    }
    CHECK_FALSE(subnormal);
    CHECK(std::all_of(l.begin(), l.end(), [](float v) { return v == 0.0f; }));

    StereoDelay d;
    d.prepare(fs, 48000, 960);
    d.set_delay_frames(100);
    d.set_feedback(0.95);
    d.settle();
    d.process(one.data(), one.data(), ol.data(), orr.data(), kBlock);
    for (int i = 0; i < 48000 * 10 / 64; ++i) d.process(zl.data(), zr.data(), ol.data(), orr.data(), kBlock);
    CHECK(std::all_of(ol.begin(), ol.end(), [](float v) { return v == 0.0f; }));

    Reverb rv;
    rv.prepare(fs, 960);
    rv.set_decay(0.5);
    rv.settle();
    rv.process(one.data(), one.data(), ol.data(), orr.data(), kBlock);
    for (int i = 0; i < 48000 * 10 / 64; ++i) rv.process(zl.data(), zr.data(), ol.data(), orr.data(), kBlock);
    CHECK(std::all_of(ol.begin(), ol.end(), [](float v) { return v == 0.0f; }));
    CHECK(std::all_of(orr.begin(), orr.end(), [](float v) { return v == 0.0f; }));
}

// ==================================================================== 7. CPU

TEST_CASE("CPU cost per frame (printed, not asserted)") {
    const double fs = 48000.0;
    const size_t frames = static_cast<size_t>(2 * fs);
    Noise rng;
    std::vector<float> xl(kBlock), xr(kBlock), yl(kBlock), yr(kBlock);
    for (uint32_t k = 0; k < kBlock; ++k) xl[k] = 0.5f * rng.next(), xr[k] = 0.5f * rng.next();
    // Best of 5 runs of `frames` (the machine may be busy with other work).
    auto time_ns_per_frame = [&](auto&& block) {
        for (size_t i = 0; i < frames / 10; i += kBlock) block();  // warm up
        double best = 1e300;
        for (int run = 0; run < 5; ++run) {
            const auto t0 = std::chrono::steady_clock::now();
            for (size_t i = 0; i < frames; i += kBlock) block();
            const auto t1 = std::chrono::steady_clock::now();
            best = std::min(best, std::chrono::duration<double, std::nano>(t1 - t0).count() / static_cast<double>(frames));
        }
        return best;
    };

    ChannelStrip cs;
    cs.prepare(fs, 960);
    StripSettings s;
    s.hp_on = true, s.lp_on = true, s.eq_on = true;
    s.low_gain_db = 3, s.mid_gain_db = -4, s.high_gain_db = 2;
    cs.set_immediately(s);
    const double strip_ns = time_ns_per_frame([&] {
        std::memcpy(yl.data(), xl.data(), sizeof(float) * kBlock);
        std::memcpy(yr.data(), xr.data(), sizeof(float) * kBlock);
        cs.process(yl.data(), yr.data(), kBlock);
    });
    uint32_t glide_block = 0;
    const double strip_glide_ns = time_ns_per_frame([&] {
        if (glide_block++ % 8 == 0) {  // always gliding: a new target every 512 frames
            s.mid_freq = s.mid_freq == 1000 ? 2000 : 1000;
            s.hp_freq = s.hp_freq == 80 ? 120 : 80;
            cs.set(s);
        }
        std::memcpy(yl.data(), xl.data(), sizeof(float) * kBlock);
        std::memcpy(yr.data(), xr.data(), sizeof(float) * kBlock);
        cs.process(yl.data(), yr.data(), kBlock);
    });

    StereoDelay d;
    d.prepare(fs, static_cast<uint32_t>(10 * fs), 960);
    d.set_delay_frames(18000);
    d.set_feedback(0.5);
    d.settle();
    const double delay_ns = time_ns_per_frame([&] { d.process(xl.data(), xr.data(), yl.data(), yr.data(), kBlock); });

    Reverb rv;
    rv.prepare(fs, 960);
    rv.settle();
    const double reverb_ns = time_ns_per_frame([&] { rv.process(xl.data(), xr.data(), yl.data(), yr.data(), kBlock); });
    uint32_t reverb_block = 0;
    const double reverb_glide_ns = time_ns_per_frame([&] {
        if (reverb_block++ % 8 == 0) rv.set_decay(reverb_block % 16 == 1 ? 3.0 : 2.0);  // always gliding
        rv.process(xl.data(), xr.data(), yl.data(), yr.data(), kBlock);
    });

    std::printf("[fx] CPU per stereo frame (64-frame blocks): strip all on %.1f ns (%.1f ns gliding), delay %.1f ns, "
                "reverb %.1f ns (%.1f ns gliding)\n",
                strip_ns, strip_glide_ns, delay_ns, reverb_ns, reverb_glide_ns);
    CHECK(strip_ns > 0.0);
}
