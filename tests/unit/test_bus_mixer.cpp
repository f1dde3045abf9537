// The bus mixer alone (rt/bus_mixer.hpp): effects wired by lr_send_bus, effect
// sleep and wake, group and global params, the level floor.
#include "bus_mixer.hpp"
#include "level_meters.hpp"
#include "musical_grid.hpp"
#include "looprig/shm_client.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <vector>

using namespace looprig;
using namespace looprig::rt;

namespace {

constexpr uint32_t kPeriod = 256;

struct BusRig {
    MusicalGrid grid;
    CoreConfig cfg;
    BusMixer mixer;
    BusMeters meters;
    std::vector<float> master[2];
    std::vector<float> group[LR_GROUPS][2], send[LR_SENDS][2], ret[LR_SENDS][2];
    CoreOutputs out;

    static CoreConfig config() {
        CoreConfig c;
        c.max_frames = kPeriod;
        c.smooth_frames = 0;  // params jump: exact levels
        return c;
    }
    BusRig() : cfg(config()), mixer((grid.reset(0, 48000), grid), cfg) {
        for (int c = 0; c < 2; ++c) {
            master[c].assign(kPeriod, 0.0f);
            out.master[c] = master[c].data();
            for (int g = 0; g < LR_GROUPS; ++g) {
                group[g][c].assign(kPeriod, 0.0f);
                out.group[g][c] = group[g][c].data();
            }
            for (int k = 0; k < LR_SENDS; ++k) {
                send[k][c].assign(kPeriod, 0.0f);
                ret[k][c].assign(kPeriod, 0.0f);
                out.send[k][c] = send[k][c].data();
                out.fx_return[k][c] = ret[k][c].data();
            }
        }
    }
    /// One period: `feed` writes into the bus inputs (as the slots would).
    template <class Feed>
    void period(Feed feed) {
        std::fill(master[0].begin(), master[0].end(), 0.0f);
        std::fill(master[1].begin(), master[1].end(), 0.0f);
        mixer.begin_period();
        meters.begin_period();
        const BusInputs in = mixer.inputs(0, out);
        const bool wrote = feed(in);
        if (wrote) mixer.mark_written(kPeriod);
        mixer.mix(0, kPeriod, out, wrote, meters);
    }
    void silent_period() {
        period([](const BusInputs&) { return false; });
    }
    float peak(const std::vector<float>& x) const {
        float p = 0.0f;
        for (float v : x) p = std::max(p, std::fabs(v));
        return p;
    }
};

}  // namespace

TEST_CASE("the level floor: at or below LR_LEVEL_OFF_DB a level is silence") {
    CHECK(level_gain(LR_LEVEL_OFF_DB) == 0.0f);
    CHECK(level_gain(double{LR_LEVEL_OFF_DB} - 1.0) == 0.0f);
    CHECK(level_gain(0.0) == 1.0f);
    CHECK(level_gain(-6.0) == doctest::Approx(0.501187f));
}

TEST_CASE("effects are wired by lr_send_bus: the delay's send comes back one delay time later; nothing reaches the reverb's return") {
    BusRig rig;
    rig.mixer.set_param(LR_P_DELAY_MS, 0, 10.0, true);  // 480 frames
    rig.mixer.set_param(LR_P_DELAY_FEEDBACK, 0, 0.0, true);
    for (int i = 0; i < 4; ++i) rig.silent_period();  // the new delay time in force
    REQUIRE(rig.mixer.delay_frames() == 480);
    CHECK(rig.mixer.global_params()[LR_P_DELAY_BEATS - LR_P_GLOBAL_BASE] == 0.0f);  // ms: no longer synced
    std::vector<float> delay_ret, reverb_ret, master;
    for (int p = 0; p < 4; ++p) {
        rig.period([&](const BusInputs& in) {
            if (p == 0) in.send[LR_SEND_DELAY][0][10] = in.send[LR_SEND_DELAY][1][10] = 1.0f;
            return p == 0;
        });
        delay_ret.insert(delay_ret.end(), rig.ret[LR_SEND_DELAY][0].begin(), rig.ret[LR_SEND_DELAY][0].end());
        reverb_ret.insert(reverb_ret.end(), rig.ret[LR_SEND_REVERB][0].begin(), rig.ret[LR_SEND_REVERB][0].end());
        master.insert(master.end(), rig.master[0].begin(), rig.master[0].end());
        if (p == 0) CHECK(rig.meters.send[LR_SEND_DELAY].peak[0] == 1.0f);
    }
    CHECK(rig.send[LR_SEND_DELAY][0][10] == 0.0f);  // the send out of the last period
    for (std::size_t i = 0; i < delay_ret.size(); ++i)
        if (i != 490) CHECK(std::fabs(delay_ret[i]) < 1e-6f);
    CHECK(delay_ret[490] == doctest::Approx(1.0f));
    CHECK(master[490] == doctest::Approx(1.0f));  // the return feeds the master at its level (0 dB)
    CHECK(rig.peak(reverb_ret) == 0.0f);
}

