// The mixer inside the audio core: sends, groups, returns, param commands
// (validation, publication, exact frames and ramps), peak holds and the
// loudness hand-over. Driven through the core's command ring like a client.
#include "core_harness.hpp"
#include "loudness.hpp"
#include "looprig/shm_client.h"

#include <doctest/doctest.h>
#include <ebur128.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <limits>
#include <vector>

using namespace looprig;
using namespace looprig::test;

namespace {

constexpr double kCentre = 0.70710678118654752;  // pan law at centre

double gain_of(double db) { return std::pow(10.0, db / 20.0); }

/// A slot playing a constant 0.5 (mono) from `frame`.
void play_dc(CoreHarness& h, int slot, std::size_t length = 4800) {
    h.install(slot, make_sample(std::vector<float>(length, 0.5f)));
    h.send(LR_CMD_PLAY, slot);
}

int error_code_of(CoreHarness& h, uint32_t id) {
    h.run(1);
    const lr_event e = h.event_for(id);
    REQUIRE(e.id == id);
    return e.type == LR_EVT_ERROR ? e.code : LR_OK;
}

}  // namespace

TEST_CASE("sends: post-fader follows gain and pan, pre-fader follows only mute") {
    CoreHarness h(4, 0, 0, 0);  // no ramps: exact levels
    play_dc(h, 0);
    h.send(LR_CMD_GAIN, 0, -6.0);
    h.param(LR_P_SEND1_LEVEL, 0, 0.0);   // post-fader
    h.param(LR_P_SEND2_LEVEL, 0, -6.0);
    h.param(LR_P_SEND2_PRE, 0, 1.0);     // pre-fader
    h.run(10);
    const std::size_t f = h.frame - 1;
    const auto send1 = CoreHarness::kSend, send2 = CoreHarness::kSend + 1;
    CHECK(h.bus[send1][0][f] == doctest::Approx(0.5 * gain_of(-6) * kCentre).epsilon(1e-6));
    CHECK(h.bus[send1][1][f] == doctest::Approx(0.5 * gain_of(-6) * kCentre).epsilon(1e-6));
    CHECK(h.bus[send2][0][f] == doctest::Approx(0.5 * gain_of(-6)).epsilon(1e-6));  // no fader, no pan
    h.send(LR_CMD_PAN, 0, -1.0);
    h.send(LR_CMD_GAIN, 0, -20.0);
    h.run(4);
    const std::size_t g = h.frame - 1;
    CHECK(h.bus[send1][0][g] == doctest::Approx(0.5 * gain_of(-20)).epsilon(1e-6));
    CHECK(h.bus[send1][1][g] == doctest::Approx(0.0).epsilon(1e-9));
    CHECK(h.bus[send2][0][g] == doctest::Approx(0.5 * gain_of(-6)).epsilon(1e-6));
    CHECK(h.bus[send2][1][g] == doctest::Approx(0.5 * gain_of(-6)).epsilon(1e-6));
    h.send(LR_CMD_MUTE, 0, 1.0);
    h.run(4);
    CHECK(h.bus[send1][0][h.frame - 1] == 0.0f);
    CHECK(h.bus[send2][0][h.frame - 1] == 0.0f);  // pre-fader sends stop at mute
    h.send(LR_CMD_MUTE, 0, 0.0);
    h.param(LR_P_SEND2_LEVEL, 0, -120.0);  // off
    h.run(4);
    CHECK(h.bus[send2][0][h.frame - 1] == 0.0f);
    CHECK(h.bus[send1][0][h.frame - 1] > 0.0f);
}

