// Loads alone (rt/loads.hpp): the request for the loader (or "busy"),
// installing results (info published, the client answered only if it is
// still there, a swap on the slot's grid), errors, unload.
#include "client_protocol.hpp"
#include "loads.hpp"
#include "musical_grid.hpp"
#include "slot.hpp"
#include "slot_mixer.hpp"
#include "steady_render.hpp"
#include "unit_segment.hpp"
#include "voice.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <string>
#include <vector>

using namespace looprig;
using namespace looprig::rt;
using looprig::test::ClientEnds;
using looprig::test::counting_sample;

namespace {

struct LoadRig {
    std::unique_ptr<shm::Segment> segment = test::make_segment(4, "loads");
    WorkerQueues queues{4, 48000};
    ClientProtocol protocol{*segment};
    SampleRefs refs{queues.garbage};
    MusicalGrid grid;
    Voices voices{grid, refs, 0};
    SteadyRenders renders{grid, voices, refs, queues};
    SlotMixer mixer{48000, 0, 0, -3.0};
    std::atomic<uint32_t> rate{44100};
    Loads loads{*segment, queues, protocol, refs, voices, renders, mixer, rate};
    std::vector<Slot> slots = std::vector<Slot>(4);
    ClientEnds client{*segment, 0};

    LoadRig() {
        grid.reset(0, 48000);
        for (auto& s : slots) mixer.prepare(s.strip);
    }
    lr_command load_command(uint32_t id, int32_t slot, const char* path) {
        lr_command c{};
        c.id = id;
        c.type = LR_CMD_LOAD;
        c.slot = slot;
        c.text_len = static_cast<uint32_t>(std::strlen(path));
        std::memcpy(c.text, path, c.text_len);
        return c;
    }
    void give(uint32_t id, int32_t slot, Sample* s, int32_t code = LR_OK, const char* message = "loaded") {
        LoadResult r;
        r.client = 0;
        r.generation = client.place->generation;
        r.id = id;
        r.slot = slot;
        r.sample = s;
        r.code = code;
        std::snprintf(r.message, sizeof r.message, "%s", message);
        REQUIRE(queues.load_results.push(r));
    }
    std::vector<lr_event> events() {
        protocol.publish_events();
        return client.drain();
    }
    std::vector<Sample*> garbage() {
        std::vector<Sample*> out;
        Sample* s = nullptr;
        while (queues.garbage.pop_into(&s)) out.push_back(s);
        return out;
    }
};

}  // namespace

TEST_CASE("a load request carries the place, its generation, the path and the engine rate; a full loader queue answers busy") {
    LoadRig rig;
    rig.client.place->generation = 9;
    rig.loads.request_load(0, rig.load_command(5, 2, "/tmp/a.wav"), 100);
    LoadRequest req;
    REQUIRE(rig.queues.load_requests.pop_into(&req));
    CHECK(req.client == 0);
    CHECK(req.generation == 9);
    CHECK(req.id == 5);
    CHECK(req.slot == 2);
    CHECK(req.sample_rate == 44100);
    CHECK(std::string(req.path) == "/tmp/a.wav");
    CHECK(rig.events().empty());  // answered when the result is installed

    for (std::size_t i = 0; i < rig.queues.load_requests.capacity(); ++i)
        rig.loads.request_load(0, rig.load_command(10, 0, "x"), 100);
    rig.loads.request_load(0, rig.load_command(11, 0, "x"), 100);
    const auto events = rig.events();
    REQUIRE(events.size() == 1);
    CHECK(events[0].id == 11);
    CHECK(events[0].type == LR_EVT_ERROR);
    CHECK(events[0].code == LR_E_BUSY);
}

