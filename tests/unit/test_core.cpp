// The audio core, driven directly: exact looping, exact scheduling, gains,
// mute/solo, quantize, load swaps, events, and no allocation on the audio path.
#include "core_harness.hpp"
#include "looprig/shm_client.h"
#include "dsp.hpp"
#include "render_worker.hpp"
#include "rt_guard.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <chrono>
#include <random>
#include <thread>

using namespace looprig;
using looprig::test::CoreHarness;
using looprig::test::make_sample;

namespace {
std::vector<float> noise(std::size_t n, uint32_t seed) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> d(-0.5f, 0.5f);
    std::vector<float> v(n);
    for (auto& x : v) x = d(rng);
    return v;
}
const double kCos = std::sqrt(0.5);  // centre pan gain
}  // namespace

TEST_CASE("a loop of odd prime length plays exactly periodically from its start frame") {
    CoreHarness h(4, 0, 1000);
    const auto x = noise(997, 1);
    h.install(0, make_sample(x));
    h.run(1);
    const uint64_t t = 1234 + 1000;  // mid-period
    const uint32_t id = h.send(LR_CMD_PLAY, 0, 0, true, t);
    h.run(200);  // 12800 frames: > 12 cycles
    const lr_event ack = h.event_for(id);
    CHECK(ack.type == LR_EVT_ACK);
    CHECK(ack.frame == t);
    uint64_t mismatches = 0;
    for (uint64_t f = 1000; f < h.frame; ++f) {
        const double expect = f < t ? 0.0 : x[(f - t) % x.size()] * kCos;
        if (std::fabs(h.out_l[f] - expect) > 1e-7 || std::fabs(h.out_r[f] - expect) > 1e-7) ++mismatches;
    }
    CHECK(mismatches == 0);
}

TEST_CASE("stop at a frame: exact zeros from that frame on; play again restarts at frame 0") {
    CoreHarness h(2, 0, 0);
    const auto x = noise(101, 2);
    h.install(1, make_sample(x));
    h.send(LR_CMD_PLAY, 1, 0, true, 100);
    h.send(LR_CMD_STOP, 1, 0, true, 1000);
    h.send(LR_CMD_PLAY, 1, 0, true, 1500);
    h.run(40);
    for (uint64_t f = 0; f < h.frame; ++f) {
        double e = 0;
        if (f >= 100 && f < 1000) e = x[(f - 100) % 101] * kCos;
        if (f >= 1500) e = x[(f - 1500) % 101] * kCos;
        REQUIRE(h.out_l[f] == doctest::Approx(e).epsilon(1e-6));
    }
}

TEST_CASE("several commands with the same frame take effect in the same frame") {
    CoreHarness h(8, 0, 0);
    for (int s = 0; s < 8; ++s) h.install(s, make_sample(std::vector<float>(50, 0.01f * (s + 1))));
    for (int s = 0; s < 8; ++s) h.send(LR_CMD_PLAY, s, 0, true, 777);
    h.run(20);
    for (int s = 0; s < 8; ++s) {
        CHECK(h.slot_l[s][776] == 0.0f);
        CHECK(h.slot_l[s][777] == doctest::Approx(0.01 * (s + 1) * kCos));
    }
}

TEST_CASE("gain and pan follow the documented laws") {
    CoreHarness h(2, 0, 0);
    h.install(0, make_sample(std::vector<float>(64, 0.5f), std::vector<float>(64, 0.25f)));
    h.send(LR_CMD_PLAY, 0);
    h.send(LR_CMD_GAIN, 0, -6.0);
    h.send(LR_CMD_PAN, 0, -0.5);
    h.run(4);
    double pl = 0, pr = 0;
    dsp::pan_gains(-0.5, 2, -3.0, &pl, &pr);  // a stereo source: balance
    const double g = dsp::db_to_gain(-6.0);
    CHECK(h.out_l[200] == doctest::Approx(0.5 * g * pl).epsilon(1e-6));
    CHECK(h.out_r[200] == doctest::Approx(0.25 * g * pr).epsilon(1e-6));
}

