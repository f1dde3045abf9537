// What commands do (rt/actions.hpp), with the units it drives but without the
// period loop: validation and answers, the frame a command resolves to, the
// schedule, play/stop with their bookkeeping, a setting by command and by
// param being the same thing, time signature, declick, transport.
#include "actions.hpp"
#include "bus_mixer.hpp"
#include "client_protocol.hpp"
#include "level_meters.hpp"
#include "loads.hpp"
#include "midi_control.hpp"
#include "musical_grid.hpp"
#include "session_exchange.hpp"
#include "slot.hpp"
#include "slot_mixer.hpp"
#include "steady_render.hpp"
#include "unit_segment.hpp"
#include "voice.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <string>
#include <vector>

using namespace looprig;
using namespace looprig::rt;
using looprig::test::ClientEnds;
using looprig::test::counting_sample;

namespace {

struct ActionRig {
    std::unique_ptr<shm::Segment> segment = test::make_segment(4, "actions");
    CoreConfig cfg = [] {
        CoreConfig c;
        c.slot_count = 4;
        c.max_frames = 256;
        c.schedule_capacity = 8;
        return c;
    }();
    WorkerQueues queues{4, 48000};
    std::vector<Slot> slots = std::vector<Slot>(4);
    MusicalGrid grid;
    SampleRefs refs{queues.garbage};
    Voices voices{grid, refs, 0};
    SteadyRenders renders{grid, voices, refs, queues};
    SlotMixer slot_mixer{48000, 0, 0, -3.0};
    BusMixer bus_mixer{grid, cfg};
    LevelMeters meters{*segment, queues, 48000};
    ClientProtocol protocol{*segment};
    std::atomic<uint32_t> rate{48000};
    std::atomic<uint32_t> transport_mode{LR_TRANSPORT_OFF};
    Loads loads{*segment, queues, protocol, refs, voices, renders, slot_mixer, rate};
    SessionExchange sessions{*segment, queues, protocol, loads, refs, slots, grid};
    MidiControl midi{slots, grid, protocol, segment->mix_meter(), 48000};
    Actions actions{*segment,
                    ActionTargets{slots, grid, protocol, voices, renders, slot_mixer, bus_mixer, meters, loads,
                                  sessions, midi, queues.rig_changes},
                    cfg.schedule_capacity, rate, transport_mode};
    ClientEnds client{*segment, 0};
    uint32_t next_id = 1;
    std::vector<Sample*> owned;

    ActionRig() {
        grid.reset(0, 48000);
        for (auto& s : slots) slot_mixer.prepare(s.strip);
        actions.begin_period(1000);
    }
    ~ActionRig() {
        for (auto& s : slots) {
            voices.drop_voice(s.play.main);
            voices.drop_voice(s.play.tail);
        }
        for (Sample* s : owned) delete s;
    }
    void load(int slot, uint64_t frames) {
        Sample* s = counting_sample(frames);
        owned.push_back(s);
        SampleRefs::retain(s);
        slots[slot].loaded.sample = s;
    }
    /// Handle one command now; its answer.
    lr_event send(lr_command c) {
        c.id = next_id++;
        actions.handle(0, c);
        protocol.publish_events();
        const auto events = client.drain();
        REQUIRE(events.size() == 1);
        return events[0];
    }
    lr_event send(uint16_t type, int32_t slot, double v = 0.0, bool at = false, uint64_t at_frame = 0) {
        lr_command c{};
        c.type = type;
        c.slot = slot;
        c.value[0] = v;
        c.flags = at ? LR_CMD_F_AT : 0;
        c.at_frame = at_frame;
        return send(c);
    }
    lr_event param(uint32_t id, int32_t target, double v) {
        lr_command c{};
        c.type = LR_CMD_PARAM;
        c.param = id;
        c.slot = target;
        c.value[0] = v;
        return send(c);
    }
    /// Apply the scheduled actions due before `end`.
    void run_schedule(uint64_t end) {
        while (!actions.schedule().empty() && actions.schedule().earliest().frame < end)
            actions.apply(actions.schedule().pop_earliest());
    }
};

}  // namespace

TEST_CASE("a bad command is answered with an error and counted; a good one is acknowledged and counted") {
    ActionRig rig;
    lr_event e = rig.send(LR_CMD_GAIN, 99, 0.0);
    CHECK(e.type == LR_EVT_ERROR);
    CHECK(e.code == LR_E_BAD_SLOT);
    CHECK(rig.client.place->commands_rejected == 1);
    e = rig.send(LR_CMD_PING, 0);
    CHECK(e.type == LR_EVT_ACK);
    CHECK(std::string(e.message) == "pong");
    CHECK(e.frame == 1000);
    CHECK(rig.client.place->commands_accepted == 1);
    e = rig.send(LR_CMD_PLAY, 1);
    CHECK(e.code == LR_E_NOT_LOADED);
}