TEST_CASE("groups: a slot's bus, group gain and mute, reassignment") {
    CoreHarness h(4, 0, 0, 0);
    play_dc(h, 1);
    h.param(LR_P_GROUP, 1, 3.0);
    h.run(4);
    std::size_t f = h.frame - 1;
    const double level = 0.5 * kCentre;
    CHECK(h.bus[3][0][f] == doctest::Approx(level).epsilon(1e-6));
    CHECK(h.out_l[f] == doctest::Approx(level).epsilon(1e-6));  // the group reaches the master
    CHECK(h.bus[2][0][f] == 0.0f);
    CHECK(h.segment->slot_meters()[1].group == 3);
    h.param(LR_P_GROUP_GAIN, 3, -6.0);
    h.run(2);
    f = h.frame - 1;
    CHECK(h.bus[3][0][f] == doctest::Approx(level * gain_of(-6)).epsilon(1e-6));
    CHECK(h.out_l[f] == doctest::Approx(level * gain_of(-6)).epsilon(1e-6));
    CHECK(h.slot_l[1][f] == doctest::Approx(level).epsilon(1e-6));  // slot outs are before the group
    h.param(LR_P_GROUP_MUTE, 3, 1.0);
    h.run(2);
    CHECK(h.out_l[h.frame - 1] == 0.0f);
    CHECK(h.bus[3][0][h.frame - 1] == 0.0f);
    h.param(LR_P_GROUP, 1, -1.0);  // straight to the master again
    h.run(2);
    CHECK(h.out_l[h.frame - 1] == doctest::Approx(level).epsilon(1e-6));
    CHECK(h.segment->slot_meters()[1].group == -1);
}

TEST_CASE("a param at a frame starts its ramp exactly there and ends smooth_frames later") {
    const uint32_t smooth = 480;
    CoreHarness h(2, 0, 0, smooth);
    play_dc(h, 0);
    h.param(LR_P_GROUP, 0, 0.0);
    h.run(20);  // the move to group 0 has crossfaded
    const uint64_t t = h.frame + 1000 + 7;
    h.param(LR_P_GROUP_GAIN, 0, -120.0, true, t);  // to silence
    h.run(40);
    const double level = 0.5 * kCentre;
    CHECK(h.out_l[t - 1] == doctest::Approx(level).epsilon(1e-6));
    CHECK(h.out_l[t] < level);  // the ramp's first step is at t
    CHECK(h.out_l[t + smooth / 2] == doctest::Approx(level / 2).epsilon(0.01));
    CHECK(h.out_l[t + smooth - 2] > 0.0f);
    CHECK(h.out_l[t + smooth - 1] == 0.0f);  // smooth_frames frames: t .. t + smooth - 1
    for (uint64_t i = t - 1; i < t + smooth; ++i) {  // no zipper: linear steps of level / smooth
        REQUIRE(h.out_l[i + 1] <= h.out_l[i]);
        REQUIRE(h.out_l[i] - h.out_l[i + 1] <= level / smooth * 1.01 + 1e-7);
    }
}

TEST_CASE("bad params are rejected with the right code and change nothing") {
    CoreHarness h(4, 0, 0, 0);
    h.run(1);
    const lr_slot_params before = h.segment->slot_params()[1];
    const double nan = std::numeric_limits<double>::quiet_NaN();
    const double inf = std::numeric_limits<double>::infinity();
    CHECK(error_code_of(h, h.param(LR_P_HP_FREQ, 1, nan)) == LR_E_BAD_VALUE);
    CHECK(error_code_of(h, h.param(LR_P_HP_FREQ, 1, inf)) == LR_E_BAD_VALUE);
    CHECK(error_code_of(h, h.param(LR_P_HP_FREQ, 1, 5.0)) == LR_E_BAD_VALUE);      // below 10 Hz
    CHECK(error_code_of(h, h.param(LR_P_EQ_MID_GAIN, 1, 24.5)) == LR_E_BAD_VALUE);
    CHECK(error_code_of(h, h.param(LR_P_HP_ON, 1, 0.5)) == LR_E_BAD_VALUE);        // switch
    CHECK(error_code_of(h, h.param(LR_P_GROUP, 1, 1.5)) == LR_E_BAD_VALUE);        // index
    CHECK(error_code_of(h, h.param(LR_P_GROUP, 1, 8.0)) == LR_E_BAD_VALUE);        // no group 8
    CHECK(error_code_of(h, h.param(LR_P_HP_FREQ, 4, 100.0)) == LR_E_BAD_SLOT);     // 4 slots
    CHECK(error_code_of(h, h.param(LR_P_HP_FREQ, -1, 100.0)) == LR_E_BAD_SLOT);
    CHECK(error_code_of(h, h.param(LR_P_GROUP_GAIN, LR_GROUPS, 0.0)) == LR_E_BAD_SLOT);
    CHECK(error_code_of(h, h.param(999, 0, 0.0)) == LR_E_BAD_VALUE);
    CHECK(error_code_of(h, h.param(LR_P_SLOT_END, 0, 0.0)) == LR_E_BAD_VALUE);     // a gap in the ids
    CHECK(error_code_of(h, h.param(LR_P_DELAY_FEEDBACK, 0, 0.96)) == LR_E_BAD_VALUE);
    CHECK(std::memcmp(&before, &h.segment->slot_params()[1], sizeof before) == 0);
    CHECK(error_code_of(h, h.param(LR_P_DELAY_FEEDBACK, 77, 0.5)) == LR_OK);        // global: slot ignored
}

