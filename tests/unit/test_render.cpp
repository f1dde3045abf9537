// Offline tempo/pitch renders of loops (engine/src/render.cpp), on real
// signals: exact length, pitch, onset timing, a clean seam, level, stereo lock.
#include "render.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numbers>
#include <string>
#include <vector>

using namespace looprig;

namespace {

constexpr uint32_t kRate = 48000;
constexpr double kPi = std::numbers::pi;

double semitones(double st) { return std::pow(2.0, st / 12.0); }

// Deterministic noise in [-1, 1) (xorshift32), the same on every platform.
struct Noise {
    uint32_t s;
    float operator()() {
        s ^= s << 13;
        s ^= s >> 17;
        s ^= s << 5;
        return static_cast<float>(s) / 2147483648.0f - 1.0f;
    }
};

std::unique_ptr<Sample> make_sample(std::vector<float> left, std::vector<float> right = {}) {
    auto s = std::make_unique<Sample>();
    s->frames = left.size();
    s->channels = right.empty() ? 1 : 2;
    s->source_rate = kRate;
    s->source_frames = left.size();
    s->left = std::move(left);
    s->right = std::move(right);
    std::snprintf(s->name, sizeof s->name, "test");
    return s;
}

std::vector<float> sine(double freq, std::size_t frames, double amp = 0.5, double phase = 0) {
    std::vector<float> v(frames);
    for (std::size_t i = 0; i < frames; ++i)
        v[i] = static_cast<float>(amp * std::sin(2 * kPi * freq * static_cast<double>(i) / kRate + phase));
    return v;
}

// One bar of 4/4 at `bpm`: kicks (decaying 55 Hz sine with a falling pitch) on
// the beats, hats (high-passed noise bursts) on every 16th. Returns the 16th
// positions in `onsets`.
std::vector<float> drum_loop(double bpm, std::vector<uint64_t>& onsets, uint32_t seed = 7, float hat_gain = 0.25f) {
    const double beat = 60.0 / bpm * kRate;
    const auto frames = static_cast<std::size_t>(std::llround(4 * beat));
    std::vector<float> v(frames, 0.0f);
    Noise noise{seed};
    onsets.clear();
    for (int k = 0; k < 16; ++k) {
        const auto p = static_cast<std::size_t>(std::llround(k * beat / 4));
        onsets.push_back(p);
        if (k % 4 == 0) {
            double ph = 0;
            for (std::size_t i = 0; i < static_cast<std::size_t>(0.3 * kRate) && p + i < frames; ++i) {
                const double t = static_cast<double>(i) / kRate;
                ph += 2 * kPi * (55 + 90 * std::exp(-t / 0.02)) / kRate;
                v[p + i] += static_cast<float>(0.7 * std::exp(-t / 0.09) * std::sin(ph));
            }
        }
        float prev = 0;
        const float g = (k % 2 == 0) ? hat_gain : hat_gain * 0.6f;
        for (std::size_t i = 0; i < static_cast<std::size_t>(0.04 * kRate) && p + i < frames; ++i) {
            const float n = noise();
            const double t = static_cast<double>(i) / kRate;
            v[p + i] += static_cast<float>(g * std::exp(-t / 0.012)) * (n - prev);  // first difference: high-pass
            prev = n;
        }
    }
    return v;
}

RenderResult render(const Sample& s, uint64_t target, double pitch, bool finer) {
    RenderSpec spec;
    spec.target_frames = target;
    spec.pitch_scale = pitch;
    spec.finer = finer;
    spec.sample_rate = kRate;
    return render_loop(s, spec);
}

double rms(const std::vector<float>& x) {
    double e = 0;
    for (float v : x) e += static_cast<double>(v) * v;
    return std::sqrt(e / static_cast<double>(x.size()));
}

// Frequency of a (near) sine from its rising zero crossings, linearly
// interpolated, first to last over the whole buffer.
double zero_crossing_freq(const std::vector<float>& x) {
    double first = -1, last = -1;
    long count = 0;
    for (std::size_t i = 1; i < x.size(); ++i) {
        if (x[i - 1] < 0 && x[i] >= 0) {
            const double t = static_cast<double>(i - 1) + x[i - 1] / (x[i - 1] - x[i]);
            if (first < 0) first = t;
            last = t;
            ++count;
        }
    }
    REQUIRE(count > 2);
    return (count - 1) * static_cast<double>(kRate) / (last - first);
}

// The seam criterion of the product issue: the step from the last frame to
// the first is no larger than the largest step inside the loop.
struct Steps {
    double wrap = 0, inside = 0;
};
Steps steps(const std::vector<float>& x) {
    Steps s;
    for (std::size_t i = 1; i < x.size(); ++i) s.inside = std::max(s.inside, std::fabs(static_cast<double>(x[i]) - x[i - 1]));
    s.wrap = std::fabs(static_cast<double>(x.front()) - x.back());
    return s;
}

// High-frequency envelope of a loop (circular): |first difference|, averaged
// over 1 ms. The hats, on every 16th, dominate it; the kicks hardly show.
std::vector<double> hf_envelope(const std::vector<float>& x) {
    const long n = static_cast<long>(x.size());
    constexpr long kHalf = 24;
    auto at = [&](long i) { return static_cast<double>(x[static_cast<std::size_t>(((i % n) + n) % n)]); };
    std::vector<double> d(x.size()), env(x.size());
    for (long i = 0; i < n; ++i) d[static_cast<std::size_t>(i)] = std::fabs(at(i) - at(i - 1));
    for (long i = 0; i < n; ++i) {
        double sum = 0;
        for (long k = i - kHalf; k < i + kHalf; ++k) sum += d[static_cast<std::size_t>(((k % n) + n) % n)];
        env[static_cast<std::size_t>(i)] = sum / (2 * kHalf);
    }
    return env;
}

// Onset near `expect`: the first frame of [expect - reach, expect + reach]
// where the envelope reaches half of its peak in that window.
double onset_near(const std::vector<double>& env, double expect, double reach) {
    const long n = static_cast<long>(env.size());
    const long lo = std::lround(expect - reach), hi = std::lround(expect + reach);
    auto at = [&](long i) { return env[static_cast<std::size_t>(((i % n) + n) % n)]; };
    double peak = 0;
    for (long i = lo; i <= hi; ++i) peak = std::max(peak, at(i));
    for (long i = lo; i <= hi; ++i)
        if (at(i) >= 0.5 * peak) return static_cast<double>(i);
    return expect;
}

}  // namespace