TEST_CASE("play at a later frame: scheduled, answered with that frame, applied there; stop likewise") {
    ActionRig rig;
    rig.load(0, 100);
    lr_event e = rig.send(LR_CMD_PLAY, 0, 0.0, true, 1500);
    CHECK(e.type == LR_EVT_ACK);
    CHECK(e.frame == 1500);
    CHECK(rig.actions.schedule().size() == 1);
    CHECK(rig.slots[0].play.pending_starts == 1);
    CHECK(rig.slots[0].play.grid_valid);
    CHECK(!rig.slots[0].play.main.active());
    rig.run_schedule(2000);
    CHECK(rig.slots[0].play.main.active());
    CHECK(rig.slots[0].play.playing);
    CHECK(rig.slots[0].play.start_frame == 1500);
    CHECK(rig.slots[0].play.pending_starts == 0);
    CHECK(rig.voices.voice_phase(rig.slots[0].play.main, 1500) == 0.0);

    rig.actions.begin_period(2000);
    e = rig.send(LR_CMD_STOP, 0, 0.0, true, 1900);  // in the past: now, and it says so
    CHECK(e.frame == 2000);
    CHECK(std::string(e.message).find("in the past") != std::string::npos);
    CHECK(!rig.slots[0].play.playing);
    CHECK(!rig.slots[0].play.main.active());

    // Quantized to another slot's loop: the next start of slot 0's grid (origin 1500, 100 frames).
    rig.load(1, 50);
    lr_command q{};
    q.type = LR_CMD_PLAY;
    q.slot = 1;
    q.quantize = LR_Q_SLOT;
    q.quantize_arg = 0;
    e = rig.send(q);
    CHECK(std::string(e.message).find("not quantized") != std::string::npos);  // slot 0 stopped: no grid
}

TEST_CASE("a full schedule answers schedule-full") {
    ActionRig rig;  // capacity 8
    for (int i = 0; i < 8; ++i) CHECK(rig.send(LR_CMD_GAIN, 0, -1.0, true, 5000 + i).type == LR_EVT_ACK);
    const lr_event e = rig.send(LR_CMD_GAIN, 0, -1.0, true, 6000);
    CHECK(e.code == LR_E_SCHEDULE_FULL);
}

TEST_CASE("a slot setting by command and by param is one thing: applied, published, and the timing refreshes the render") {
    ActionRig rig;
    rig.load(2, 48000);
    rig.send(LR_CMD_GAIN, 2, -6.0);
    CHECK(rig.slots[2].strip.gain_db == -6.0);
    CHECK(rig.slots[2].strip.params[LR_P_GAIN] == -6.0f);
    rig.param(LR_P_GAIN, 2, -12.0);
    CHECK(rig.slots[2].strip.gain_db == -12.0);
    CHECK(rig.slots[2].strip.gain[0].target == doctest::Approx(0.251189f));
    rig.param(LR_P_SOLO, 3, 1.0);
    CHECK(rig.slots[2].strip.audible.target == 0.0f);  // another slot soloed
    rig.send(LR_CMD_SOLO, 3, 0.0);
    CHECK(rig.slots[2].strip.audible.target == 1.0f);

    lr_command t{};
    t.type = LR_CMD_LOOP_TEMPO;
    t.slot = 2;
    t.value[0] = 120.0;  // by tempo: 1 s at 120 BPM = 2 beats
    lr_event e = rig.send(t);
    CHECK(e.value[0] == 2.0);
    CHECK(rig.slots[2].strip.params[LR_P_LOOP_BPM] == 120.0f);
    CHECK(rig.slots[2].strip.params[LR_P_LOOP_BEATS] == 0.0f);
    rig.param(LR_P_LOOP_BEATS, 2, 4.0);  // by length: the tempo is no longer declared
    CHECK(rig.slots[2].timing.loop_beats == 4.0);
    CHECK(rig.slots[2].strip.params[LR_P_LOOP_BPM] == 0.0f);
    CHECK(rig.slots[2].steady.needed);  // 4 beats of a 2-beat loop: a render was asked for
    CHECK(rig.queues.render_requests.size() == 1);
    e = rig.send(LR_CMD_PITCH, 2, 3.0);
    CHECK(e.value[1] == 3.0);
    CHECK(rig.slots[2].strip.params[LR_P_PITCH] == 3.0f);
    CHECK(std::string(e.message).find("render pending") != std::string::npos);
}

TEST_CASE("time signature, declick, tempo, transport mode") {
    ActionRig rig;
    lr_event e = rig.send(LR_CMD_TIME_SIGNATURE, 0, 3.0);
    CHECK(rig.grid.beats_per_bar() == 3);
    CHECK(std::string(e.message) == "time signature: 3 beats per bar");
    e = rig.send(LR_CMD_DECLICK, 0, 2.0);
    CHECK(rig.voices.declick_frames() == 96);
    CHECK(rig.segment->header()->declick_frames == 96);
    e = rig.send(LR_CMD_TEMPO, 0, 90.0);
    CHECK(rig.grid.bpm() == 90.0);
    e = rig.send(LR_CMD_TRANSPORT, 0, LR_TRANSPORT_FOLLOW);
    CHECK(rig.transport_mode.load() == LR_TRANSPORT_FOLLOW);

    TransportInfo t;  // follow a stopped transport: paused
    rig.actions.take_transport(LR_TRANSPORT_FOLLOW, t);
    CHECK(rig.actions.paused());
    t.rolling = true;
    t.bbt_valid = true;
    t.bpm = 140.0;
    t.beats_per_bar = 7.0;
    t.beat = 12.0;
    rig.actions.take_transport(LR_TRANSPORT_FOLLOW, t);
    CHECK(!rig.actions.paused());
    CHECK(rig.actions.transport_rolling());
    CHECK(rig.grid.bpm() == 140.0);
    CHECK(rig.grid.beats_per_bar() == 7);
    CHECK(rig.grid.beat_at(1000) == 12.0);
    rig.actions.take_transport(LR_TRANSPORT_MASTER, t);
    CHECK(!rig.actions.paused());
    CHECK(rig.actions.transport_rolling());
    rig.actions.take_transport(LR_TRANSPORT_OFF, t);
    CHECK(!rig.actions.transport_rolling());
}
