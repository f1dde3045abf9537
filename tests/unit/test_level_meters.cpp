// Level meters alone (rt/level_meters.hpp): peak hold, RMS ballistics, the
// loudness hand-over, and one publication of the meter area.
#include "bus_mixer.hpp"
#include "level_meters.hpp"
#include "musical_grid.hpp"
#include "slot.hpp"
#include "steady_render.hpp"
#include "unit_segment.hpp"
#include "voice.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <vector>

using namespace looprig;
using namespace looprig::rt;

TEST_CASE("peak hold: the highest peak stays for the hold time, then the display drops to the current peak") {
    PeakHold h;
    h.update(1.0f, 100, 1000);
    for (int i = 0; i < 10; ++i) {
        h.update(0.5f, 100, 1000);
        CHECK(h.value == 1.0f);  // held for 1000 frames
    }
    h.update(0.5f, 100, 1000);
    CHECK(h.value == 0.5f);
    h.update(0.7f, 100, 1000);  // a higher peak takes over at once
    CHECK(h.value == 0.7f);
    CHECK(h.age == 0);
}

TEST_CASE("meter ballistics: per-period peak, 300 ms RMS window, hold and its reset") {
    Meter m;
    const uint32_t period = 480;  // 10 ms
    const double coeff = rms_coeff(period, 48000);
    const uint64_t hold = static_cast<uint64_t>(kPeakHoldSeconds * 48000);
    for (int p = 0; p < 30; ++p) {  // 300 ms of a steady 0.5
        m.begin_period();
        for (uint32_t i = 0; i < period; ++i) m.accumulate(0.5f, -0.25f);
        m.finish(period, coeff, hold);
    }
    CHECK(m.peak[0] == 0.5f);
    CHECK(m.peak[1] == 0.25f);
    CHECK(m.rms(0) == doctest::Approx(0.5 * std::sqrt(1.0 - std::exp(-1.0))).epsilon(1e-6));  // one time constant
    for (int p = 0; p < 300; ++p) {  // 3 s more: settled
        m.begin_period();
        for (uint32_t i = 0; i < period; ++i) m.accumulate(0.5f, -0.25f);
        m.finish(period, coeff, hold);
    }
    CHECK(m.rms(0) == doctest::Approx(0.5).epsilon(1e-4));
    CHECK(m.rms(1) == doctest::Approx(0.25).epsilon(1e-4));
    m.begin_period();  // a silent period: the peak is this period's, the hold keeps the last one
    m.finish(period, coeff, hold);
    CHECK(m.peak[0] == 0.0f);
    CHECK(m.hold[0].value == 0.5f);
    lr_bus_meter out{};
    m.to(out);
    CHECK(out.peak_hold[0] == 0.5f);
    CHECK(out.rms[0] == doctest::Approx(0.5 * std::sqrt(coeff)).epsilon(1e-4));
    m.reset_hold();
    CHECK(m.hold[0].value == 0.0f);
    for (int p = 0; p < 20000; ++p) m.finish(period, coeff, hold);  // decays to exactly 0 (no denormals)
    CHECK(m.mean_square[0] == 0.0);
}

TEST_CASE("loudness feed: whole blocks; after kLoudnessQuietSeconds of silence only a count, handed over with the next sound") {
    SpscQueue<LoudnessBlock> blocks(1024);
    LoudnessFeed feed(blocks);
    std::vector<float> zeros(kLoudnessBlockFrames, 0.0f), sound(kLoudnessBlockFrames, 0.1f);
    const uint64_t quiet = uint64_t{kLoudnessQuietSeconds} * 48000;
    const uint64_t handed_silent = (quiet + kLoudnessBlockFrames - 1) / kLoudnessBlockFrames;
    for (uint64_t b = 0; b < handed_silent + 10; ++b) feed.feed(zeros.data(), zeros.data(), kLoudnessBlockFrames, 48000);
    CHECK(blocks.size() == handed_silent);
    LoudnessBlock* first = blocks.front();
    REQUIRE(first != nullptr);
    CHECK(first->frames == kLoudnessBlockFrames);
    CHECK(first->silence_before == 0);
    while (blocks.front()) blocks.pop();
    feed.feed(sound.data(), sound.data(), 100, 48000);  // a part block: nothing yet
    CHECK(blocks.size() == 0);
    feed.feed(sound.data(), sound.data(), kLoudnessBlockFrames - 100, 48000);
    REQUIRE(blocks.size() == 1);
    CHECK(blocks.front()->silence_before == 10 * kLoudnessBlockFrames);
    CHECK(blocks.front()->samples[0] == 0.1f);
    CHECK(blocks.front()->samples[1] == 0.1f);
    blocks.pop();

    SpscQueue<LoudnessBlock> tiny(2);  // the loudness thread behind: blocks dropped, never a stall
    LoudnessFeed behind(tiny);
    for (int b = 0; b < 5; ++b) behind.feed(sound.data(), sound.data(), kLoudnessBlockFrames, 48000);
    CHECK(tiny.size() == 2);
    CHECK(behind.dropped() == 3);
}

