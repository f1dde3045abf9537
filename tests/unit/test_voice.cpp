// Voices alone (rt/voice.hpp): wrapping at the loop point, the declick fade
// and the release of what a voice held, the Hermite seam, grid-locked
// playback (exact when the cycle is the sample's length, varispeed when not).
#include "musical_grid.hpp"
#include "unit_segment.hpp"
#include "voice.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <numbers>
#include <vector>

using namespace looprig;
using namespace looprig::rt;
using looprig::test::counting_sample;

namespace {

struct VoiceRig {
    SpscQueue<Sample*> garbage{16};
    SampleRefs refs{garbage};
    MusicalGrid grid;
    Voices voices;
    explicit VoiceRig(uint32_t declick = 0) : voices(grid, refs, declick) { grid.reset(0, 48000); }
    std::vector<Sample*> collected() {
        std::vector<Sample*> out;
        Sample* s = nullptr;
        while (garbage.pop_into(&s)) out.push_back(s);
        return out;
    }
};

}  // namespace

TEST_CASE("a voice wraps at the loop point exactly, frame for frame") {
    VoiceRig rig;
    Sample* s = counting_sample(5);
    SlotPlayback p;
    rig.voices.start_main(p, s, 100);  // loop frame 0 plays at frame 100
    CHECK(s->rt_refs == 1);
    std::vector<float> l(12, 0.0f), r(12, 0.0f);
    rig.voices.play_voice(p.main, 103, 12, l.data(), r.data());
    for (uint32_t i = 0; i < 12; ++i) {
        CHECK(l[i] == static_cast<float>((3 + i) % 5));
        CHECK(r[i] == -static_cast<float>((3 + i) % 5));
    }
    CHECK(rig.voices.voice_phase(p.main, 107) == doctest::Approx(2.0 / 5.0));
    // play_voice adds: a second pass doubles.
    rig.voices.play_voice(p.main, 103, 12, l.data(), r.data());
    CHECK(l[0] == 6.0f);
    rig.voices.drop_voice(p.main);
    CHECK(rig.collected() == std::vector<Sample*>{s});
    delete s;
}

TEST_CASE("a stop fades the main voice out as the tail; the sample is released when the fade ends") {
    VoiceRig rig(4);
    Sample* s = counting_sample(8);
    for (auto& v : s->left) v = 1.0f;
    SlotPlayback p;
    rig.voices.start_main(p, s, 0);
    std::vector<float> l(8, 0.0f), r(8, 0.0f);
    rig.voices.play_voice(p.main, 0, 8, l.data(), r.data());
    CHECK(l[0] == doctest::Approx(0.25f));  // the declick ramp in: 1/4, 2/4, 3/4, 1
    CHECK(l[3] == doctest::Approx(1.0f));
    CHECK(l[7] == 1.0f);
    rig.voices.main_to_tail(p);
    CHECK(!p.main.active());
    CHECK(p.tail.active());
    CHECK(p.tail.releasing);
    std::fill(l.begin(), l.end(), 0.0f);
    rig.voices.play_voice(p.tail, 8, 8, l.data(), r.data());
    CHECK(l[0] == doctest::Approx(0.75f));
    CHECK(l[3] == 0.0f);
    CHECK(l[7] == 0.0f);
    CHECK(!p.tail.active());  // dropped at the end of its fade
    CHECK(rig.collected() == std::vector<Sample*>{s});
    delete s;
}

TEST_CASE("without a declick ramp a stop cuts at once and a restart cuts the older tail") {
    VoiceRig rig(0);
    Sample* a = counting_sample(8);
    SlotPlayback p;
    rig.voices.start_main(p, a, 0);
    rig.voices.start_main(p, a, 0);  // a second reference to the same sample (as a retrigger would)
    CHECK(a->rt_refs == 2);
    rig.voices.main_to_tail(p);
    CHECK(!p.tail.active());
    CHECK(a->rt_refs == 1);
    CHECK(rig.collected().empty());
    SampleRefs::retain(a);
    rig.refs.release(a);
    rig.refs.release(a);
    CHECK(rig.collected() == std::vector<Sample*>{a});
    delete a;
}

