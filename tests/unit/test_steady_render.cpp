// Steady-state render bookkeeping alone (rt/steady_render.hpp): the loop
// length in beats from what was declared, asking for a render, installing it
// at the same phase, late and refused answers, a full request queue.
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
using looprig::test::counting_sample;

namespace {

struct RenderRig {
    WorkerQueues queues{2, 48000};
    SampleRefs refs{queues.garbage};
    MusicalGrid grid;
    Voices voices{grid, refs, 0};
    SteadyRenders renders{grid, voices, refs, queues};
    std::vector<Slot> slots = std::vector<Slot>(2);
    std::vector<Sample*> owned;

    RenderRig() { grid.reset(0, 48000); }  // 120 BPM: 24000 frames a beat
    ~RenderRig() {
        for (auto& s : slots) {
            voices.drop_voice(s.play.main);
            voices.drop_voice(s.play.tail);
        }
        for (Sample* s : owned) delete s;
    }
    Sample* load(int slot, uint64_t frames) {
        Sample* s = counting_sample(frames);
        owned.push_back(s);
        SampleRefs::retain(s);
        slots[slot].loaded.sample = s;
        slots[slot].loaded.info.load_count += 1;
        return s;
    }
    Sample* made(uint64_t frames) {
        Sample* s = counting_sample(frames);
        owned.push_back(s);
        return s;
    }
};

}  // namespace

TEST_CASE("loop length in beats: declared by tempo (snapped to whole beats within 2 %) or by beats; one clears the other") {
    RenderRig rig;
    const Sample* second = rig.made(48000);  // 1 s
    LoopTiming t;
    CHECK(rig.renders.set_timing(t, LR_P_LOOP_BPM, 120.0, second));
    CHECK(t.loop_beats == 2.0);
    rig.renders.set_timing(t, LR_P_LOOP_BPM, 121.0, second);
    CHECK(t.loop_beats == 2.0);  // 2.017 beats: a loop cut to the beat
    rig.renders.set_timing(t, LR_P_LOOP_BPM, 130.0, second);
    CHECK(t.loop_beats == doctest::Approx(130.0 / 60.0));
    rig.renders.set_timing(t, LR_P_LOOP_BEATS, 4.0, second);
    CHECK(t.declared_bpm == 0.0);
    CHECK(t.loop_beats == 4.0);
    rig.renders.set_timing(t, LR_P_LOOP_BPM, 0.0, second);  // zero clears nothing else
    CHECK(t.declared_beats == 4.0);
    rig.renders.set_timing(t, LR_P_LOOP_BEATS, 0.0, second);
    CHECK(t.loop_beats == 0.0);
    rig.renders.set_timing(t, LR_P_LOOP_BPM, 90.0, nullptr);  // nothing loaded: nothing to derive yet
    CHECK(t.loop_beats == 0.0);
    CHECK(rig.renders.set_timing(t, LR_P_PITCH, -3.0, second));
    CHECK(t.pitch == -3.0);
    CHECK(SteadyRenders::pitch_scale(t) == doctest::Approx(std::pow(2.0, -0.25)));
    CHECK(rig.renders.set_timing(t, LR_P_MODE, LR_MODE_VARISPEED, second));
    CHECK(t.mode == LR_MODE_VARISPEED);
    CHECK(!rig.renders.set_timing(t, LR_P_GAIN, -3.0, second));
}

TEST_CASE("a follower that needs a render asks for one, plays varispeed meanwhile, then the render at the same phase") {
    RenderRig rig;
    Slot& s = rig.slots[0];
    Sample* loop = rig.load(0, 48000);  // 1 s
    rig.voices.start_main(s.play, loop, 0);
    rig.renders.set_timing(s.timing, LR_P_LOOP_BEATS, 4.0, loop);  // 4 beats = 2 s at 120 BPM
    const double phase = rig.voices.voice_phase(s.play.main, 1000);
    rig.renders.refresh_render(s, 0, 1000);
    CHECK(s.steady.needed);
    CHECK(!s.steady.ready);
    CHECK(rig.renders.target_frames(s) == 96000);
    RenderRequest req;
    REQUIRE(rig.queues.render_requests.pop_into(&req));
    CHECK(req.slot == 0);
    CHECK(req.source == loop);
    CHECK(req.target_frames == 96000);
    CHECK(req.pitch_scale == 1.0);
    CHECK(req.generation == rig.queues.latest_render_generation(0));
    CHECK(loop->rt_refs == 3);  // slot, main voice, request
    // Meanwhile the loaded audio, grid-locked at the same phase.
    CHECK(s.play.main.sample == loop);
    CHECK(s.play.main.grid_locked);
    CHECK(rig.voices.voice_phase(s.play.main, 1000) == doctest::Approx(phase));

    Sample* render = rig.made(96000);
    RenderAnswer a{0, req.generation, loop, render, 96000, 1.0};
    REQUIRE(rig.queues.render_answers.push(a));
    const double phase_at = rig.voices.voice_phase(s.play.main, 5000);
    rig.renders.install_renders(rig.slots, 5000);
    CHECK(s.steady.render == render);
    CHECK(s.steady.ready);
    CHECK(SteadyRenders::play_buffer(s) == render);
    CHECK(s.play.main.sample == render);
    CHECK(rig.voices.voice_phase(s.play.main, 5000) == doctest::Approx(phase_at));
    CHECK(render->rt_refs == 2);  // the slot's render and the main voice
    CHECK(loop->rt_refs == 1);    // the slot (the request's reference came back)

    // Pitch back to where the render is: nothing to ask. A new tempo: a new render, the old one plays meanwhile.
    rig.renders.refresh_render(s, 0, 6000);
    CHECK(rig.queues.render_requests.size() == 0);
    rig.grid.set_tempo(6000, 100.0);
    rig.renders.refresh_followers(rig.slots, 6000);
    CHECK(!s.steady.ready);
    CHECK(rig.queues.render_requests.size() == 1);
    CHECK(s.play.main.sample == render);
}