TEST_CASE("param values in force are published; defaults come from the table") {
    CoreHarness h(4, 0, 0, 0);
    h.run(1);
    uint32_t count = 0;
    const lr_param_desc* table = lr_param_table(&count);
    const lr_mix_meter& mix = *h.segment->mix_meter();
    for (uint32_t k = 0; k < count; ++k) {
        const lr_param_desc& p = table[k];
        const float published = p.target == LR_TARGET_SLOT    ? h.segment->slot_params()[3].value[p.id]
                                : p.target == LR_TARGET_GROUP ? mix.group_params[5][p.id - LR_P_GROUP_BASE]
                                                              : mix.global_params[p.id - LR_P_GLOBAL_BASE];
        CHECK_MESSAGE(published == doctest::Approx(p.def), std::string(p.name));
    }
    h.param(LR_P_EQ_MID_GAIN, 2, 6.5);
    h.param(LR_P_GROUP_GAIN, 5, -3.0);
    h.param(LR_P_DELAY_MS, 0, 250.0);
    h.run(2);
    CHECK(h.segment->slot_params()[2].value[LR_P_EQ_MID_GAIN] == 6.5f);
    CHECK(h.segment->slot_params()[1].value[LR_P_EQ_MID_GAIN] == 0.0f);
    CHECK(mix.group_params[5][LR_P_GROUP_GAIN - LR_P_GROUP_BASE] == -3.0f);
    CHECK(mix.global_params[LR_P_DELAY_MS - LR_P_GLOBAL_BASE] == 250.0f);
    CHECK(mix.global_params[LR_P_DELAY_BEATS - LR_P_GLOBAL_BASE] == 0.0f);  // ms replaces beats
    CHECK(mix.delay_frames == 12000);
    h.param(LR_P_DELAY_BEATS, 0, 1.0);  // one beat at 120 BPM
    h.run(2);
    CHECK(mix.delay_frames == 24000);
    h.send(LR_CMD_TEMPO, 0, 150.0);
    h.run(2);
    CHECK(mix.delay_frames == 19200);  // synced: follows the tempo
}

TEST_CASE("delay: the first echo lands exactly D frames after the impulse, unfiltered") {
    CoreHarness h(2, 0, 0, 0);
    std::vector<float> click(200000, 0.0f);
    click[0] = 1.0f;
    h.install(0, make_sample(click));
    h.param(LR_P_SEND1_LEVEL, 0, 0.0);
    h.param(LR_P_DELAY_MS, 0, 250.0);  // 12000 frames
    h.param(LR_P_DELAY_FEEDBACK, 0, 0.5);
    h.run(4);
    const uint64_t t = h.frame + 333;
    h.send(LR_CMD_PLAY, 0, 0, true, t);
    h.run((24000 + 2 * 12000) / 64);
    const auto ret = CoreHarness::kReturn;
    CHECK(h.out_l[t] == doctest::Approx(kCentre).epsilon(1e-6));  // the dry click
    for (uint64_t i = t; i < t + 12000; ++i) REQUIRE(h.bus[ret][0][i] == 0.0f);
    CHECK(h.bus[ret][0][t + 12000] == doctest::Approx(kCentre).epsilon(1e-5));
    CHECK(h.bus[ret][1][t + 12000] == doctest::Approx(kCentre).epsilon(1e-5));
    CHECK(h.out_l[t + 12000] == doctest::Approx(kCentre).epsilon(1e-5));  // the return reaches the master
    // The second echo comes 12000 frames later, at about the feedback (filtered by lowcut/highcut).
    float second = 0.0f;
    for (uint64_t i = t + 23990; i < t + 24100; ++i) second = std::max(second, std::fabs(h.bus[ret][0][i]));
    CHECK(second > 0.2f * kCentre);
    CHECK(second < 0.6f * kCentre);
}

