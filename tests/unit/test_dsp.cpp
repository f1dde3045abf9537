// Mixer math, the schedule, quantize arithmetic and command validation.
#include "command.hpp"
#include "dsp.hpp"
#include "frame_clock.hpp"
#include "schedule.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <string>
#include <cstring>

using namespace looprig;

TEST_CASE("dB to gain") {
    CHECK(dsp::db_to_gain(0.0) == doctest::Approx(1.0));
    CHECK(dsp::db_to_gain(-6.0) == doctest::Approx(0.501187).epsilon(1e-6));
    CHECK(dsp::db_to_gain(20.0) == doctest::Approx(10.0));
}

TEST_CASE("mono pan law -3 dB: constant power") {
    double l = 0, r = 0;
    dsp::pan_gains(0.0, 1, -3.0, &l, &r);
    CHECK(l == doctest::Approx(std::sqrt(0.5)));
    CHECK(r == doctest::Approx(std::sqrt(0.5)));
    dsp::pan_gains(-1.0, 1, -3.0, &l, &r);
    CHECK(l == doctest::Approx(1.0));
    CHECK(std::fabs(r) < 1e-12);
    dsp::pan_gains(1.0, 1, -3.0, &l, &r);
    CHECK(std::fabs(l) < 1e-12);
    CHECK(r == doctest::Approx(1.0));
    for (double p = -1.0; p <= 1.0; p += 0.125) {
        dsp::pan_gains(p, 1, -3.0, &l, &r);
        CHECK(l * l + r * r == doctest::Approx(1.0));
    }
}

TEST_CASE("mono pan laws: the named gain at centre, unity at the near end, silence at the far end") {
    for (const double law : {0.0, -3.0, -4.5, -6.0}) {
        CAPTURE(law);
        CHECK(dsp::valid_pan_law(law));
        double l = 0, r = 0;
        dsp::pan_gains(0.0, 1, law, &l, &r);
        const double want = law == -3.0 ? -3.0103 : law == -6.0 ? -6.0206 : law == -4.5 ? -4.5154 : 0.0;
        CHECK(20 * std::log10(l) == doctest::Approx(want).epsilon(1e-4));
        CHECK(l == r);
        dsp::pan_gains(1.0, 1, law, &l, &r);
        CHECK(std::fabs(l) < 1e-12);
        CHECK(r == doctest::Approx(1.0));
        dsp::pan_gains(-1.0, 1, law, &l, &r);
        CHECK(l == doctest::Approx(1.0));
        CHECK(std::fabs(r) < 1e-12);
    }
    double l = 0, r = 0;
    for (double p = -1.0; p <= 1.0; p += 0.125) {  // -6 dB: constant amplitude
        dsp::pan_gains(p, 1, -6.0, &l, &r);
        CHECK(l + r == doctest::Approx(1.0));
    }
    CHECK_FALSE(dsp::valid_pan_law(-2.0));
    CHECK_FALSE(dsp::valid_pan_law(std::nan("")));
}

TEST_CASE("stereo sources pan as a balance: exactly unity at centre, one side lowered at a time") {
    for (const double law : {0.0, -3.0, -4.5, -6.0}) {
        double l = 0, r = 0;
        dsp::pan_gains(0.0, 2, law, &l, &r);
        CHECK(l == 1.0);  // exactly: a centred stereo file is bit-identical at the master
        CHECK(r == 1.0);
    }
    double l = 0, r = 0;
    for (double p = 0.0; p <= 1.0; p += 0.125) {
        dsp::pan_gains(p, 2, -3.0, &l, &r);
        CHECK(r == 1.0);
        CHECK(l == doctest::Approx(std::cos(p * M_PI / 2)));
        dsp::pan_gains(-p, 2, -3.0, &l, &r);
        CHECK(l == 1.0);
        CHECK(r == doctest::Approx(std::cos(p * M_PI / 2)));
    }
    dsp::pan_gains(0.5, 2, -3.0, &l, &r);
    CHECK(20 * std::log10(l) == doctest::Approx(-3.0103).epsilon(1e-4));  // -3 dB half way
    dsp::pan_gains(1.0, 2, -3.0, &l, &r);
    CHECK(std::fabs(l) < 1e-12);
}