TEST_CASE("a stereo loop at the default settings reaches the master and its slot outs bit-identical") {
    CoreHarness h(2, 64, 1000);  // with the default 2 ms-ish declick: the ramp ends, then unity
    const auto xl = noise(997, 3), xr = noise(997, 4);
    h.install(0, make_sample(xl, xr));
    h.send(LR_CMD_PLAY, 0);
    h.run(40);
    const uint64_t start = 1000;
    std::size_t exact = 0;
    for (uint64_t f = start + 64; f < h.frame; ++f) {
        const std::size_t k = (f - start) % xl.size();
        REQUIRE(h.out_l[f] == xl[k]);  // exactly, not approximately
        REQUIRE(h.out_r[f] == xr[k]);
        REQUIRE(h.slot_l[0][f] == xl[k]);
        REQUIRE(h.slot_r[0][f] == xr[k]);
        ++exact;
    }
    CHECK(exact > 2000);
    // Panned right: the right channel stays exact, the left falls by cos(p pi / 2).
    h.send(LR_CMD_PAN, 0, 0.5);
    h.run(8);
    const uint64_t f = h.frame - 1;
    const std::size_t k = (f - start) % xl.size();
    CHECK(h.out_r[f] == xr[k]);
    CHECK(h.out_l[f] == doctest::Approx(xl[k] * std::sqrt(0.5)).epsilon(1e-6));
}

TEST_CASE("a mono loop follows the selected pan law at centre") {
    for (const double law : {0.0, -3.0, -4.5, -6.0}) {
        CAPTURE(law);
        CoreHarness h(1, 0, 1000, 960, law);
        h.install(0, make_sample(std::vector<float>(50, 0.5f)));
        h.send(LR_CMD_PLAY, 0);
        h.run(4);
        double l = 0, r = 0;
        dsp::pan_gains(0.0, 1, law, &l, &r);
        CHECK(h.out_l[h.frame - 1] == doctest::Approx(0.5 * l).epsilon(1e-6));
        CHECK(h.out_r[h.frame - 1] == doctest::Approx(0.5 * r).epsilon(1e-6));
        CHECK(20 * std::log10(l) == doctest::Approx(law == 0.0 ? 0.0 : law).epsilon(0.02));
    }
}

TEST_CASE("mute and solo") {
    CoreHarness h(3, 0, 0);
    for (int s = 0; s < 3; ++s) h.install(s, make_sample(std::vector<float>(10, 0.1f * (s + 1))));
    for (int s = 0; s < 3; ++s) h.send(LR_CMD_PLAY, s);
    h.run(2);
    CHECK(h.out_l[100] == doctest::Approx(0.6 * kCos));
    h.send(LR_CMD_MUTE, 1, 1.0);
    h.run(2);
    CHECK(h.out_l[h.frame - 1] == doctest::Approx(0.4 * kCos));
    h.send(LR_CMD_SOLO, 2, 1.0);
    h.run(2);
    CHECK(h.out_l[h.frame - 1] == doctest::Approx(0.3 * kCos));
    h.send(LR_CMD_SOLO, 1, 1.0);  // soloed but muted: still silent
    h.run(2);
    CHECK(h.out_l[h.frame - 1] == doctest::Approx(0.3 * kCos));
    h.send(LR_CMD_MUTE, 1, 0.0);
    h.send(LR_CMD_SOLO, 2, 0.0);
    h.send(LR_CMD_SOLO, 1, 0.0);
    h.run(2);
    CHECK(h.out_l[h.frame - 1] == doctest::Approx(0.6 * kCos));
}

TEST_CASE("quantize: frames:N and slot:K") {
    CoreHarness h(3, 0, 10);
    h.install(0, make_sample(std::vector<float>(300, 0.1f)));
    h.install(1, make_sample(std::vector<float>(77, 0.2f)));
    h.install(2, make_sample(std::vector<float>(77, 0.2f)));
    h.run(1);
    const uint32_t a = h.send(LR_CMD_PLAY, 0, 0, false, 0, LR_Q_FRAMES, 1000);
    h.run(1);
    CHECK(h.event_for(a).frame == 1000);
    h.run(20);
    const uint32_t b = h.send(LR_CMD_PLAY, 1, 0, false, 0, LR_Q_SLOT, 0);
    const uint64_t now = h.frame;
    h.run(1);
    const lr_event eb = h.event_for(b);
    CHECK(eb.frame >= now);
    CHECK((eb.frame - 1000) % 300 == 0);
    CHECK(eb.frame - now < 300);
    // Reference slot not playing: not quantized, and the ack says so.
    const uint32_t c = h.send(LR_CMD_PLAY, 2, 0, false, 0, LR_Q_SLOT, 2);
    h.run(1);
    const lr_event ec = h.event_for(c);
    CHECK(ec.type == LR_EVT_ACK);
    CHECK(std::string(ec.message).find("not quantized") != std::string::npos);
}