TEST_CASE("peak hold: holds 2 s, then drops to the current peak; meter reset clears it") {
    CoreHarness h(2, 0, 0, 0);
    play_dc(h, 0);
    h.run(10);
    const lr_slot_meter& m = h.segment->slot_meters()[0];
    const lr_meter_header& mh = *h.segment->meter_header();
    CHECK(m.peak_hold[0] == doctest::Approx(0.5 * kCentre).epsilon(1e-6));
    CHECK(mh.master_peak_hold[0] == doctest::Approx(0.5 * kCentre).epsilon(1e-6));
    h.send(LR_CMD_STOP, 0);
    h.run(48000 / 64);  // 1 s
    CHECK(m.peak[0] == 0.0f);
    CHECK(m.peak_hold[0] == doctest::Approx(0.5 * kCentre).epsilon(1e-6));
    h.run(48000 / 64 + 10);  // past 2 s
    CHECK(m.peak_hold[0] == 0.0f);
    h.send(LR_CMD_PLAY, 0);
    h.run(4);
    h.send(LR_CMD_STOP, 0);
    h.run(4);
    CHECK(mh.master_peak_hold[0] > 0.0f);
    const uint32_t reset_before = h.core->loudness_reset_generation();
    h.send(LR_CMD_METER_RESET);
    h.run(2);
    CHECK(mh.master_peak_hold[0] == 0.0f);
    CHECK(m.peak_hold[0] == 0.0f);
    CHECK(h.core->loudness_reset_generation() == reset_before + 1);
}

TEST_CASE("the master is handed to the loudness thread sample for sample") {
    CoreHarness h(2, 0, 0, 0);
    h.install(0, make_sample(std::vector<float>{0.1f, -0.2f, 0.3f, 0.05f, -0.4f}));
    h.send(LR_CMD_PLAY, 0);
    h.run(40);  // 2560 frames: 5 full blocks
    std::vector<float> got;
    while (LoudnessBlock* b = h.core->loudness_blocks().front()) {
        REQUIRE(b->frames == kLoudnessBlockFrames);
        got.insert(got.end(), b->samples, b->samples + 2 * b->frames);
        h.core->loudness_blocks().pop();
    }
    REQUIRE(got.size() == 2 * 5 * kLoudnessBlockFrames);
    for (std::size_t i = 0; i < got.size() / 2; ++i) {
        REQUIRE(got[2 * i] == h.out_l[i]);
        REQUIRE(got[2 * i + 1] == h.out_r[i]);
    }
}

TEST_CASE("a silent master stops feeding the loudness thread after kLoudnessQuietSeconds, then says what it skipped") {
    CoreHarness h(2, 0, 0, 0);
    h.period = 256;
    const uint64_t quiet = uint64_t{kLoudnessQuietSeconds} * 48000;
    uint64_t handed = 0;
    auto drain = [&] {
        while (LoudnessBlock* b = h.core->loudness_blocks().front()) {
            CHECK(b->silence_before == 0);
            handed += b->frames;
            h.core->loudness_blocks().pop();
        }
    };
    for (int i = 0; i < 60; ++i) {  // 9.6 s of silence, drained as the loudness thread would
        h.run(30);
        drain();
    }
    // Whole blocks until kLoudnessQuietSeconds of silence were handed over, then none.
    CHECK(handed >= quiet);
    CHECK(handed < quiet + kLoudnessBlockFrames);
    const uint64_t silent_end = h.frame;
    h.install(0, make_sample(std::vector<float>{0.1f, -0.2f, 0.3f, 0.05f, -0.4f}));
    h.send(LR_CMD_PLAY, 0);
    h.run(8);
    LoudnessBlock* b = h.core->loudness_blocks().front();
    REQUIRE(b != nullptr);
    // Every frame is accounted for: handed over, skipped, or in this block.
    const uint64_t first = handed + b->silence_before;
    CHECK(b->silence_before > 0);
    CHECK(first <= silent_end);
    CHECK(first + kLoudnessBlockFrames > silent_end);
    for (uint32_t i = 0; i < kLoudnessBlockFrames; ++i) {
        REQUIRE(b->samples[2 * i] == h.out_l[first + i]);
        REQUIRE(b->samples[2 * i + 1] == h.out_r[first + i]);
    }
    h.core->loudness_blocks().pop();
    while ((b = h.core->loudness_blocks().front()) != nullptr) {  // and from then on, every block
        CHECK(b->silence_before == 0);
        h.core->loudness_blocks().pop();
    }
}