TEST_CASE("an installed load publishes the file's info and answers with its frames and rate; an error is answered with its code") {
    LoadRig rig;
    Sample* s = counting_sample(480);
    s->source_rate = 44100;
    std::strcpy(s->path, "/loops/count.wav");
    rig.give(7, 1, s);
    rig.give(8, 2, nullptr, LR_E_FILE, "cannot open /nope.wav");
    rig.loads.install_loads(rig.slots, 5000);
    CHECK(rig.queues.load_results.size() == 0);
    const Slot& slot = rig.slots[1];
    CHECK(slot.loaded.sample == s);
    CHECK(s->rt_refs == 1);
    CHECK(slot.loaded.info_dirty);
    CHECK(slot.loaded.info.load_count == 1);
    CHECK(slot.loaded.info.channels == 2);
    CHECK(slot.loaded.info.source_rate == 44100);
    CHECK(std::string(slot.loaded.info.name) == "count");
    CHECK(std::string(slot.loaded.info.path) == "/loops/count.wav");
    CHECK(rig.slots[2].loaded.sample == nullptr);
    const auto events = rig.events();
    REQUIRE(events.size() == 2);
    CHECK(events[0].id == 7);
    CHECK(events[0].type == LR_EVT_ACK);
    CHECK(events[0].command == LR_CMD_LOAD);
    CHECK(events[0].frame == 5000);
    CHECK(events[0].value[0] == 480.0);
    CHECK(events[0].value[1] == 44100.0);
    CHECK(events[1].id == 8);
    CHECK(events[1].type == LR_EVT_ERROR);
    CHECK(events[1].code == LR_E_FILE);
    CHECK(std::string(events[1].message) == "cannot open /nope.wav");
    rig.slots[1].loaded.sample = nullptr;
    delete s;
}

TEST_CASE("a load whose client left (its place has a new generation) is installed but not answered") {
    LoadRig rig;
    Sample* s = counting_sample(64);
    rig.give(3, 0, s);
    rig.client.place->generation += 1;
    rig.loads.install_loads(rig.slots, 0);
    CHECK(rig.slots[0].loaded.sample == s);
    CHECK(rig.events().empty());
    rig.slots[0].loaded.sample = nullptr;
    delete s;
}

TEST_CASE("loading into a playing slot swaps what plays on its grid; unload fades out and empties the slot") {
    LoadRig rig;
    Sample* old = counting_sample(100);
    rig.give(1, 0, old);
    rig.loads.install_loads(rig.slots, 0);
    Slot& slot = rig.slots[0];
    rig.voices.start_main(slot.play, old, 1000);  // playing, loop frame 0 at frame 1000
    slot.play.playing = true;
    CHECK(old->rt_refs == 2);

    Sample* fresh = counting_sample(100);
    rig.give(2, 0, fresh);
    rig.loads.install_loads(rig.slots, 5000);
    CHECK(slot.loaded.sample == fresh);
    CHECK(slot.play.main.sample == fresh);
    CHECK(slot.play.main.origin == 1000);  // the same place on its grid
    CHECK(slot.loaded.info.load_count == 2);
    CHECK(rig.garbage() == std::vector<Sample*>{old});  // no declick: the old one is gone at once
    delete old;
    rig.events();

    lr_command unload{};
    unload.id = 9;
    unload.type = LR_CMD_UNLOAD;
    unload.slot = 0;
    rig.loads.unload(rig.slots, 0, unload, 6000);
    CHECK(slot.loaded.sample == nullptr);
    CHECK(!slot.play.main.active());
    CHECK(!slot.play.playing);
    CHECK(slot.loaded.info.load_count == 0);
    CHECK(slot.loaded.info_dirty);
    CHECK(rig.garbage() == std::vector<Sample*>{fresh});
    delete fresh;
    unload.id = 10;
    rig.loads.unload(rig.slots, 0, unload, 6000);  // empty now
    const auto events = rig.events();
    REQUIRE(events.size() == 2);
    CHECK(events[0].id == 9);
    CHECK(events[0].type == LR_EVT_ACK);
    CHECK(events[1].id == 10);
    CHECK(events[1].code == LR_E_NOT_LOADED);
}