TEST_CASE("ratio 1 and pitch 1 return an exact copy of the source") {
    auto src = make_sample(sine(441, 4800), sine(331, 4800));
    const auto r = render(*src, 4800, 1.0, false);
    REQUIRE(r.error.empty());
    REQUIRE(r.sample);
    CHECK(r.sample->left == src->left);
    CHECK(r.sample->right == src->right);
    CHECK(r.sample->frames == 4800);
    CHECK(r.sample->channels == 2);
    CHECK(std::string(r.sample->name) == "test");
}

TEST_CASE("invalid specs are refused with a message") {
    auto src = make_sample(sine(440, 4800));
    CHECK_FALSE(render(*src, 0, 1.0, false).error.empty());
    CHECK_FALSE(render(*src, 4800, 0.1, false).error.empty());
    CHECK_FALSE(render(*src, 4800, 5.0, false).error.empty());
    CHECK_FALSE(render(*src, 4800, std::nan(""), false).error.empty());
    CHECK_FALSE(render(*src, 4800 * 9, 1.0, false).error.empty());
    CHECK_FALSE(render(*src, 4800 / 9, 1.0, false).error.empty());
    auto stereo_short = make_sample(sine(440, 4800));
    stereo_short->channels = 2;  // claims stereo, has no right channel
    CHECK_FALSE(render(*stereo_short, 4800, 1.5, false).error.empty());
    Sample empty;
    empty.channels = 1;
    const auto r = render(empty, 100, 1.0, false);
    CHECK_FALSE(r.error.empty());
    CHECK_FALSE(r.sample);
}

