// A slot's channel alone (rt/slot_mixer.hpp): param -> DSP mapping (strip,
// sends by bus, pre/post, group), levels (gain, pan law, mute, solo), and
// mixing one sub-block through strip, sends and fader into its bus.
#include "level_meters.hpp"
#include "slot.hpp"
#include "slot_mixer.hpp"

#include <doctest/doctest.h>

#include <vector>

using namespace looprig;
using namespace looprig::rt;

namespace {

constexpr float kMinus6 = 0.501187f;
constexpr float kCentre = 0.70710678f;  // the -3 dB pan law at centre

}  // namespace

TEST_CASE("param mapping: filters and EQ reach the strip, sends go to their bus pre or post, published as set") {
    SlotMixer mixer(48000, 0, 0, -3.0);
    SlotStrip s;
    mixer.prepare(s);
    s.params_dirty = false;
    mixer.set_param(s, LR_P_HP_ON, 1.0, true);
    mixer.set_param(s, LR_P_HP_FREQ, 120.0, true);
    mixer.set_param(s, LR_P_EQ_MID_GAIN, -4.5, true);
    CHECK(s.settings.hp_on);
    CHECK(s.settings.hp_freq == 120.0);
    CHECK(s.settings.mid_gain_db == -4.5);
    CHECK(s.eq.settings().hp_freq == 120.0);  // handed to the strip
    CHECK(s.params[LR_P_HP_FREQ] == 120.0f);
    CHECK(s.params_dirty);

    mixer.set_param(s, LR_P_SEND1_LEVEL, -6.0, true);  // post-fader by default
    CHECK(s.send_post[LR_SEND_DELAY].target == doctest::Approx(kMinus6));
    CHECK(s.send_pre[LR_SEND_DELAY].target == 0.0f);
    mixer.set_param(s, LR_P_SEND1_PRE, 1.0, true);
    CHECK(s.send_pre[LR_SEND_DELAY].target == doctest::Approx(kMinus6));
    CHECK(s.send_post[LR_SEND_DELAY].target == 0.0f);
    mixer.set_param(s, LR_P_SEND2_LEVEL, 0.0, true);
    CHECK(s.send_post[LR_SEND_REVERB].target == 1.0f);
    mixer.set_param(s, LR_P_SEND2_LEVEL, LR_LEVEL_OFF_DB, true);
    CHECK(s.send_post[LR_SEND_REVERB].target == 0.0f);

    SlotMixer smooth(48000, 100, 0, -3.0);  // ramped: the sends glide, a new bus crossfades
    smooth.set_param(s, LR_P_SEND2_LEVEL, 0.0, false);
    CHECK(s.send_post[LR_SEND_REVERB].moving());
    smooth.set_param(s, LR_P_GROUP, 3.0, false);
    CHECK(s.group == 3);
    CHECK(s.old_group == -1);
    CHECK(s.route.value == 0.0f);
    CHECK(s.route.moving());
    CHECK(s.params[LR_P_GROUP] == 3.0f);
    SlotMixer::assign_group(s, 3, 100);  // the same bus: nothing moves
    CHECK(s.old_group == -1);
}

TEST_CASE("levels: gain, the pan law of the source's channels, mute and solo set the fader targets") {
    SlotMixer mixer(48000, 0, 0, -3.0);
    SlotStrip s;
    mixer.prepare(s);
    CHECK(SlotMixer::set_level(s, LR_P_GAIN, -6.0));
    CHECK(!SlotMixer::set_level(s, LR_P_HP_ON, 1.0));  // not a level
    mixer.update_gain_targets(s, 2, false);
    CHECK(s.gain[0].target == doctest::Approx(kMinus6));  // stereo at centre: unity balance
    CHECK(s.gain[1].target == doctest::Approx(kMinus6));
    mixer.update_gain_targets(s, 1, false);
    CHECK(s.gain[0].target == doctest::Approx(kMinus6 * kCentre));  // mono: the -3 dB law
    CHECK(SlotMixer::set_level(s, LR_P_PAN, 1.0));
    mixer.update_gain_targets(s, 2, false);
    CHECK(s.gain[0].target == doctest::Approx(0.0f).epsilon(1e-6));
    CHECK(s.gain[1].target == doctest::Approx(kMinus6));
    CHECK(SlotMixer::set_level(s, LR_P_MUTE, 1.0));
    mixer.update_gain_targets(s, 2, false);
    CHECK(s.gain[1].target == 0.0f);
    CHECK(s.audible.target == 0.0f);
    SlotMixer::set_level(s, LR_P_MUTE, 0.0);
    mixer.update_gain_targets(s, 2, true);  // another slot is soloed
    CHECK(s.audible.target == 0.0f);
    SlotMixer::set_level(s, LR_P_SOLO, 1.0);
    mixer.update_gain_targets(s, 2, true);
    CHECK(s.audible.target == 1.0f);

    std::vector<Slot> slots(3);
    for (auto& slot : slots) mixer.prepare(slot.strip);
    CHECK(!SlotMixer::any_solo(slots));
    slots[1].strip.solo = true;
    CHECK(SlotMixer::any_solo(slots));
    mixer.update_all_gain_targets(slots);
    CHECK(slots[0].strip.audible.target == 0.0f);
    CHECK(slots[1].strip.audible.target == 1.0f);

    SlotMixer declicked(48000, 0, 32, -3.0);  // gain changes ramp over the declick time
    declicked.update_gain_targets(slots[0].strip, 2, false);
    CHECK(slots[0].strip.gain[0].moving());
}