TEST_CASE("the silence the loudness thread feeds for skipped blocks gives the same readings as all of it") {
    constexpr uint32_t kRate = 48000;
    constexpr int kModes = EBUR128_MODE_M | EBUR128_MODE_S | EBUR128_MODE_I | EBUR128_MODE_HISTOGRAM;
    auto add = [](ebur128_state* st, uint64_t frames, double amp) {  // a sine from its phase 0
        std::vector<float> buf(2 * 4096);
        uint64_t t = 0;
        while (frames > 0) {
            const uint64_t n = std::min<uint64_t>(frames, 4096);
            for (uint64_t i = 0; i < n; ++i)
                buf[2 * i] = buf[2 * i + 1] = static_cast<float>(amp * std::sin(2 * M_PI * 997.0 * (t + i) / kRate));
            ebur128_add_frames_float(st, buf.data(), n);
            frames -= n;
            t += n;
        }
    };
    struct Reading {
        double m, s, i;
    };
    auto read = [](ebur128_state* st) {
        Reading r{};
        ebur128_loudness_momentary(st, &r.m);
        ebur128_loudness_shortterm(st, &r.s);
        ebur128_loudness_global(st, &r.i);
        return r;
    };
    // sound, silence of `silent` frames (all of it, or what silence_to_feed() says), sound again
    for (const uint64_t silent : {uint64_t{1000}, uint64_t{kLoudnessQuietSeconds} * kRate + 77,
                                  uint64_t{40} * kRate + 12345, uint64_t{3600} * kRate + 1}) {
        for (const bool fresh : {false, true}) {  // fresh: a meter reset just before the silence
            Reading got[2];
            for (int way = 0; way < 2; ++way) {
                ebur128_state* st = ebur128_init(2, kRate, kModes);
                add(st, 3 * kRate + 333, 0.3);
                if (fresh) {
                    ebur128_destroy(&st);
                    st = ebur128_init(2, kRate, kModes);
                }
                // (an hour of zeros takes too long here: 60 s of them plus the
                // rest of the hour modulo 3 s, the window's length, is the same)
                const uint64_t z = way == 0 ? std::min<uint64_t>(silent, 60 * kRate + silent % (3 * kRate))
                                            : LoudnessMeter::silence_to_feed(silent, kRate);
                add(st, z, 0.0);
                add(st, 2 * kRate + 5000, 0.1);
                got[way] = read(st);
                ebur128_destroy(&st);
            }
            CHECK(got[1].m == got[0].m);
            CHECK(got[1].s == got[0].s);
            CHECK(got[1].i == got[0].i);
        }
    }
    CHECK(LoudnessMeter::silence_to_feed(0, kRate) == 0);
    CHECK(LoudnessMeter::silence_to_feed(uint64_t{kLoudnessQuietSeconds} * kRate, kRate) ==
          uint64_t{kLoudnessQuietSeconds} * kRate);
    CHECK(LoudnessMeter::silence_to_feed(uint64_t{kLoudnessQuietSeconds} * kRate + 3 * kRate * 7 + 3, kRate) ==
          uint64_t{kLoudnessQuietSeconds} * kRate + 3);
}