TEST_CASE("the output has exactly target_frames frames, for long, short and odd lengths") {
    std::vector<uint64_t> onsets;
    const auto drums = drum_loop(150, onsets);  // 76800 frames
    struct Case {
        bool finer;
        uint64_t n;
        bool stereo;
    };
    for (const Case k : {Case{false, 12345, true}, Case{false, 101, false}, Case{true, 9601, false},
                         Case{true, 100, true}}) {
        std::vector<float> x(drums.begin(), drums.begin() + static_cast<long>(k.n));
        std::vector<float> x2(drums.begin() + 5000, drums.begin() + 5000 + static_cast<long>(k.n));
        auto src = make_sample(x, k.stereo ? x2 : std::vector<float>{});
        for (double ratio : {0.8, 1.0, 1.25, 0.5, 2.0}) {
            const auto exact = static_cast<uint64_t>(std::llround(k.n * ratio));
            for (uint64_t target : {exact, exact | 1u}) {
                if (k.finer && target != exact) continue;  // R3 is slow: one target per ratio
                CAPTURE(k.finer);
                CAPTURE(k.n);
                CAPTURE(target);
                // Ratio 1 would be a copy: shift the pitch so that it is processed too.
                const auto r = render(*src, target, target == k.n ? semitones(1) : 1.0, k.finer);
                REQUIRE(r.error.empty());
                REQUIRE(r.sample);
                CHECK(r.sample->frames == target);
                CHECK(r.sample->left.size() == target);
                CHECK(r.sample->right.size() == (k.stereo ? target : 0));
                CHECK(r.sample->channels == (k.stereo ? 2u : 1u));
                CHECK(r.sample->source_frames == k.n);
                CHECK(std::string(r.sample->name) == "test");
                const Steps st = steps(r.sample->left);
                CHECK(st.wrap <= st.inside);
                for (float v : r.sample->left) REQUIRE(std::isfinite(v));
            }
        }
    }
}

TEST_CASE("a loop of 8 frames renders to 1, 3 and 64 frames") {
    auto src = make_sample({0.1f, 0.5f, -0.2f, 0.3f, -0.4f, 0.0f, 0.2f, -0.1f});
    for (bool finer : {false, true})
        for (uint64_t target : {uint64_t{1}, uint64_t{3}, uint64_t{64}}) {
            const auto r = render(*src, target, 1.0, finer);
            REQUIRE(r.error.empty());
            CHECK(r.sample->left.size() == target);
            for (float v : r.sample->left) CHECK(std::isfinite(v));
        }
}

TEST_CASE("a 20 s stereo loop renders to its exact length with a clean seam and its level") {
    std::vector<uint64_t> onsets;
    const auto bar = drum_loop(120, onsets);  // 2 s
    std::vector<float> left, right;
    for (int k = 0; k < 10; ++k) {
        left.insert(left.end(), bar.begin(), bar.end());
        const auto pad = sine(110 * (1 + k % 3), bar.size(), 0.2);  // a bass line that changes per bar
        for (std::size_t i = 0; i < bar.size(); ++i) right.push_back(0.5f * bar[i] + pad[i]);
    }
    auto src = make_sample(left, right);
    const uint64_t target = 960000 * 9 / 10 + 7;
    const auto r = render(*src, target, 1.0, false);
    REQUIRE(r.error.empty());
    CHECK(r.sample->frames == target);
    CHECK(r.sample->right.size() == target);
    for (const auto* ch : {&r.sample->left, &r.sample->right}) {
        const Steps st = steps(*ch);
        CHECK(st.wrap <= st.inside);
    }
    CHECK(rms(r.sample->left) == doctest::Approx(rms(src->left)).epsilon(0.122));
    CHECK(rms(r.sample->right) == doctest::Approx(rms(src->right)).epsilon(0.122));
    MESSAGE("20 s stereo loop, R2, ratio 0.9: " << r.seconds << " s");
}

