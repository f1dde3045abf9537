// Steady-state render bookkeeping (steady_render.hpp). Audio thread only;
// everything here is RT safe.
#include "steady_render.hpp"

#include "musical_grid.hpp"
#include "slot.hpp"

#include <algorithm>
#include <cmath>

namespace looprig::rt {

double SteadyRenders::pitch_scale(const LoopTiming& t) { return std::pow(2.0, t.pitch / 12.0); }

Sample* SteadyRenders::play_buffer(const Slot& s) {
    return (s.steady.needed && s.steady.render) ? s.steady.render : s.loaded.sample;
}

bool SteadyRenders::set_timing(LoopTiming& t, uint32_t id, double v, const Sample* loaded) const {
    switch (id) {
        case LR_P_PITCH: t.pitch = v; return true;
        case LR_P_MODE: t.mode = static_cast<uint32_t>(v); return true;
        case LR_P_LOOP_BPM:
        case LR_P_LOOP_BEATS: {
            const bool by_bpm = id == LR_P_LOOP_BPM;
            (by_bpm ? t.declared_bpm : t.declared_beats) = v;
            if (v > 0.0) (by_bpm ? t.declared_beats : t.declared_bpm) = 0.0;
            update_loop_beats(t, loaded);
            return true;
        }
        default: return false;
    }
}

void SteadyRenders::update_loop_beats(LoopTiming& t, const Sample* loaded) const {
    if (t.declared_beats > 0.0) {
        t.loop_beats = t.declared_beats;
    } else if (t.declared_bpm > 0.0 && loaded) {
        const double beats = static_cast<double>(loaded->frames) * t.declared_bpm / (60.0 * grid_.sample_rate());
        const double whole = std::nearbyint(beats);
        // A loop cut to the beat is declared by its tempo: snap to whole beats.
        t.loop_beats = (whole >= 1.0 && std::fabs(beats - whole) < 0.02 * whole) ? whole : beats;
    } else {
        t.loop_beats = 0.0;
    }
}

double SteadyRenders::cycle_frames(const Slot& s) const {
    return s.timing.loop_beats > 0.0 ? s.timing.loop_beats * grid_.frames_per_beat()
                                     : static_cast<double>(s.loaded.sample->frames);
}

uint64_t SteadyRenders::target_frames(const Slot& s) const {
    return std::max<uint64_t>(1, static_cast<uint64_t>(std::llround(cycle_frames(s))));
}

void SteadyRenders::rebind_main(Slot& s, Sample* buffer, uint64_t f) {
    Voice& main = s.play.main;
    if (!main.active() || main.releasing || !buffer) return;
    const double phase = voices_.voice_phase(main, f);
    const double loop_beats = s.timing.loop_beats;
    const bool follow = loop_beats > 0.0;
    if (main.sample == buffer && main.grid_locked == follow && (!follow || main.beats == loop_beats)) return;
    voices_.main_to_tail(s.play);
    voices_.start_main(s.play, buffer, f);
    if (follow) {
        main.grid_locked = true;
        main.beats = loop_beats;
        main.start_beat = grid_.beat_at(f) - phase * loop_beats;
    } else {
        const auto idx =
            static_cast<uint64_t>(std::llround(phase * static_cast<double>(buffer->frames))) % buffer->frames;
        main.origin = f - idx;
    }
}

void SteadyRenders::refresh_render(Slot& s, int32_t index, uint64_t f) {
    SteadyRender& r = s.steady;
    if (!s.loaded.sample) {
        refs_.release(r.render);
        r.render = nullptr;
        r.needed = r.ready = r.wanted = false;
        return;
    }
    const uint64_t target = target_frames(s);
    const double scale = pitch_scale(s.timing);
    r.needed = s.timing.mode == LR_MODE_STRETCH && (target != s.loaded.sample->frames || s.timing.pitch != 0.0);
    if (r.render && r.load != s.loaded.info.load_count) {  // made from audio no longer loaded
        rebind_main(s, s.loaded.sample, f);
        refs_.release(r.render);
        r.render = nullptr;
    }
    if (!r.needed) {
        rebind_main(s, s.loaded.sample, f);
        refs_.release(r.render);
        r.render = nullptr;
        r.ready = r.wanted = false;
        queues_.set_render_generation(index, ++r.generation);
    } else if (r.render && r.frames == target && r.pitch == scale) {
        r.ready = true;
        r.wanted = false;
    } else {
        r.ready = false;
        r.wanted = true;
        queues_.set_render_generation(index, ++r.generation);
        request_render(s, index);
    }
    rebind_main(s, play_buffer(s), f);
}

void SteadyRenders::refresh_followers(std::vector<Slot>& slots, uint64_t f) {
    for (uint32_t i = 0; i < slots.size(); ++i)
        if (slots[i].timing.loop_beats > 0.0) refresh_render(slots[i], static_cast<int32_t>(i), f);
}

void SteadyRenders::request_render(Slot& s, int32_t index) {
    RenderRequest req;
    req.slot = index;
    req.generation = s.steady.generation;
    req.source = s.loaded.sample;
    req.target_frames = target_frames(s);
    req.pitch_scale = pitch_scale(s.timing);
    SampleRefs::retain(s.loaded.sample);
    if (queues_.render_requests.push(req)) {
        s.steady.wanted = false;
    } else {
        refs_.release(s.loaded.sample);  // queue full: asked again next period
    }
}

void SteadyRenders::install_renders(std::vector<Slot>& slots, uint64_t frame0) {
    RenderAnswer a;
    while (queues_.render_answers.pop_into(&a)) {
        Slot& s = slots[static_cast<uint32_t>(a.slot)];
        SteadyRender& r = s.steady;
        const bool current = a.generation == r.generation && a.source == s.loaded.sample && r.needed;
        refs_.release(a.source);
        if (!a.render) {
            // The renderer refused (e.g. a ratio beyond 1/8..8): stay varispeed, say so in the meters.
            if (current) r.needed = false;
            continue;
        }
        if (!current) {
            refs_.discard(a.render);
            continue;
        }
        SampleRefs::retain(a.render);
        Sample* old = r.render;
        r.render = a.render;
        r.frames = a.target_frames;
        r.pitch = a.pitch_scale;
        r.load = s.loaded.info.load_count;
        r.ready = true;
        rebind_main(s, r.render, frame0);
        refs_.release(old);
    }
    for (uint32_t i = 0; i < slots.size(); ++i)
        if (slots[i].steady.wanted) request_render(slots[i], static_cast<int32_t>(i));
}

}  // namespace looprig::rt