TEST_CASE("a late answer (an older generation) is thrown away; a refused render leaves the slot varispeed") {
    RenderRig rig;
    Slot& s = rig.slots[1];
    Sample* loop = rig.load(1, 24000);
    rig.renders.set_timing(s.timing, LR_P_PITCH, 2.0, loop);
    rig.renders.refresh_render(s, 1, 0);
    rig.renders.set_timing(s.timing, LR_P_PITCH, 3.0, loop);
    rig.renders.refresh_render(s, 1, 0);
    RenderRequest first, second;
    REQUIRE(rig.queues.render_requests.pop_into(&first));
    REQUIRE(rig.queues.render_requests.pop_into(&second));
    CHECK(second.generation == first.generation + 1);
    Sample* stale = rig.made(24000);
    REQUIRE(rig.queues.render_answers.push(RenderAnswer{1, first.generation, loop, stale, 24000, first.pitch_scale}));
    rig.renders.install_renders(rig.slots, 0);
    CHECK(s.steady.render == nullptr);
    Sample* g = nullptr;
    REQUIRE(rig.queues.garbage.pop_into(&g));
    CHECK(g == stale);  // for housekeeping to delete
    REQUIRE(rig.queues.render_answers.push(RenderAnswer{1, second.generation, loop, nullptr, 24000, second.pitch_scale}));
    rig.renders.install_renders(rig.slots, 0);
    CHECK(!s.steady.needed);  // refused: varispeed, and the meters say so
    CHECK(loop->rt_refs == 1);
}

TEST_CASE("a full request queue: the request is made again at the next install_renders") {
    RenderRig rig;
    Slot& s = rig.slots[0];
    Sample* loop = rig.load(0, 24000);
    const std::size_t capacity = rig.queues.render_requests.capacity();
    for (std::size_t i = 0; i < capacity; ++i) REQUIRE(rig.queues.render_requests.push(RenderRequest{}));
    rig.renders.set_timing(s.timing, LR_P_PITCH, 1.0, loop);
    rig.renders.refresh_render(s, 0, 0);
    CHECK(s.steady.wanted);
    CHECK(loop->rt_refs == 1);  // the reference for the request was given back
    RenderRequest r;
    REQUIRE(rig.queues.render_requests.pop_into(&r));
    rig.renders.install_renders(rig.slots, 0);
    CHECK(!s.steady.wanted);
    CHECK(rig.queues.render_requests.size() == capacity);
    CHECK(loop->rt_refs == 2);
}

TEST_CASE("no render needed at its own tempo and pitch, or in varispeed mode: the loaded audio plays") {
    RenderRig rig;
    Slot& s = rig.slots[0];
    Sample* loop = rig.load(0, 48000);
    rig.renders.refresh_render(s, 0, 0);
    CHECK(!s.steady.needed);
    CHECK(rig.queues.render_requests.size() == 0);
    rig.renders.set_timing(s.timing, LR_P_LOOP_BEATS, 4.0, loop);
    rig.renders.set_timing(s.timing, LR_P_MODE, LR_MODE_VARISPEED, loop);
    rig.renders.refresh_render(s, 0, 0);
    CHECK(!s.steady.needed);
    CHECK(rig.renders.cycle_frames(s) == 96000.0);
    CHECK(SteadyRenders::play_buffer(s) == loop);
    rig.renders.set_timing(s.timing, LR_P_LOOP_BEATS, 2.0, loop);  // 2 beats = its own length
    rig.renders.set_timing(s.timing, LR_P_MODE, LR_MODE_STRETCH, loop);
    rig.renders.refresh_render(s, 0, 0);
    CHECK(!s.steady.needed);
}