TEST_CASE("pitch: a 440 Hz loop shifted by +7 and -5 semitones keeps its length and measures the new pitch") {
    // 1 s, 440 whole cycles.
    auto src = make_sample(sine(440, kRate));
    for (bool finer : {false, true}) {
        for (double st : {7.0, -5.0}) {
            CAPTURE(finer);
            CAPTURE(st);
            const auto r = render(*src, kRate, semitones(st), finer);
            REQUIRE(r.error.empty());
            REQUIRE(r.sample->frames == kRate);
            const double want = 440 * semitones(st);
            const double got = zero_crossing_freq(r.sample->left);
            MESSAGE((finer ? "R3" : "R2") << " " << st << " st: " << got << " Hz (want " << want << ")");
            CHECK(std::fabs(got / want - 1) < 0.003);
            const Steps s = steps(r.sample->left);
            CHECK(s.wrap <= s.inside);
            CHECK(rms(r.sample->left) == doctest::Approx(rms(src->left)).epsilon(0.122));  // 1 dB
        }
    }
}

TEST_CASE("tempo: a drum loop stretched by 0.8 and 1.25 (or only pitched) keeps its onsets on the scaled grid") {
    std::vector<uint64_t> onsets;
    auto src = make_sample(drum_loop(120, onsets));  // 2 s, 16ths every 6000 frames
    const uint64_t n = src->frames;
    const auto env_in = hf_envelope(src->left);
    for (bool finer : {false, true}) {
        for (double ratio : {0.8, 1.0, 1.25, 4.0 / 3.0, 1.5}) {
            for (double pitch : {1.0, semitones(3)}) {
                if (ratio == 1.0 && pitch == 1.0) continue;  // a copy
                CAPTURE(finer);
                CAPTURE(ratio);
                CAPTURE(pitch);
                const auto target = static_cast<uint64_t>(std::llround(n * ratio));
                const auto r = render(*src, target, pitch, finer);
                REQUIRE(r.error.empty());
                const auto& y = r.sample->left;
                const auto env_out = hf_envelope(y);
                double worst = 0, sum = 0;
                for (uint64_t p : onsets) {
                    // The detector's own bias cancels: compare with the source's onset, scaled.
                    const double in = onset_near(env_in, static_cast<double>(p), 0.012 * kRate);
                    const double out = onset_near(env_out, in * ratio, 0.015 * kRate);
                    const double err = (out - in * ratio) / kRate * 1000;  // ms
                    worst = std::max(worst, std::fabs(err));
                    sum += err;
                }
                const double mean = sum / static_cast<double>(onsets.size());
                MESSAGE((finer ? "R3" : "R2") << " ratio " << ratio << " pitch " << pitch << ": onset error mean "
                                              << mean << " ms, worst " << worst << " ms, cut moved "
                                              << r.onset_shift << " frames");
                CHECK(worst < (finer ? 2.0 : 6.0));
                CHECK(std::fabs(mean) < (finer ? 0.6 : 1.0));  // onset alignment (render.cpp step 3b)
                const Steps s = steps(y);
                CHECK(s.wrap <= s.inside);
            }
        }
    }
}

TEST_CASE("clicks: a stretched click track keeps every click on its beat (120 -> 90, 100, 150 BPM)") {
    // One bar at 120 BPM: a click (one sample) on every beat, the first at frame 0.
    std::vector<float> x(96000, 0.0f);
    for (int b = 0; b < 4; ++b) x[static_cast<std::size_t>(b * 24000)] = 0.9f;
    auto src = make_sample(x, x);
    for (bool finer : {false, true}) {
        for (double bpm : {90.0, 100.0, 150.0}) {
            CAPTURE(finer);
            CAPTURE(bpm);
            const auto target = static_cast<uint64_t>(std::llround(96000 * 120.0 / bpm));
            const auto r = render(*src, target, 1.0, finer);
            REQUIRE(r.error.empty());
            const auto env = hf_envelope(r.sample->left);
            const double beat = static_cast<double>(target) / 4;
            double worst = 0, sum = 0;
            for (int b = 0; b < 4; ++b) {
                // The same onset measure on the source click (the detector's bias cancels).
                const double in = onset_near(hf_envelope(src->left), b * 24000.0, 0.012 * kRate);
                const double err = onset_near(env, b * beat, 0.012 * kRate) - in * target / 96000.0;
                worst = std::max(worst, std::fabs(err));
                sum += err;
            }
            MESSAGE((finer ? "R3" : "R2") << " 120 -> " << bpm << " BPM: click offsets mean " << sum / 4
                                          << " worst " << worst << " frames (cut moved " << r.onset_shift << ")");
            // Without the alignment every click was 86 (R3) / 69 (R2) frames early at 90 BPM.
            CHECK(std::fabs(sum / 4) <= 0.0005 * kRate);  // 0.5 ms
            CHECK(worst <= 0.0015 * kRate);               // 1.5 ms: Rubber Band's scatter per click
        }
    }
}