TEST_CASE("EQ in the slot path: a +12 dB low shelf raises DC by 12 dB, then glides back to flat") {
    CoreHarness h(2, 0, 0, 480);
    play_dc(h, 0);
    h.run(4);
    const double level = 0.5 * kCentre;
    CHECK(h.out_l[h.frame - 1] == doctest::Approx(level).epsilon(1e-6));
    h.param(LR_P_EQ_LOW_GAIN, 0, 12.0);
    h.run(48000 / 64);  // settled
    CHECK(h.out_l[h.frame - 1] == doctest::Approx(level * gain_of(12)).epsilon(1e-3));
    h.param(LR_P_EQ_LOW_GAIN, 0, 0.0);
    h.run(48000 / 64);
    CHECK(h.out_l[h.frame - 1] == doctest::Approx(level).epsilon(1e-4));
}

TEST_CASE("idle effects sleep without losing an echo still in the line, and wake on the first input") {
    CoreHarness h(2, 0, 0, 0);
    std::vector<float> click(400000, 0.0f);  // one click, then 8 s of silence
    click[0] = 1.0f;
    h.install(0, make_sample(click));
    h.param(LR_P_SEND1_LEVEL, 0, 0.0);
    h.param(LR_P_DELAY_MS, 0, 2000.0);  // 96000 frames: far longer than the 100 ms of quiet before sleeping
    h.param(LR_P_DELAY_FEEDBACK, 0, 0.0);
    h.run(4);
    const auto ret = CoreHarness::kReturn;
    for (int round = 0; round < 2; ++round) {  // the second click finds the delay asleep
        const uint64_t t = h.frame + 1000;
        h.send(LR_CMD_PLAY, 0, 0, true, t);
        h.run((96000 + 48000 * 3) / 64);  // the echo, then 3 s of silence: asleep
        CHECK_MESSAGE(h.bus[ret][0][t + 96000] == doctest::Approx(kCentre).epsilon(1e-5), round);
        for (uint64_t i = t + 96001; i < h.frame; ++i) REQUIRE(h.bus[ret][0][i] == 0.0f);
        h.send(LR_CMD_STOP, 0);
        h.run(2);
    }
}

TEST_CASE("a change made while an effect sleeps is complete when it wakes (ping-pong switched while idle)") {
    CoreHarness h(2, 0, 0, 2400);  // 50 ms glides
    std::vector<float> click(48000, 0.0f);
    click[232] = 1.0f;
    h.install(0, make_sample(click));
    h.param(LR_P_SEND1_LEVEL, 0, 0.0);
    h.param(LR_P_SEND1_PRE, 0, 1.0);
    h.param(LR_P_DELAY_MS, 0, 100.0);  // 4800 frames
    h.param(LR_P_DELAY_FEEDBACK, 0, 0.0);
    h.run(48000 / 64);                 // 1 s of silence: the delay sleeps
    h.param(LR_P_DELAY_PINGPONG, 0, 1.0);
    h.run(48000 / 64);                 // far longer than the 2400-frame glide
    const uint64_t t = h.frame + 64;
    h.send(LR_CMD_PLAY, 0, 0, true, t);
    h.run(12000 / 64);
    const auto ret = CoreHarness::kReturn;
    // Ping-pong: the mono sum (the click at centre pan is 1 in both channels
    // pre-fader) enters the left line only; the first echo is all left.
    CHECK(h.bus[ret][0][t + 232 + 4800] == doctest::Approx(1.0).epsilon(1e-6));
    CHECK(h.bus[ret][1][t + 232 + 4800] == 0.0f);
}