TEST_CASE("ramp: reaches its target exactly after n frames; 0 frames jumps") {
    dsp::Ramp r;
    r.set(1.0f, 4);
    CHECK(r.next() == doctest::Approx(0.25f));
    r.next();
    r.next();
    CHECK(r.next() == 1.0f);
    CHECK_FALSE(r.moving());
    r.set(0.5f, 0);
    CHECK(r.next() == 0.5f);
    r.set(0.0f, 10);
    r.skip(3);
    CHECK(r.value == doctest::Approx(0.35f));
    r.skip(100);
    CHECK(r.value == 0.0f);
}

TEST_CASE("schedule: earliest first, arrival order within a frame, bounded") {
    rt::Schedule s(4);
    CHECK(s.insert({100, 0, 1, 0, 0.0}));
    CHECK(s.insert({50, 0, 2, 0, 0.0}));
    CHECK(s.insert({100, 0, 3, 0, 0.0}));
    CHECK(s.insert({75, 0, 4, 0, 0.0}));
    CHECK_FALSE(s.insert({1, 0, 5, 0, 0.0}));
    CHECK(s.pop_earliest().type == 2);
    CHECK(s.pop_earliest().type == 4);
    CHECK(s.pop_earliest().type == 1);
    CHECK(s.pop_earliest().type == 3);
    CHECK(s.empty());
}

TEST_CASE("quantize arithmetic") {
    CHECK(rt::next_multiple(0, 480) == 0);
    CHECK(rt::next_multiple(1, 480) == 480);
    CHECK(rt::next_multiple(960, 480) == 960);
    CHECK(rt::next_grid_point(50, 100, 7) == 100);
    CHECK(rt::next_grid_point(100, 100, 7) == 100);
    CHECK(rt::next_grid_point(101, 100, 7) == 107);
    CHECK(rt::next_grid_point(114, 100, 7) == 114);
}

namespace {
int check_cmd(const lr_command& c, uint32_t slots = 32) {
    char buf[LR_MESSAGE_MAX];
    rt::Text why(buf, sizeof buf);
    const int code = rt::validate_command(c, slots, why);
    if (code != LR_OK) CHECK(std::strlen(buf) > 5);  // always says why
    return code;
}
lr_command make(uint16_t type, int32_t slot = 0, double v = 0.0) {
    lr_command c{};
    c.id = 1;
    c.type = type;
    c.slot = slot;
    c.value[0] = v;
    return c;
}
}  // namespace

TEST_CASE("command validation") {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    const double inf = std::numeric_limits<double>::infinity();
    CHECK(check_cmd(make(LR_CMD_PLAY, 0)) == LR_OK);
    CHECK(check_cmd(make(LR_CMD_PLAY, 31)) == LR_OK);
    CHECK(check_cmd(make(LR_CMD_PLAY, 32)) == LR_E_BAD_SLOT);
    CHECK(check_cmd(make(LR_CMD_PLAY, -1)) == LR_E_BAD_SLOT);
    CHECK(check_cmd(make(0)) == LR_E_UNKNOWN_COMMAND);
    CHECK(check_cmd(make(999)) == LR_E_UNKNOWN_COMMAND);
    CHECK(check_cmd(make(LR_CMD_GAIN, 0, -6.0)) == LR_OK);
    CHECK(check_cmd(make(LR_CMD_GAIN, 0, nan)) == LR_E_BAD_VALUE);
    CHECK(check_cmd(make(LR_CMD_GAIN, 0, inf)) == LR_E_BAD_VALUE);
    CHECK(check_cmd(make(LR_CMD_GAIN, 0, -inf)) == LR_E_BAD_VALUE);
    CHECK(check_cmd(make(LR_CMD_GAIN, 0, 24.5)) == LR_E_BAD_VALUE);
    CHECK(check_cmd(make(LR_CMD_PAN, 0, 1.0)) == LR_OK);
    CHECK(check_cmd(make(LR_CMD_PAN, 0, 1.01)) == LR_E_BAD_VALUE);
    CHECK(check_cmd(make(LR_CMD_MUTE, 0, 0.5)) == LR_E_BAD_VALUE);
    CHECK(check_cmd(make(LR_CMD_DECLICK, 0, 101)) == LR_E_BAD_VALUE);

    lr_command load = make(LR_CMD_LOAD, 0);
    CHECK(check_cmd(load) == LR_E_BAD_VALUE);  // no path
    std::memcpy(load.text, "/a.wav", 6);
    load.text_len = 6;
    CHECK(check_cmd(load) == LR_OK);
    std::memcpy(load.text, "a.wav", 5);
    load.text_len = 5;
    CHECK(check_cmd(load) == LR_E_BAD_VALUE);  // relative
    load.text_len = LR_TEXT_MAX + 1;
    CHECK(check_cmd(load) == LR_E_BAD_MESSAGE);

    lr_command q = make(LR_CMD_PLAY, 0);
    q.quantize = LR_Q_FRAMES;
    CHECK(check_cmd(q) == LR_E_QUANTIZE);  // 0 frames
    q.quantize_arg = 4800;
    CHECK(check_cmd(q) == LR_OK);
    q.quantize = LR_Q_SLOT;
    q.quantize_arg = 40;
    CHECK(check_cmd(q) == LR_E_QUANTIZE);
    q.quantize = 7;
    CHECK(check_cmd(q) == LR_E_QUANTIZE);
    lr_command gq = make(LR_CMD_GAIN, 0, 0.0);
    gq.quantize = LR_Q_FRAMES;
    gq.quantize_arg = 10;
    CHECK(check_cmd(gq) == LR_E_QUANTIZE);

    lr_command flags = make(LR_CMD_PLAY, 0);
    flags.flags = 0x80;
    CHECK(check_cmd(flags) == LR_E_BAD_MESSAGE);
    lr_command noid = make(LR_CMD_PLAY, 0);
    noid.id = 0;
    CHECK(check_cmd(noid) == LR_E_BAD_MESSAGE);
}