TEST_CASE("seam: the wrap step is no larger than the largest step inside the loop") {
    std::vector<uint64_t> onsets;
    const auto drums = drum_loop(120, onsets);
    auto drum_src = make_sample(drums, drums);
    auto sine_src = make_sample(sine(440, kRate), sine(440, kRate, 0.5, 1.0));
    auto odd_sine = make_sample(sine(217.3, 33333));  // not a whole number of cycles: the source itself clicks
    for (bool finer : {false, true}) {
        for (const Sample* src : {drum_src.get(), sine_src.get(), odd_sine.get()}) {
            for (double ratio : {0.8, 1.0, 1.25}) {
                const double pitch = ratio == 1.0 ? semitones(2) : 1.0;
                const auto target = static_cast<uint64_t>(std::llround(src->frames * ratio)) | 1u;
                CAPTURE(finer);
                CAPTURE(src->frames);
                CAPTURE(target);
                const auto r = render(*src, target, pitch, finer);
                REQUIRE(r.error.empty());
                for (int c = 0; c < static_cast<int>(src->channels); ++c) {
                    const auto& y = c == 0 ? r.sample->left : r.sample->right;
                    const Steps s = steps(y);
                    CAPTURE(c);
                    CAPTURE(s.wrap);
                    CAPTURE(s.inside);
                    CHECK(s.wrap <= s.inside);
                    if (src != drum_src.get()) {
                        // A tone: the curvature (second difference) at the wrap is like anywhere
                        // else too; a click, even one smaller than a step, would show there.
                        const std::size_t n = y.size();
                        auto d2 = [&](std::size_t i) {  // at i, circular
                            return std::fabs(static_cast<double>(y[(i + n - 1) % n]) - 2.0 * y[i] + y[(i + 1) % n]);
                        };
                        double inside = 0;
                        for (std::size_t i = 1; i + 1 < n; ++i) inside = std::max(inside, d2(i));
                        CHECK(std::max(d2(0), d2(n - 1)) <= inside);
                    }
                }
            }
        }
    }
}

TEST_CASE("level: a sine keeps its RMS within 1 dB when stretched") {
    auto src = make_sample(sine(440, kRate));
    for (bool finer : {false, true}) {
        for (double ratio : {0.8, 1.25}) {
            CAPTURE(finer);
            CAPTURE(ratio);
            const auto r = render(*src, static_cast<uint64_t>(std::llround(kRate * ratio)), semitones(7), finer);
            REQUIRE(r.error.empty());
            const double db = 20 * std::log10(rms(r.sample->left) / rms(src->left));
            MESSAGE((finer ? "R3" : "R2") << " ratio " << ratio << " +7 st: level " << db << " dB");
            CHECK(std::fabs(db) < 1.0);
            CHECK(std::fabs(zero_crossing_freq(r.sample->left) / (440 * semitones(7)) - 1) < 0.003);
            // No dip where the cycle is joined (at ratio 0.8 the two joined versions of the
            // tone are 145 degrees apart): peaks over 10 ms windows stay within 1 dB.
            const auto& y = r.sample->left;
            double lo = 1e9, hi = 0;
            for (std::size_t w = 0; w + 480 <= y.size(); w += 240) {
                double peak = 0;
                for (std::size_t i = w; i < w + 480; ++i) peak = std::max(peak, static_cast<double>(std::fabs(y[i])));
                lo = std::min(lo, peak);
                hi = std::max(hi, peak);
            }
            CHECK(20 * std::log10(hi / lo) < 1.0);
        }
    }
}