TEST_CASE("bad commands are answered with errors and change nothing") {
    CoreHarness h(2, 0, 0);
    const auto x = noise(59, 3);
    h.install(0, make_sample(x));
    h.send(LR_CMD_PLAY, 0, 0, true, 64);
    h.run(2);
    const uint32_t bad_slot = h.send(LR_CMD_GAIN, 5, 0.0);
    const uint32_t nan_gain = h.send(LR_CMD_GAIN, 0, std::nan(""));
    const uint32_t empty = h.send(LR_CMD_PLAY, 1);
    const uint32_t unknown = h.send(77, 0);
    h.run(20);
    auto evs = h.drain();
    auto find = [&](uint32_t id) {
        for (auto& e : evs)
            if (e.id == id) return e;
        return lr_event{};
    };
    CHECK(find(bad_slot).code == LR_E_BAD_SLOT);
    CHECK(find(nan_gain).code == LR_E_BAD_VALUE);
    CHECK(find(empty).code == LR_E_NOT_LOADED);
    CHECK(find(unknown).code == LR_E_UNKNOWN_COMMAND);
    for (uint64_t f = 64; f < h.frame; ++f) REQUIRE(h.out_l[f] == doctest::Approx(x[(f - 64) % 59] * kCos));
}

TEST_CASE("declick: a start at the loop's frame 0 is exact from its first frame; a stop ramps down") {
    CoreHarness h(1, 32, 0);
    h.install(0, make_sample(std::vector<float>(1000, 1.0f)));
    h.send(LR_CMD_PLAY, 0, 0, true, 128);
    h.send(LR_CMD_STOP, 0, 0, true, 640);
    h.run(16);
    CHECK(h.out_l[127] == 0.0f);
    CHECK(h.out_l[128] == doctest::Approx(kCos));  // the attack whole: no fade-in
    CHECK(h.out_l[400] == doctest::Approx(kCos));
    CHECK(h.out_l[639] == doctest::Approx(kCos));
    CHECK(h.out_l[640] == doctest::Approx(kCos * 31 / 32));  // the stop fades out over 32 frames
    CHECK(h.out_l[640 + 15] == doctest::Approx(kCos * 16 / 32));
    CHECK(h.out_l[640 + 32] == 0.0f);
}

TEST_CASE("loading into a playing slot swaps the loop on its grid without a gap") {
    CoreHarness h(1, 0, 0);
    h.install(0, make_sample(std::vector<float>(100, 0.1f)));
    h.send(LR_CMD_PLAY, 0, 0, true, 0);
    h.run(4);
    h.install(0, make_sample(std::vector<float>(50, 0.3f)));
    h.run(4);
    for (uint64_t f = 0; f < h.frame; ++f) REQUIRE(h.out_l[f] != 0.0f);
    CHECK(h.out_l[h.frame - 1] == doctest::Approx(0.3 * kCos));
}

TEST_CASE("meters: peak and RMS of a steady signal, playhead and state") {
    CoreHarness h(2, 0, 0);
    h.install(0, make_sample(std::vector<float>(48, 0.5f)));
    h.send(LR_CMD_PLAY, 0);
    h.send(LR_CMD_PAN, 0, -1.0);
    h.run(48000 / 64 * 3);  // 3 s: RMS window (300 ms) has settled
    const lr_meter_header* m = h.segment->meter_header();
    const lr_slot_meter* s = h.segment->slot_meters();
    CHECK(m->seq % 2 == 0);
    CHECK(m->master_peak[0] == doctest::Approx(0.5));
    CHECK(m->master_rms[0] == doctest::Approx(0.5).epsilon(1e-3));
    CHECK(m->master_peak[1] == doctest::Approx(0.0).epsilon(1e-6));
    CHECK(s[0].state == LR_SLOT_PLAYING);
    CHECK(s[0].length == 48);
    CHECK(s[0].playhead == (h.frame - s[0].start_frame) % 48);
    CHECK(s[1].state == LR_SLOT_EMPTY);
    CHECK(m->period == h.segment->header()->heartbeat);
}