TEST_CASE("RT text formatting") {
    char buf[64];
    rt::Text t(buf, sizeof buf);
    t << "slot " << -3 << " gain " << -6.5 << " frames " << uint64_t{18446744073709551615ull} << " " << std::nan("");
    CHECK(std::string(buf) == "slot -3 gain -6.5 frames 18446744073709551615 nan");
    for (const auto& [v, want] : {std::pair{20000.0, "20000"}, {0.7071, "0.707"}, {-0.0004, ">-0.001"}, {0.0, "0"}, {5e-324, "<0.001"}, {2.05, "2.05"},
                                  {-120.0, "-120"}, {0.9996, "1"}, {12.3456, "12.346"}}) {
        char b[32];
        rt::Text x(b, sizeof b);
        x << v;
        CHECK_MESSAGE(std::string(b) == want, v);
    }
    char small[8];
    rt::Text s(small, sizeof small);
    s << "truncated text";
    CHECK(std::string(small) == "truncat");
}

TEST_CASE("frame clock: JACK's 32-bit frame time extended across its wrap") {
    rt::FrameClock clock;
    CHECK(clock.extend(1000) == 1000);
    CHECK(clock.extend(1256) == 1256);
    const uint32_t near_wrap = 0xFFFFFF00u;
    rt::FrameClock c2;
    CHECK(c2.extend(near_wrap) == near_wrap);
    CHECK(c2.extend(near_wrap + 128u) == uint64_t{near_wrap} + 128);
    CHECK(c2.extend(near_wrap + 256u) == uint64_t{1} << 32);  // wrapped to 0
    CHECK(c2.extend(384u - 128u) == (uint64_t{1} << 32) + 256);
    // A skipped cycle still advances by the frames that passed.
    CHECK(c2.extend(1024u) == (uint64_t{1} << 32) + 1024);
    CHECK(c2.offset() == 0);  // no reconnection yet: the timeline is JACK's frame time
}