TEST_CASE("mix: the strip, pre-fader sends, fader and meter, post-fader sends, then the slot's bus") {
    SlotMixer mixer(48000, 0, 0, -3.0);
    SlotStrip s;
    mixer.prepare(s);
    SlotMixer::set_level(s, LR_P_GAIN, -6.0);
    mixer.update_gain_targets(s, 2, false);
    mixer.set_param(s, LR_P_SEND1_LEVEL, 0.0, true);  // post
    mixer.set_param(s, LR_P_SEND2_LEVEL, 0.0, true);
    mixer.set_param(s, LR_P_SEND2_PRE, 1.0, true);    // pre
    mixer.set_param(s, LR_P_GROUP, 2.0, true);
    constexpr uint32_t n = 16;
    std::vector<float> bufs[2 + 2 * LR_GROUPS + 2 * LR_SENDS];
    for (auto& b : bufs) b.assign(n, 0.0f);
    BusInputs to;
    int next = 0;
    for (int c = 0; c < 2; ++c) to.master[c] = bufs[next++].data();
    for (auto& g : to.group)
        for (auto& c : g) c = bufs[next++].data();
    for (auto& k : to.send)
        for (auto& c : k) c = bufs[next++].data();
    std::vector<float> l(n, 0.5f), r(n, 0.5f), slot_l(n), slot_r(n);
    Meter meter;
    REQUIRE(s.eq.transparent());
    SlotMixer::mix(s, l.data(), r.data(), n, to, slot_l.data(), slot_r.data(), meter);
    const float faded = 0.5f * kMinus6;
    CHECK(to.group[2][0][5] == doctest::Approx(faded));
    CHECK(to.group[2][1][5] == doctest::Approx(faded));
    CHECK(to.master[0][5] == 0.0f);
    CHECK(to.send[LR_SEND_DELAY][0][5] == doctest::Approx(faded));  // post-fader
    CHECK(to.send[LR_SEND_REVERB][0][5] == doctest::Approx(0.5f));   // pre-fader: before the gain
    CHECK(slot_l[5] == doctest::Approx(faded));
    CHECK(meter.peak[0] == doctest::Approx(faded));

    // Back to the master: a crossfade out of the group when ramped.
    SlotMixer::assign_group(s, -1, 8);
    std::vector<float> l2(n, 0.5f), r2(n, 0.5f);
    SlotMixer::mix(s, l2.data(), r2.data(), n, to, nullptr, nullptr, meter);
    CHECK(to.master[0][0] > 0.0f);
    CHECK(to.master[0][0] < faded);
    CHECK(to.master[0][n - 1] == doctest::Approx(faded));
    CHECK(to.group[2][0][0] == doctest::Approx(faded + (faded - to.master[0][0])));

    // A silent slot: its ramps move on, its filters restart from silence.
    mixer.set_param(s, LR_P_EQ_LOW_GAIN, 6.0, true);
    REQUIRE(!s.eq.transparent());
    std::vector<float> l3(n, 0.5f), r3(n, 0.5f);
    SlotMixer::mix(s, l3.data(), r3.data(), n, to, nullptr, nullptr, meter);
    CHECK(!s.eq_idle);
    SlotMixer::skip(s, 4);
    CHECK(s.eq_idle);
}