TEST_CASE("the process path neither allocates nor locks (allocation trap armed)") {
    REQUIRE(rt_guard::armed_build());
    CoreHarness h(8, 16, 0);
    RenderWorker worker(*h.core, 48000, false);  // renders come back while armed
    for (int s = 0; s < 8; ++s) h.install(s, make_sample(noise(100 + s, s), noise(100 + s, s + 50)));
    const uint64_t before = rt_guard::violations();
    // Every command type, scheduled and immediate, plus swaps and unloads.
    for (int round = 0; round < 3; ++round) {
        for (int s = 0; s < 8; ++s) {
            h.send(LR_CMD_PLAY, s, 0, true, h.frame + 100 + s, s % 2 ? LR_Q_FRAMES : LR_Q_NONE, 32);
            h.send(LR_CMD_GAIN, s, -3.0 * s);
            h.send(LR_CMD_PAN, s, 0.1 * s, true, h.frame + 50);
            h.send(LR_CMD_MUTE, s, s % 2);
            h.send(LR_CMD_SOLO, s, s == 3);
        }
        h.send(LR_CMD_PING);
        // Every mixer/effect param (now and scheduled), every slot's sends and group, a meter reset.
        uint32_t count = 0;
        const lr_param_desc* table = lr_param_table(&count);
        for (uint32_t k = 0; k < count; ++k) {
            const lr_param_desc& p = table[k];
            const double v = p.kind == LR_KIND_CONTINUOUS ? p.min + (p.max - p.min) * (0.25 + 0.25 * round)
                             : p.kind == LR_KIND_SWITCH   ? double(1 - round % 2)
                                                          : double(round + 1);
            const int32_t target = p.target == LR_TARGET_GLOBAL ? 0 : round + 1;
            h.param(p.id, target, v, k % 2 == 1, h.frame + 40);
        }
        for (int s = 0; s < 8; ++s) {
            h.param(LR_P_SEND1_LEVEL, s, -6.0);
            h.param(LR_P_SEND2_LEVEL, s, -3.0);
            h.param(LR_P_GROUP, s, s % 3 - 1);
        }
        h.send(LR_CMD_METER_RESET);
        h.send(LR_CMD_DECLICK, 0, 1.0);
        h.send(LR_CMD_TEMPO, 0, 100.0 + 10 * round, true, h.frame + 70, LR_Q_BEAT, 1);
        for (int s = 0; s < 4; ++s) {
            lr_command t{};
            t.id = 7000 + round * 10 + s;
            t.slot = s;
            t.type = LR_CMD_LOOP_TEMPO;
            t.value[1] = 1 + s;
            h.push(t);
            t.id += 100;
            t.type = LR_CMD_PITCH;
            t.value[0] = s - 2;
            h.push(t);
            t.id += 100;
            t.type = LR_CMD_MODE;
            t.value[0] = s % 2;
            h.push(t);
        }
        for (int s = 6; s < 8; ++s) {  // pitch only: renders of the same length, made quickly
            lr_command t{};
            t.id = 8000 + round * 10 + s;
            t.slot = s;
            t.type = LR_CMD_PITCH;
            t.value[0] = 3.0 + round;
            h.push(t);
        }
        h.send(LR_CMD_GAIN, 99, 0.0);
        lr_command load{};
        load.id = 5000 + round;
        load.type = LR_CMD_LOAD;
        load.slot = 2;
        std::memcpy(load.text, "/nonexistent.wav", 16);
        load.text_len = 16;
        h.push(load);
        h.install(1, make_sample(noise(80, 9)));  // swap while playing
        // Armed only around process(): the harness's own bookkeeping may allocate.
        std::vector<float> l(64), r(64);
        CoreOutputs o;
        o.master[0] = l.data();
        o.master[1] = r.data();
        for (int p = 0; p < 50; ++p) {
            rt_guard::enter();
            h.core->process(64, h.frame, o);
            rt_guard::leave();
            h.frame += 64;
            std::this_thread::sleep_for(std::chrono::milliseconds(1));  // let renders come back
        }
        h.send(LR_CMD_STOP, 4);
        h.send(LR_CMD_UNLOAD, 5);
        rt_guard::enter();
        h.core->process(64, h.frame, o);
        rt_guard::leave();
        h.frame += 64;
        h.drain();
        LoadRequest req;
        while (h.core->load_requests().pop_into(&req)) {}
    }
    {  // give the last renders time to come back and be installed, armed
        std::vector<float> l(64), r(64);
        CoreOutputs o;
        o.master[0] = l.data();
        o.master[1] = r.data();
        for (int i = 0; i < 1000 && h.segment->slot_meters()[7].render != LR_RENDER_READY; ++i) {
            rt_guard::enter();
            h.core->process(64, h.frame, o);
            rt_guard::leave();
            h.frame += 64;
            std::this_thread::sleep_for(std::chrono::milliseconds(2));
        }
    }
    uint32_t ready = 0;
    for (uint32_t i = 0; i < 8; ++i) ready += h.segment->slot_meters()[i].render == LR_RENDER_READY;
    CHECK(ready > 0);  // renders were installed while the trap was armed
    CHECK(rt_guard::violations() - before == 0);
    if (rt_guard::violations() != before) MESSAGE("first violation: " << rt_guard::first_violation());
}