TEST_CASE("fx sleep: an effect sleeps once its output has been quiet for as long as it remembers; input wakes it at once") {
    dsp::flush_denormals();  // as on the audio thread: the reverb's tail decays in normal numbers
    BusRig rig;
    rig.mixer.set_param(LR_P_REVERB_DECAY, 0, 0.1, true);  // a short tail
    auto burst = [](const BusInputs& in) {
        for (uint32_t i = 0; i < kPeriod; ++i)
            in.send[LR_SEND_REVERB][0][i] = in.send[LR_SEND_REVERB][1][i] = (i % 7 == 0) ? 0.5f : -0.1f;
        return true;
    };
    // The reverb's return within a few periods of a burst (after its shortest path).
    auto returns_after_burst = [&] {
        rig.period(burst);
        bool awake = !rig.mixer.asleep(LR_SEND_REVERB);
        float heard = rig.peak(rig.ret[LR_SEND_REVERB][0]);
        for (int i = 0; i < 8; ++i) {
            rig.silent_period();
            heard = std::max(heard, rig.peak(rig.ret[LR_SEND_REVERB][0]));
        }
        return awake && heard > 0.0f;
    };
    CHECK(returns_after_burst());
    // Silence in: awake while its tail rings and for a second after (its memory), then asleep.
    int periods = 0;
    while (!rig.mixer.asleep(LR_SEND_REVERB) && periods < static_cast<int>(48000 * 10 / kPeriod)) {
        rig.silent_period();
        ++periods;
    }
    REQUIRE(rig.mixer.asleep(LR_SEND_REVERB));
    CHECK((periods + 8) * kPeriod >= 48000);  // (8: the periods after the burst)
    // Asleep: its return stays silent, nothing reaches the master.
    rig.silent_period();
    CHECK(rig.peak(rig.ret[LR_SEND_REVERB][0]) == 0.0f);
    CHECK(rig.peak(rig.master[0]) == 0.0f);
    // A change made while it sleeps is complete when it wakes; input wakes it in the same period.
    rig.mixer.set_param(LR_P_REVERB_PREDELAY, 0, 0.0, true);
    CHECK(returns_after_burst());

    // The delay remembers its time + 100 ms.
    rig.mixer.set_param(LR_P_DELAY_MS, 0, 100.0, true);  // 4800 frames
    rig.mixer.set_param(LR_P_DELAY_FEEDBACK, 0, 0.0, true);
    for (int i = 0; i < 4; ++i) rig.silent_period();
    rig.period([](const BusInputs& in) {
        in.send[LR_SEND_DELAY][0][0] = 1.0f;
        return true;
    });
    CHECK(!rig.mixer.asleep(LR_SEND_DELAY));
    periods = 0;
    while (!rig.mixer.asleep(LR_SEND_DELAY) && periods < 1000) {
        rig.silent_period();
        ++periods;
    }
    // Quiet after the echo (at 4800 frames), asleep 4800 + 4800 frames of quiet later.
    CHECK((periods + 1) * kPeriod >= 4800 + 4800 + 4800);
    CHECK((periods - 1) * kPeriod <= 4800 + 4800 + 4800 + kPeriod);
}

TEST_CASE("group and global params: group gain and mute, return level, master gain; published as set") {
    BusRig rig;
    auto into_group2 = [](const BusInputs& in) {
        std::fill_n(in.group[2][0], kPeriod, 0.5f);
        std::fill_n(in.group[2][1], kPeriod, 0.5f);
        return true;
    };
    rig.period(into_group2);
    CHECK(rig.master[0][100] == 0.5f);
    CHECK(rig.group[2][0][100] == 0.5f);  // the group's JACK out
    CHECK(rig.meters.group[2].peak[0] == 0.5f);
    rig.mixer.set_param(LR_P_GROUP_GAIN, 2, -6.0, true);
    rig.period(into_group2);
    CHECK(rig.master[0][100] == doctest::Approx(0.5f * 0.501187f));
    CHECK(rig.mixer.group_params(2)[LR_P_GROUP_GAIN - LR_P_GROUP_BASE] == -6.0f);
    rig.mixer.set_param(LR_P_GROUP_MUTE, 2, 1.0, true);
    rig.period(into_group2);
    CHECK(rig.master[0][100] == 0.0f);
    rig.mixer.set_param(LR_P_GROUP_MUTE, 2, 0.0, true);
    rig.mixer.set_param(LR_P_MASTER_GAIN, 0, -6.0, true);
    rig.period(into_group2);
    CHECK(rig.master[0][100] == doctest::Approx(0.5f * 0.501187f * 0.501187f));
    CHECK(rig.mixer.global_params()[LR_P_MASTER_GAIN - LR_P_GLOBAL_BASE] == -6.0f);

    // A return at the level floor: the delay runs, nothing of it reaches the master.
    BusRig quiet;
    quiet.mixer.set_param(LR_P_DELAY_RETURN, 0, LR_LEVEL_OFF_DB, true);
    quiet.mixer.set_param(LR_P_DELAY_MS, 0, 1.0, true);
    for (int i = 0; i < 4; ++i) quiet.silent_period();
    quiet.period([](const BusInputs& in) {
        std::fill_n(in.send[LR_SEND_DELAY][0], kPeriod, 0.5f);
        return true;
    });
    CHECK(quiet.peak(quiet.master[0]) == 0.0f);
    CHECK(quiet.peak(quiet.send[LR_SEND_DELAY][0]) == 0.5f);  // the send's JACK out
}
