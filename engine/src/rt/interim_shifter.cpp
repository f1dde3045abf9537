// The interim pitch shifter (interim_shifter.hpp). Audio thread only, except
// the constructor and attach(); everything else is RT safe.
#include "interim_shifter.hpp"

#include "slot.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace looprig::rt {

namespace {

/// sin(pi * k / kShiftTable) for k = 0..kShiftTable: the taps' gains, looked up
/// instead of computed per frame.
constexpr uint32_t kShiftTable = 1024;
struct ShiftGains {
    float table[kShiftTable + 1];
    ShiftGains() {
        for (uint32_t k = 0; k <= kShiftTable; ++k)
            table[k] = static_cast<float>(std::sin(std::numbers::pi * k / kShiftTable));
    }
    /// Gain of a tap at delay d in [0, window). RT safe.
    float at(double d) const {
        const double x = d * (static_cast<double>(kShiftTable) / kShiftWindow);
        const auto k = static_cast<uint32_t>(x);
        const auto t = static_cast<float>(x - k);
        return table[k] + t * (table[k + 1] - table[k]);
    }
};
const ShiftGains kShiftGains;

}  // namespace

void shift_pitch(ShifterState& s, float* l, float* r, uint32_t n, double ratio) {
    constexpr double w = kShiftWindow;
    constexpr uint32_t mask = kShiftWindow - 1;
    float* bl = s.buf[0];
    float* br = s.buf[1];
    for (uint32_t i = 0; i < n; ++i) {
        const float wet = s.wet.next();
        bl[s.write] = l[i];
        br[s.write] = r[i];
        double d2 = s.delay + w / 2;
        if (d2 >= w) d2 -= w;
        float out_l = 0.0f, out_r = 0.0f;
        for (const double d : {s.delay, d2}) {
            // Constant-power (sine) gains: the two taps are mostly uncorrelated.
            const float g = kShiftGains.at(d);
            const double pos = static_cast<double>(s.write) - d + w;
            const auto i0 = static_cast<uint32_t>(pos);
            const auto t = static_cast<float>(pos - static_cast<double>(i0));
            const uint32_t a = i0 & mask, b = (i0 + 1) & mask;
            out_l += g * (bl[a] + t * (bl[b] - bl[a]));
            out_r += g * (br[a] + t * (br[b] - br[a]));
        }
        l[i] += wet * (out_l - l[i]);
        r[i] += wet * (out_r - r[i]);
        s.write = (s.write + 1) & mask;
        s.delay += 1.0 - ratio;
        if (s.delay < 0.0) s.delay += w;
        if (s.delay >= w) s.delay -= w;
    }
}

InterimShifter::InterimShifter(uint32_t slot_count)
    : storage_(static_cast<std::size_t>(slot_count) * 2 * kShiftWindow, 0.0f) {}

void InterimShifter::attach(std::vector<Slot>& slots) {
    for (std::size_t i = 0; i < slots.size() && (i + 1) * 2 * kShiftWindow <= storage_.size(); ++i) {
        slots[i].shifter.buf[0] = storage_.data() + i * 2 * kShiftWindow;
        slots[i].shifter.buf[1] = slots[i].shifter.buf[0] + kShiftWindow;
    }
}

void InterimShifter::run(Slot& s, const Voices& voices, uint64_t from, float* l, float* r, uint32_t n) {
    ShifterState& sh = s.shifter;
    const SteadyRender& render = s.steady;
    const Sample* playing = s.play.main.active() ? s.play.main.sample : nullptr;
    const double have = (playing && playing == render.render) ? render.pitch : 1.0;
    const double ratio = SteadyRenders::pitch_scale(s.timing) / have;
    const bool on = s.timing.mode == LR_MODE_STRETCH && render.needed && !render.ready && std::fabs(ratio - 1.0) > 1e-9;
    const bool idle = sh.wet.value == 0.0f && !sh.wet.moving();
    if (idle && !on) return;
    if (idle) {  // starting: the last window of dry output, as the shifter would have kept it
        if (playing && from >= kShiftWindow) voices.peek_voice(s.play.main, from - kShiftWindow, kShiftWindow, sh.buf[0], sh.buf[1]);
        else std::fill_n(sh.buf[0], 2 * kShiftWindow, 0.0f);  // (both lines are contiguous)
        sh.write = 0;
    }
    const float target = on ? 1.0f : 0.0f;
    if (sh.wet.target != target) sh.wet.set(target, 256);
    shift_pitch(sh, l, r, n, ratio);
}

}  // namespace looprig::rt