// ---- musical time ----
#include "render_worker.hpp"

namespace {
std::vector<float> sine_loop(std::size_t n, double cycles, float amp = 0.5f) {
    std::vector<float> v(n);
    for (std::size_t i = 0; i < n; ++i) v[i] = amp * static_cast<float>(std::sin(2 * M_PI * cycles * i / n));
    return v;
}
uint32_t send_timing(CoreHarness& h, uint16_t type, int32_t slot, double v0, double v1 = 0.0) {
    lr_command c{};
    c.id = h.next_id++;
    c.type = type;
    c.slot = slot;
    c.value[0] = v0;
    c.value[1] = v1;
    h.push(c);
    return c.id;
}
// Slot 0: a sine loop of `frames` declared at 120 BPM; slot 1: three times as
// long. Both varispeed followers, started on the next bar.
void start_two_followers_on_a_bar(CoreHarness& h, std::size_t frames, double cycles) {
    h.install(0, make_sample(sine_loop(frames, cycles)));
    h.install(1, make_sample(sine_loop(3 * frames, 3 * cycles)));
    for (int s = 0; s < 2; ++s) {
        send_timing(h, LR_CMD_MODE, s, LR_MODE_VARISPEED);
        send_timing(h, LR_CMD_LOOP_TEMPO, s, 120.0);
    }
    h.send(LR_CMD_PLAY, 0, 0, false, 0, LR_Q_BAR, 1);
    h.send(LR_CMD_PLAY, 1, 0, false, 0, LR_Q_BAR, 1);
}
// Largest |x[f] - x[f + period]| over [from, to).
double period_error(const std::vector<float>& x, uint64_t from, uint64_t to, uint64_t period) {
    double worst = 0;
    for (uint64_t f = from; f < to; ++f) worst = std::max(worst, std::fabs(double(x[f]) - x[f + period]));
    return worst;
}
}  // namespace

TEST_CASE("follow, varispeed: 1 beat at 120 BPM plays exactly 1 beat at 150 BPM, at once") {
    CoreHarness h(2, 0, 0);
    h.install(0, make_sample(sine_loop(24000, 40)));
    send_timing(h, LR_CMD_MODE, 0, LR_MODE_VARISPEED);
    send_timing(h, LR_CMD_LOOP_TEMPO, 0, 120.0);
    h.send(LR_CMD_TEMPO, 0, 150.0);
    h.send(LR_CMD_PLAY, 0, 0, false, 0, LR_Q_BEAT, 1);
    h.run(2000);  // 128000 frames
    const lr_slot_meter& m = h.segment->slot_meters()[0];
    CHECK(m.loop_beats == 1.0f);
    CHECK(m.loop_bpm == doctest::Approx(120.0));
    CHECK(m.render == LR_RENDER_NONE);
    CHECK(h.segment->meter_header()->tempo_bpm == 150.0);
    const uint64_t start = m.start_frame;
    CHECK(start % 19200 == 0);  // on a beat of the 150 BPM grid anchored at frame 0
    CHECK(period_error(h.out_l, start, start + 40000, 19200) < 1e-5);
    CHECK(period_error(h.out_l, start, start + 40000, 19199) > 1e-3);  // one frame off is visible
}