TEST_CASE("stereo stays phase-locked") {
    std::vector<uint64_t> onsets;
    auto mono = drum_loop(120, onsets);
    const auto tone = sine(330, mono.size(), 0.2);
    for (std::size_t i = 0; i < mono.size(); ++i) mono[i] += tone[i];
    const std::size_t n = mono.size();
    SUBCASE("identical channels give identical channels") {
        auto src = make_sample(mono, mono);
        for (bool finer : {false, true}) {
            const auto r = render(*src, n * 9 / 10, semitones(-3), finer);
            REQUIRE(r.error.empty());
            CHECK(r.sample->left == r.sample->right);
        }
    }
    SUBCASE("an inter-channel delay of 12 frames stays 12 frames") {
        std::vector<float> late(n);
        for (std::size_t i = 0; i < n; ++i) late[i] = mono[(i + n - 12) % n];
        auto src = make_sample(mono, late);
        for (bool finer : {false, true}) {
            CAPTURE(finer);
            const auto r = render(*src, n * 9 / 10, 1.0, finer);
            REQUIRE(r.error.empty());
            const auto& L = r.sample->left;
            const auto& R = r.sample->right;
            const std::size_t m = L.size();
            double best = -1;
            int best_lag = 0;
            for (int lag = -40; lag <= 40; ++lag) {
                double ab = 0, aa = 0, bb = 0;
                for (std::size_t i = 0; i < m; ++i) {
                    const double a = L[i], b = R[static_cast<std::size_t>(static_cast<long>(i + m) + lag) % m];
                    ab += a * b;
                    aa += a * a;
                    bb += b * b;
                }
                if (ab / std::sqrt(aa * bb) > best) {
                    best = ab / std::sqrt(aa * bb);
                    best_lag = lag;
                }
            }
            MESSAGE((finer ? "R3" : "R2") << ": inter-channel lag " << best_lag << ", correlation " << best);
            CHECK(best_lag == 12);
            CHECK(best > 0.95);
        }
    }
}

TEST_CASE("renders are deterministic") {
    std::vector<uint64_t> onsets;
    const auto drums = drum_loop(120, onsets);
    auto src = make_sample(std::vector<float>(drums.begin(), drums.begin() + 12000));
    for (bool finer : {false, true}) {
        const auto a = render(*src, 13001, semitones(5), finer);
        const auto b = render(*src, 13001, semitones(5), finer);
        REQUIRE(a.error.empty());
        REQUIRE(b.error.empty());
        CHECK(a.sample->left == b.sample->left);
    }
}

TEST_CASE("render cost (wall time / loop duration), stereo, ratio 1.1, +3 semitones") {
    std::vector<uint64_t> onsets;
    const auto bar = drum_loop(120, onsets);  // 2 s
    for (double seconds : {2.0, 8.0}) {
        std::vector<float> left, right;
        while (left.size() < static_cast<std::size_t>(seconds * kRate)) {
            left.insert(left.end(), bar.begin(), bar.end());
            const auto chord = sine(220, bar.size(), 0.15);
            for (std::size_t i = 0; i < bar.size(); ++i) right.push_back(0.6f * bar[i] + chord[i]);
        }
        left.resize(static_cast<std::size_t>(seconds * kRate));
        right.resize(left.size());
        auto src = make_sample(left, right);
        for (bool finer : {false, true}) {
            const auto r = render(*src, static_cast<uint64_t>(std::llround(left.size() * 1.1)), semitones(3), finer);
            REQUIRE(r.error.empty());
            MESSAGE((finer ? "R3" : "R2") << " " << seconds << " s stereo loop: " << r.seconds << " s wall, "
                                          << r.seconds / seconds << " of the loop's duration");
        }
    }
}