TEST_CASE("publish: the meter area under its sequence lock; reset clears every hold") {
    auto segment = test::make_segment(2, "meters");
    WorkerQueues queues(2, 48000);
    queues.set_loudness(-20.0f, -21.0f, -22.0f);
    LevelMeters meters(*segment, queues, 48000);
    MusicalGrid grid;
    grid.reset(0, 48000);
    CoreConfig cfg;
    cfg.slot_count = 2;
    cfg.max_frames = 256;
    BusMixer buses(grid, cfg);
    SampleRefs refs(queues.garbage);
    Voices voices(grid, refs, 0);
    SteadyRenders renders(grid, voices, refs, queues);
    std::vector<Slot> slots(2);
    Sample* smp = test::counting_sample(480);
    slots[0].loaded.sample = smp;
    slots[0].loaded.info.load_count = 1;
    std::strcpy(slots[0].loaded.info.name, "count");
    slots[0].play.playing = true;
    voices.start_main(slots[0].play, smp, 0);
    slots[0].strip.params[LR_P_HP_FREQ] = 123.0f;
    slots[0].strip.mute = true;

    std::vector<float> ml(64, 0.0f), mr(64, 0.0f);
    ml[3] = 0.75f;
    CoreOutputs out;
    out.master[0] = ml.data();
    out.master[1] = mr.data();
    meters.begin_period(slots);
    slots[0].meter.accumulate(0.5f, 0.25f);
    PeriodFacts facts;
    facts.period = 7;
    facts.frame0 = 1000;
    facts.frame_end = 1064;
    facts.nframes = 64;
    facts.load = 0.5f;
    facts.xruns = 3;
    facts.transport_mode = LR_TRANSPORT_MASTER;
    facts.transport_rolling = true;
    const uint32_t seq = segment->meter_header()->seq;
    meters.publish(facts, out, slots, grid, buses, renders, voices);

    const lr_meter_header* h = segment->meter_header();
    CHECK(h->seq == seq + 2);
    CHECK(h->period == 7);
    CHECK(h->frame_time == 1000);
    CHECK(h->nframes == 64);
    CHECK(h->master_peak[0] == 0.75f);
    CHECK(h->master_peak_hold[0] == 0.75f);
    CHECK(h->lufs_integrated == -22.0f);
    CHECK(h->loudness_periods == 1);
    CHECK(h->xruns == 3);
    CHECK(h->callback_load == 0.5f);
    CHECK(h->transport_mode == LR_TRANSPORT_MASTER);
    CHECK(h->transport_rolling == 1);
    CHECK(h->slot_count == 2);
    CHECK(h->tempo_bpm == 120.0);
    const lr_slot_meter* m = segment->slot_meters();
    CHECK(m[0].state == LR_SLOT_PLAYING);
    CHECK(m[0].length == 480);
    CHECK(m[0].playhead == 1064 % 480);
    CHECK(m[0].peak[0] == 0.5f);
    CHECK(m[0].group == -1);
    CHECK((m[0].flags & LR_SLOT_F_MUTED) != 0);
    CHECK((m[0].flags & LR_SLOT_F_AUDIBLE) == 0);
    CHECK(m[1].state == LR_SLOT_EMPTY);
    CHECK((m[1].flags & LR_SLOT_F_AUDIBLE) != 0);
    CHECK(segment->slot_infos()[0].load_count == 1);
    CHECK(std::string(segment->slot_infos()[0].name) == "count");
    CHECK(!slots[0].loaded.info_dirty);
    CHECK(segment->slot_params()[0].value[LR_P_HP_FREQ] == 123.0f);
    CHECK(!slots[0].strip.params_dirty);
    CHECK(segment->mix_meter()->delay_frames == buses.delay_frames());

    const uint32_t reset = queues.loudness_reset.load();
    meters.reset(slots);
    CHECK(queues.loudness_reset.load() == reset + 1);
    CHECK(meters.buses.master.hold[0].value == 0.0f);
    CHECK(slots[0].meter.hold[0].value == 0.0f);
    voices.drop_voice(slots[0].play.main);
    delete smp;
}