TEST_CASE("every per-slot setting is a param: the commands and the params set and publish the same thing") {
    CoreHarness h(4, 0, 0, 0);
    h.install(0, make_sample(std::vector<float>(4800, 0.5f)));
    h.install(1, make_sample(std::vector<float>(4800, 0.5f)));
    h.run(1);
    const lr_slot_params* sp = h.segment->slot_params();
    const lr_slot_meter* sm = h.segment->slot_meters();
    // Commands: published as params too.
    h.send(LR_CMD_GAIN, 0, -6.0);
    h.send(LR_CMD_PAN, 0, 0.5);
    h.send(LR_CMD_MUTE, 0, 1.0);
    h.send(LR_CMD_PITCH, 0, 3.5);
    h.send(LR_CMD_MODE, 0, LR_MODE_VARISPEED);
    h.run(2);
    CHECK(sp[0].value[LR_P_GAIN] == -6.0f);
    CHECK(sp[0].value[LR_P_PAN] == 0.5f);
    CHECK(sp[0].value[LR_P_MUTE] == 1.0f);
    CHECK(sp[0].value[LR_P_PITCH] == 3.5f);
    CHECK(sp[0].value[LR_P_MODE] == 1.0f);
    // Params: the same effect as the commands (meters report it as before).
    h.param(LR_P_GAIN, 1, -6.0);
    h.param(LR_P_PAN, 1, 0.5);
    h.param(LR_P_MUTE, 1, 1.0);
    h.param(LR_P_PITCH, 1, 3.5);
    h.param(LR_P_MODE, 1, LR_MODE_VARISPEED);
    h.run(2);
    for (int s = 0; s < 2; ++s) {
        CHECK(sm[s].gain_db == -6.0f);
        CHECK(sm[s].pan == 0.5f);
        CHECK((sm[s].flags & LR_SLOT_F_MUTED) != 0);
        CHECK(sm[s].pitch == 3.5f);
        CHECK(sm[s].mode == LR_MODE_VARISPEED);
    }
    CHECK(std::memcmp(&sp[0], &sp[1], sizeof sp[0]) == 0);
    // Solo by param silences the others, as the command does.
    h.param(LR_P_MUTE, 1, 0.0);
    h.param(LR_P_SOLO, 1, 1.0);
    h.run(2);
    CHECK((sm[1].flags & LR_SLOT_F_SOLOED) != 0);
    CHECK((sm[2].flags & LR_SLOT_F_AUDIBLE) == 0);
    // Loop tempo: declared by BPM or by beats, one clears the other; as the command.
    h.param(LR_P_LOOP_BPM, 2, 90.0);
    h.run(1);
    CHECK(sp[2].value[LR_P_LOOP_BPM] == 90.0f);
    h.param(LR_P_LOOP_BEATS, 2, 8.0);
    h.run(1);
    CHECK(sp[2].value[LR_P_LOOP_BEATS] == 8.0f);
    CHECK(sp[2].value[LR_P_LOOP_BPM] == 0.0f);
    lr_command lt{};
    lt.id = h.next_id++;
    lt.type = LR_CMD_LOOP_TEMPO;
    lt.slot = 2;
    lt.value[0] = 120.0;
    h.push(lt);
    h.run(1);
    CHECK(sp[2].value[LR_P_LOOP_BPM] == 120.0f);
    CHECK(sp[2].value[LR_P_LOOP_BEATS] == 0.0f);
    // 0 is "not declared"; 5 BPM is neither 0 nor 20..400.
    CHECK(error_code_of(h, h.param(LR_P_LOOP_BPM, 2, 5.0)) == LR_E_BAD_VALUE);
    CHECK(error_code_of(h, h.param(LR_P_LOOP_BPM, 2, 0.0)) == LR_OK);
    CHECK(sp[2].value[LR_P_LOOP_BPM] == 0.0f);
    char why[LR_MESSAGE_MAX];
    CHECK(lr_param_check(LR_P_LOOP_BEATS, 0.1, why, sizeof why) == LR_E_BAD_VALUE);
    CHECK(std::string(why) == "loop-beats 0.1 is out of range (0 or 0.25..1024 beats)");
    // The old commands are checked by the params' rules (one table).
    CHECK(error_code_of(h, h.send(LR_CMD_GAIN, 0, 24.5)) == LR_E_BAD_VALUE);
    CHECK(error_code_of(h, h.send(LR_CMD_MODE, 0, 2.0)) == LR_E_BAD_VALUE);
}

TEST_CASE("the full path of each slot's file is published with its name") {
    CoreHarness h(2, 0, 0, 0);
    Sample* s = make_sample(std::vector<float>(480, 0.1f));
    std::snprintf(s->name, sizeof s->name, "%s", "kick.wav");
    std::snprintf(s->path, sizeof s->path, "%s", "/home/me/loops/kick.wav");
    h.install(1, s);
    h.run(2);
    const lr_slot_info& info = h.segment->slot_infos()[1];
    CHECK(std::string(info.name) == "kick.wav");
    CHECK(std::string(info.path) == "/home/me/loops/kick.wav");
    h.send(LR_CMD_UNLOAD, 1);
    h.run(2);
    CHECK(std::string(info.path).empty());
}