TEST_CASE("hermite_at reads across the loop point as if the loop went on") {
    constexpr int64_t n = 256;
    std::vector<float> sine(n), cosine(n);
    for (int64_t i = 0; i < n; ++i) {
        sine[i] = static_cast<float>(std::sin(2.0 * std::numbers::pi * 4.0 * static_cast<double>(i) / n));
        cosine[i] = static_cast<float>(std::cos(2.0 * std::numbers::pi * 4.0 * static_cast<double>(i) / n));
    }
    const float* in[2] = {sine.data(), cosine.data()};
    for (const double pos : {0.0, 0.5, 17.0, 254.5, 255.0, 255.25, 255.5, 255.75}) {
        float l = 0, r = 0;
        hermite_at(in, n, pos, &l, &r);
        const double w = 2.0 * std::numbers::pi * 4.0 * pos / n;
        CHECK(l == doctest::Approx(std::sin(w)).epsilon(1e-4).scale(1.0));
        CHECK(r == doctest::Approx(std::cos(w)).epsilon(1e-4).scale(1.0));
    }
    // Whole positions are the samples themselves.
    float l = 0, r = 0;
    hermite_at(in, n, 255.0, &l, &r);
    CHECK(l == sine[255]);
    CHECK(hermite(1, 2, 3, 4, 0.5f) == doctest::Approx(2.5f));  // a line stays a line
}

TEST_CASE("grid-locked: exact when the cycle is the sample's length, varispeed on the grid when not") {
    VoiceRig rig;  // 120 BPM at 48 kHz: 24000 frames per beat
    Sample* beat = counting_sample(24000);
    SlotPlayback p;
    rig.voices.start_main(p, beat, 0);
    p.main.grid_locked = true;
    p.main.beats = 1.0;
    p.main.start_beat = 0.0;
    std::vector<float> l(4, 0.0f), r(4, 0.0f);
    rig.voices.play_voice(p.main, 24100, 4, l.data(), r.data());  // one cycle on, 100 frames in
    CHECK(l[0] == 100.0f);
    CHECK(l[3] == 103.0f);

    Sample* half = counting_sample(12000);  // half a beat of audio stretched over a beat: step 0.5
    SlotPlayback q;
    rig.voices.start_main(q, half, 0);
    q.main.grid_locked = true;
    q.main.beats = 1.0;
    q.main.start_beat = 0.0;
    std::fill(l.begin(), l.end(), 0.0f);
    rig.voices.play_voice(q.main, 100, 4, l.data(), r.data());
    CHECK(l[0] == doctest::Approx(50.0f));
    CHECK(l[1] == doctest::Approx(50.5f));  // Hermite reproduces a straight line
    CHECK(l[3] == doctest::Approx(51.5f));
    // A tempo change keeps the phase: the grid says where the loop is.
    rig.grid.set_tempo(12000, 60.0);  // half a beat in, half the tempo
    CHECK(rig.voices.voice_phase(q.main, 12000) == doctest::Approx(0.5));
    CHECK(rig.voices.voice_phase(q.main, 24000) == doctest::Approx(0.75));

    // peek_voice reads the same without the envelope and without side effects.
    q.main.env.jump(0.0f);
    q.main.env.set(1.0f, 100);
    std::vector<float> pl(4), pr(4);
    rig.voices.peek_voice(q.main, 12000, 4, pl.data(), pr.data());
    CHECK(pl[0] == doctest::Approx(6000.0f));
    CHECK(pl[1] == doctest::Approx(6000.25f));  // 1/4 source frame per output frame now
    CHECK(q.main.env.moving());
    CHECK(q.main.env.value == 0.0f);
    rig.voices.drop_voice(p.main);
    rig.voices.drop_voice(q.main);
    delete beat;
    delete half;
}