TEST_CASE("frame clock: after a JACK restart the timeline continues right after the last period") {
    // Played up to frame 720000 (15 s at 48 kHz) on the first server, whose
    // counter was at 720000 too; the new server's counter starts near 0.
    rt::FrameClock clock;
    CHECK(clock.extend(719744u) == 719744);
    clock.resume_at(719744 + 256);
    CHECK(clock.extend(262144u) == 720000);  // not 2^32 + 262144 (the old rule) nor back to 262144
    CHECK(clock.extend(262400u) == 720256);
    CHECK(clock.offset() == 720000 - 262144);
    // JACK frame = (timeline - offset) mod 2^32, both ways.
    CHECK(static_cast<uint32_t>(720256 - clock.offset()) == 262400u);
    // A skipped cycle on the new server still advances by the frames that passed.
    CHECK(clock.extend(262400u + 1024u) == 720256 + 1024);

    // The new server's counter may be ahead of the timeline (it ran long before
    // the engine came back): the offset wraps, the timeline still continues.
    rt::FrameClock late;
    CHECK(late.extend(1000u) == 1000);
    late.resume_at(1256);
    CHECK(late.extend(0xFFFFFF00u) == 1256);
    CHECK(late.extend(0x00000000u) == 1256 + 256);  // JACK's counter wrapped, the timeline did not
    CHECK(static_cast<uint32_t>(1256 + 256 - late.offset()) == 0u);

    // A second restart continues again; resume_at before the first period changes nothing.
    clock.resume_at(720256 + 1024 + 256);
    CHECK(clock.extend(5u) == 720256 + 1024 + 256);
    rt::FrameClock fresh;
    fresh.resume_at(99);
    CHECK(fresh.extend(7u) == 7);
    CHECK(fresh.offset() == 0);
}

#include "musical_grid.hpp"

TEST_CASE("musical grid: beats, bars and tempo changes keep positions continuous") {
    rt::MusicalGrid g;
    g.reset(1000, 48000.0, 120.0, 4);  // 24000 frames per beat
    CHECK(g.frames_per_beat() == 24000.0);
    CHECK(g.beat_at(1000) == 0.0);
    CHECK(g.beat_at(1000 + 24000 * 3) == 3.0);
    CHECK(g.next_beat(1001, 1) == 1000 + 24000);
    CHECK(g.next_beat(1000 + 24000, 1) == 1000 + 24000);
    CHECK(g.next_bar(1001, 1) == 1000 + 96000);
    CHECK(g.next_bar(1001, 2) == 1000 + 192000);
    // 150 BPM from beat 2: 19200 frames per beat after that.
    const uint64_t change = 1000 + 48000;
    g.set_tempo(change, 150.0);
    CHECK(g.beat_at(change) == 2.0);
    CHECK(g.beat_at(change + 19200) == 3.0);
    CHECK(g.next_bar(change + 1, 1) == change + 2 * 19200);
    // Meter 3/4 from the bar at beat 4: bars at 4, 7, 10, ...
    g.set_beats_per_bar(change + 2 * 19200 + 5, 3);
    CHECK(g.next_bar(change + 2 * 19200 + 6, 1) == change + 5 * 19200);
    // Thousands of beats later the grid is still exact.
    CHECK(g.beat_at(change + uint64_t{19200} * 100000) == 100002.0);
}

TEST_CASE("lr_param_check (the C ABI Python uses) gives the engine's verdict and message for every param") {
    uint32_t count = 0;
    const lr_param_desc* table = lr_param_table(&count);
    std::size_t compared = 0;
    for (uint32_t k = 0; k < count; ++k) {
        const lr_param_desc& p = table[k];
        for (const double v : {p.min, p.max, p.def, p.min - 1.0, p.max + 1.0, 0.5 * (p.min + p.max) + 0.25,
                               std::nan(""), HUGE_VAL, -HUGE_VAL, 5e-324, 0.0}) {
            lr_command c{};
            c.id = 1;
            c.type = LR_CMD_PARAM;
            c.param = p.id;
            c.slot = 0;
            c.value[0] = v;
            char engine[LR_MESSAGE_MAX], abi[LR_MESSAGE_MAX];
            rt::Text why(engine, sizeof engine);
            const int engine_code = rt::validate_param(c, 8, why);
            const int abi_code = lr_param_check(p.id, v, abi, sizeof abi);
            CAPTURE(p.name);
            CAPTURE(v);
            CHECK(abi_code == engine_code);
            if (engine_code != LR_OK) CHECK(std::string(abi) == std::string(engine));
            ++compared;
        }
    }
    CHECK(compared == count * 11u);
    char why[64];
    CHECK(lr_param_check(9999, 1.0, why, sizeof why) == LR_E_BAD_VALUE);
    CHECK(std::string(why) == "unknown param 9999");
    CHECK(lr_param_check(LR_P_HP_Q, 1.0, nullptr, 0) == LR_OK);
}
