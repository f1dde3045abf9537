// The interim pitch shifter alone (rt/interim_shifter.hpp): the pitch of a
// sine after the shifter, a pure delay at ratio 1, dry when idle, and when it
// runs for a slot (only while a pitch render is pending).
#include "interim_shifter.hpp"
#include "musical_grid.hpp"
#include "slot.hpp"
#include "unit_segment.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <complex>
#include <numbers>
#include <vector>

using namespace looprig;
using namespace looprig::rt;

namespace {

constexpr double kRate = 48000.0;

std::vector<float> sine(double hz, std::size_t n) {
    std::vector<float> x(n);
    for (std::size_t i = 0; i < n; ++i) x[i] = static_cast<float>(0.5 * std::sin(2.0 * std::numbers::pi * hz * i / kRate));
    return x;
}

/// The frequency (1 Hz steps in [lo, hi]) with the most energy in x (Hann window).
double peak_frequency(const std::vector<float>& x, double lo, double hi) {
    const std::size_t n = x.size();
    double best = lo, best_power = -1.0;
    for (double f = lo; f <= hi; f += 1.0) {
        std::complex<double> acc = 0.0;
        const std::complex<double> step = std::polar(1.0, -2.0 * std::numbers::pi * f / kRate);
        std::complex<double> w = 1.0;
        for (std::size_t i = 0; i < n; ++i) {
            const double hann = 0.5 - 0.5 * std::cos(2.0 * std::numbers::pi * i / (n - 1));
            acc += hann * x[i] * w;
            w *= step;
        }
        if (std::norm(acc) > best_power) {
            best_power = std::norm(acc);
            best = f;
        }
    }
    return best;
}

struct Lines {
    std::vector<float> storage = std::vector<float>(2 * kShiftWindow, 0.0f);
    ShifterState state;
    Lines() {
        state.buf[0] = storage.data();
        state.buf[1] = storage.data() + kShiftWindow;
    }
};

}  // namespace

TEST_CASE("shift_pitch moves a 440 Hz sine to 440 x ratio") {
    for (const double ratio : {1.5, std::pow(2.0, -5.0 / 12.0)}) {
        Lines lines;
        lines.state.wet.jump(1.0f);
        std::vector<float> l = sine(440.0, 24000), r = l;
        for (std::size_t at = 0; at < l.size(); at += 64) shift_pitch(lines.state, &l[at], &r[at], 64, ratio);
        const std::vector<float> tail(l.begin() + 4096, l.end());
        CHECK(peak_frequency(tail, 200.0, 1000.0) == doctest::Approx(440.0 * ratio).epsilon(0.02));
        CHECK(r == l);
    }
}

TEST_CASE("at ratio 1 the shifter is a delay of half its window; at wet 0 it leaves the signal alone") {
    Lines lines;
    lines.state.wet.jump(1.0f);
    std::vector<float> l(3 * kShiftWindow), r(3 * kShiftWindow);
    for (std::size_t i = 0; i < l.size(); ++i) l[i] = r[i] = static_cast<float>(i % 977) / 977.0f;
    const std::vector<float> in = l;
    shift_pitch(lines.state, l.data(), r.data(), static_cast<uint32_t>(l.size()), 1.0);
    for (std::size_t i = kShiftWindow / 2; i < l.size(); i += 97) CHECK(l[i] == in[i - kShiftWindow / 2]);
    for (std::size_t i = 0; i < kShiftWindow / 2; i += 97) CHECK(l[i] == 0.0f);

    Lines dry;  // wet at rest at 0
    std::vector<float> d = in, e = in;
    shift_pitch(dry.state, d.data(), e.data(), static_cast<uint32_t>(d.size()), 2.0);
    CHECK(d == in);
}

TEST_CASE("InterimShifter::run: idle unless a pitch render is pending; filled from the voice when it starts; fades out when the render is ready") {
    SpscQueue<Sample*> garbage(16);
    SampleRefs refs(garbage);
    MusicalGrid grid;
    grid.reset(0, kRate);
    Voices voices(grid, refs, 0);
    InterimShifter shifter(1);
    std::vector<Slot> slots(1);
    shifter.attach(slots);
    Slot& s = slots[0];
    REQUIRE(s.shifter.buf[0] != nullptr);
    REQUIRE(s.shifter.buf[1] == s.shifter.buf[0] + kShiftWindow);
    auto* smp = new Sample;
    smp->frames = 4800;
    smp->channels = 1;
    smp->left = sine(440.0, 4800);
    s.loaded.sample = smp;
    voices.start_main(s.play, smp, 0);

    // No render pending: nothing happens, not even to the delay lines.
    std::vector<float> l(64, 0.25f), r(64, 0.25f);
    s.shifter.buf[0][5] = 7.0f;
    shifter.run(s, voices, 10000, l.data(), r.data(), 64);
    CHECK(l == std::vector<float>(64, 0.25f));
    CHECK(s.shifter.buf[0][5] == 7.0f);

    // A pitch render pending (+7 st, stretch): the lines are filled with what the voice played, and the wet ramps in.
    s.timing.pitch = 7.0;
    s.steady.needed = true;
    s.steady.ready = false;
    std::vector<float> peek_l(kShiftWindow), peek_r(kShiftWindow);
    voices.peek_voice(s.play.main, 10000 - kShiftWindow, kShiftWindow, peek_l.data(), peek_r.data());
    shifter.run(s, voices, 10000, l.data(), r.data(), 64);
    CHECK(s.shifter.buf[0][1000] == peek_l[1000]);  // (the first 64 frames hold this sub-block now)
    CHECK(s.shifter.buf[0][5] == 0.25f);
    CHECK(s.shifter.write == 64);
    CHECK(s.shifter.wet.target == 1.0f);
    CHECK(s.shifter.wet.moving());

    // Varispeed mode needs no shifter (the pitch follows the tempo): it fades out.
    s.timing.mode = LR_MODE_VARISPEED;
    shifter.run(s, voices, 10064, l.data(), r.data(), 64);
    CHECK(s.shifter.wet.target == 0.0f);
    s.timing.mode = LR_MODE_STRETCH;
    shifter.run(s, voices, 10128, l.data(), r.data(), 64);
    CHECK(s.shifter.wet.target == 1.0f);
    // The render is ready: the shifter fades out.
    s.steady.ready = true;
    for (int i = 0; i < 8; ++i) shifter.run(s, voices, 10192 + 64 * i, l.data(), r.data(), 64);
    CHECK(s.shifter.wet.value == 0.0f);
    CHECK(!s.shifter.wet.moving());
    voices.drop_voice(s.play.main);
    delete smp;
}