TEST_CASE("follow, stretch: the slot plays varispeed until its render arrives, then the render, on the grid") {
    CoreHarness h(2, 0, 0);
    RenderWorker worker(*h.core, 48000, false);
    h.install(0, make_sample(sine_loop(24000, 40)));
    send_timing(h, LR_CMD_LOOP_TEMPO, 0, 0.0, 1.0);  // 1 beat long
    h.send(LR_CMD_TEMPO, 0, 150.0);
    h.send(LR_CMD_PLAY, 0, 0, false, 0, LR_Q_BEAT, 1);
    h.run(1);
    CHECK(h.segment->slot_meters()[0].render == LR_RENDER_PENDING);
    for (int i = 0; i < 2000 && h.segment->slot_meters()[0].render != LR_RENDER_READY; ++i) {
        h.run(1);
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    REQUIRE(h.segment->slot_meters()[0].render == LR_RENDER_READY);
    const uint64_t ready_at = h.frame;
    h.run(1500);
    const uint64_t start = h.segment->slot_meters()[0].start_frame;
    // Steady state: exactly periodic at one beat of 150 BPM, and still on the grid.
    CHECK(period_error(h.out_l, ready_at + 1000, ready_at + 40000, 19200) < 1e-6);
    CHECK(h.segment->slot_meters()[0].playhead == (h.frame - start) % 19200);
    CHECK(h.segment->slot_meters()[0].length == 19200);  // one cycle as it plays (the file has 24000)
}

TEST_CASE("grid lock: loops of 1 and 3 beats stay aligned across tempo changes") {
    CoreHarness h(2, 0, 0);
    start_two_followers_on_a_bar(h, 24000, 10);
    h.run(3000);
    h.send(LR_CMD_TEMPO, 0, 97.0);
    h.run(3000);
    h.send(LR_CMD_TEMPO, 0, 133.0, false, 0, LR_Q_BEAT, 1);
    h.run(3000);
    const lr_slot_meter* m = h.segment->slot_meters();
    // Slot 1 is three times as long: its phase mod 1/3 equals slot 0's phase / 3.
    const double p0 = double(m[0].playhead) / m[0].length;
    const double p1 = double(m[1].playhead) / m[1].length;
    CHECK(std::fabs(std::fmod(p1 * 3.0, 1.0) - p0) < 1e-3);
    CHECK(h.segment->meter_header()->tempo_bpm == 133.0);
}

TEST_CASE("musical commands are validated") {
    CoreHarness h(2, 0, 0);
    const uint32_t a = h.send(LR_CMD_TEMPO, 0, 10.0);
    const uint32_t b = send_timing(h, LR_CMD_PITCH, 0, 25.0);
    const uint32_t c = send_timing(h, LR_CMD_MODE, 0, 2.0);
    const uint32_t d = send_timing(h, LR_CMD_TIME_SIGNATURE, 0, 0.0);
    const uint32_t e = send_timing(h, LR_CMD_LOOP_TEMPO, 0, 500.0);
    const uint32_t f = send_timing(h, LR_CMD_TIME_SIGNATURE, 0, 3.0);
    h.run(2);
    auto evs = h.drain();
    auto code = [&](uint32_t id) {
        for (auto& ev : evs)
            if (ev.id == id) return ev.code;
        return -1;
    };
    CHECK(code(a) == LR_E_BAD_VALUE);
    CHECK(code(b) == LR_E_BAD_VALUE);
    CHECK(code(c) == LR_E_BAD_VALUE);
    CHECK(code(d) == LR_E_BAD_VALUE);
    CHECK(code(e) == LR_E_BAD_VALUE);
    CHECK(code(f) == LR_OK);
    CHECK(h.segment->meter_header()->beats_per_bar == 3);
}

TEST_CASE("grid lock over 10 minutes of audio with tempo changes: 0 frames offset") {
    CoreHarness h(2, 0, 0);
    h.period = 256;
    // 1 bar and 3 bars of 4 beats at 120 BPM; whole frames per beat at 120 and 150 BPM.
    start_two_followers_on_a_bar(h, 96000, 4);
    // Run without keeping the output (10 minutes), changing tempo every 2 minutes on a bar.
    std::vector<float> l(256), r(256);
    CoreOutputs o;
    o.master[0] = l.data();
    o.master[1] = r.data();
    const uint64_t ten_minutes = 48000ull * 600;
    const double tempi[] = {150.0, 96.0, 150.0, 120.0};
    int next_change = 0;
    while (h.frame < ten_minutes) {
        if (next_change < 4 && h.frame >= uint64_t(next_change + 1) * 48000 * 120) {
            h.send(LR_CMD_TEMPO, 0, tempi[next_change], false, 0, LR_Q_BAR, 1);
            ++next_change;
        }
        h.core->process(256, h.frame, o);
        h.frame += 256;
    }
    h.drain();
    // Back at 120 BPM: both loops at whole-frame lengths; their playheads are
    // exactly where the bar grid says, and slot 1 is three bars of slot 0.
    const lr_meter_header* mh = h.segment->meter_header();
    const lr_slot_meter* m = h.segment->slot_meters();
    CHECK(mh->tempo_bpm == 120.0);
    const double beat_end = mh->beat + 256.0 / 24000.0;  // beat at the end of the last period
    const double bars = beat_end / 4.0;
    const auto expect0 = static_cast<uint64_t>(std::llround((bars - std::floor(bars)) * 96000)) % 96000;
    CHECK(m[0].playhead == expect0);
    CHECK(m[1].playhead % 96000 == m[0].playhead);
    CHECK(m[0].state == LR_SLOT_PLAYING);
}

namespace {
// Frequency of the strongest partial of x[from, from + n) (Hann window, parabolic peak).
double dominant_hz(const std::vector<float>& x, uint64_t from, uint32_t n, double rate) {
    double best = 0, best_f = 0;
    // A plain DFT scan around the candidates is enough for a test (n is small).
    for (double f = 200; f < 1200; f += 1.0) {
        double re = 0, im = 0;
        for (uint32_t i = 0; i < n; ++i) {
            const double w = 0.5 - 0.5 * std::cos(2 * M_PI * i / (n - 1));
            re += w * x[from + i] * std::cos(2 * M_PI * f * i / rate);
            im += w * x[from + i] * std::sin(2 * M_PI * f * i / rate);
        }
        const double mag = re * re + im * im;
        if (mag > best) {
            best = mag;
            best_f = f;
        }
    }
    return best_f;
}
}  // namespace

TEST_CASE("a pitch change is heard within 50 ms, before its render arrives") {
    CoreHarness h(1, 0, 0);
    h.install(0, make_sample(sine_loop(48000, 440)));  // 440 Hz
    h.send(LR_CMD_PLAY, 0);
    h.run(100);
    CHECK(dominant_hz(h.out_l, h.frame - 2048, 2048, 48000) == doctest::Approx(440).epsilon(0.01));
    send_timing(h, LR_CMD_PITCH, 0, 7.0);  // no render thread here: the render stays pending
    const uint64_t at = h.frame;
    h.run(40);  // 2560 frames = 53 ms
    CHECK(h.segment->slot_meters()[0].render == LR_RENDER_PENDING);
    // Analyse 20..50 ms after the command.
    CHECK(dominant_hz(h.out_l, at + 960, 1440, 48000) == doctest::Approx(440 * std::pow(2.0, 7 / 12.0)).epsilon(0.02));
    // Level stays within 3 dB (no dropout while shifting).
    double e0 = 0, e1 = 0;
    for (uint64_t f = at - 2400; f < at; ++f) e0 += double(h.out_l[f]) * h.out_l[f];
    for (uint64_t f = at + 960; f < at + 2400; ++f) e1 += double(h.out_l[f]) * h.out_l[f];
    CHECK(std::fabs(10 * std::log10((e1 / 1440) / (e0 / 2400))) < 3.0);
}

TEST_CASE("a batch of commands (LR_CMD_F_BATCH) is read in one period, past the per-period budget") {
    CoreHarness h(2, 0, 1000);
    h.install(0, make_sample(noise(100, 7)));
    h.run(1);
    // A second client place that fills most of the period's budget with pings.
    lr_client_place* other = h.segment->client(1);
    other->owner_pid = static_cast<uint32_t>(getpid());
    other->state = LR_CLIENT_ACTIVE;
    shm::RingProducer<lr_command> other_commands(&other->cmd, other->commands, LR_CMD_RING_SIZE);
    uint32_t other_id = 1;
    // Twice, so that each client is read first once (the engine rotates which goes first).
    for (int round = 0; round < 2; ++round) {
        CAPTURE(round);
        for (int k = 0; k < 40; ++k) {
            lr_command c{};
            c.id = other_id++;
            c.type = LR_CMD_PING;
            REQUIRE(other_commands.push(c));
        }
        std::vector<uint32_t> ids;
        for (int k = 0; k < 40; ++k) {  // gain changes of one batch: all on one frame
            lr_command* c = h.commands.claim();
            REQUIRE(c != nullptr);
            *c = lr_command{};
            c->id = h.next_id++;
            c->type = LR_CMD_GAIN;
            c->slot = 0;
            c->value[0] = -0.1 * k;
            c->flags = k + 1 < 40 ? LR_CMD_F_BATCH : 0;
            ids.push_back(c->id);
            h.commands.stage();
        }
        h.commands.publish();
        const uint64_t period_start = h.frame;
        h.run(1);
        std::size_t acked = 0;
        for (const lr_event& e : h.drain()) {
            if (std::find(ids.begin(), ids.end(), e.id) == ids.end()) continue;
            CHECK(e.type == LR_EVT_ACK);
            CHECK(e.frame == period_start);
            ++acked;
        }
        CHECK(acked == ids.size());  // all 40 in this period (80 commands > the budget of 64)
        h.run(2);                    // the other client's rest
        h.drain();
        lr_event e{};
        shm::RingConsumer<lr_event> other_events(&other->evt, other->events, LR_EVT_RING_SIZE);
        while (other_events.pop_into(&e)) {}
    }
}

TEST_CASE("a stretched loop started on a later frame plays its render's pre-roll: the first pass sounds like every later one") {
    CoreHarness h(2, 0, 0);
    RenderWorker worker(*h.core, 48000, false);
    // Two beats at 120 BPM with a click (a decaying noise burst) on each beat.
    std::vector<float> x(48000, 0.0f);
    const auto burst = noise(400, 21);
    for (const std::size_t beat : {std::size_t{0}, std::size_t{24000}})
        for (std::size_t i = 0; i < burst.size(); ++i) x[beat + i] = burst[i] * std::exp(-double(i) / 80.0);
    h.install(0, make_sample(x, x));
    send_timing(h, LR_CMD_LOOP_TEMPO, 0, 120.0);
    h.send(LR_CMD_TEMPO, 0, 90.0);  // the render stretches 48000 -> 64000 frames
    h.run(1);
    for (int i = 0; i < 3000 && h.segment->slot_meters()[0].render != LR_RENDER_READY; ++i) {
        h.run(1);
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    REQUIRE(h.segment->slot_meters()[0].render == LR_RENDER_READY);
    const uint64_t start = h.frame + 64 * 20 + 7;
    h.send(LR_CMD_PLAY, 0, 0, true, start);
    h.run(2500);
    const uint64_t cycle = 64000;
    REQUIRE(h.segment->slot_meters()[0].start_frame == start);
    // The 12 ms before the first downbeat and the downbeat itself, against the same stretch a cycle later.
    double first = 0, later = 0, worst = 0;
    for (uint64_t f = start - 576; f < start + 1000; ++f) {
        first += double(h.out_l[f]) * h.out_l[f];
        later += double(h.out_l[f + cycle]) * h.out_l[f + cycle];
        worst = std::max(worst, std::fabs(double(h.out_l[f]) - h.out_l[f + cycle]));
    }
    INFO("first pass " << 10 * std::log10(first) << " dB, later " << 10 * std::log10(later) << " dB");
    CHECK(10 * std::log10(first / later) == doctest::Approx(0.0).epsilon(0.01));
    CHECK(worst < 1e-6);
    // Nothing before the pre-roll.
    for (uint64_t f = start - 2000; f < start - 576; ++f) REQUIRE(h.out_l[f] == 0.0f);
}

TEST_CASE("loop-tempo on an empty slot says what will happen once a loop is loaded") {
    CoreHarness h(2, 0, 0);
    const uint32_t by_bpm = send_timing(h, LR_CMD_LOOP_TEMPO, 1, 120.0);
    h.run(1);
    const lr_event e = h.event_for(by_bpm);
    CHECK(e.type == LR_EVT_ACK);
    const std::string text = e.message;
    CHECK(text.find("empty") != std::string::npos);
    CHECK(text.find("will follow the master tempo") != std::string::npos);
    CHECK(text.find("own tempo") == std::string::npos);
    const uint32_t beats = send_timing(h, LR_CMD_LOOP_TEMPO, 1, 0.0, 8.0);
    h.run(1);
    CHECK(std::string(h.event_for(beats).message).find("8 beats") != std::string::npos);
    h.install(1, make_sample(std::vector<float>(48000, 0.1f)));  // 1 s: 2 beats at 120 BPM ... declared 8 beats
    const uint32_t after = send_timing(h, LR_CMD_LOOP_TEMPO, 1, 120.0);
    h.run(1);
    CHECK(std::string(h.event_for(after).message).find("follows the master tempo, 2 beats") != std::string::npos);
}
