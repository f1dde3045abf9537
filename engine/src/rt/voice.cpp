// Voices (voice.hpp). Audio thread only; everything here is RT safe.
#include "voice.hpp"

namespace looprig::rt {

double Voices::voice_phase(const Voice& v, uint64_t f) const {
    double phase;
    if (v.grid_locked) phase = (grid_.beat_at(f) - v.start_beat) / v.beats;
    else phase = static_cast<double>((f - v.origin) % v.sample->frames) / static_cast<double>(v.sample->frames);
    return phase - std::floor(phase);
}

void Voices::drop_voice(Voice& v) {
    refs_.release(v.sample);
    v.sample = nullptr;
    v.releasing = false;
}

void Voices::main_to_tail(SlotPlayback& p) {
    if (!p.main.active()) return;
    if (p.tail.active()) drop_voice(p.tail);
    p.tail = p.main;
    p.main.sample = nullptr;
    p.tail.releasing = true;
    p.tail.env.set(0.0f, declick_frames_);
    if (declick_frames_ == 0) drop_voice(p.tail);
}

void Voices::start_main(SlotPlayback& p, Sample* sample, uint64_t origin) {
    p.main.sample = sample;
    SampleRefs::retain(sample);
    p.main.origin = origin;
    p.main.grid_locked = false;
    p.main.releasing = false;
    p.main.env.jump(declick_frames_ == 0 ? 1.0f : 0.0f);
    p.main.env.set(1.0f, declick_frames_);
}

void Voices::play_voice(Voice& v, uint64_t from, uint32_t n, float* left, float* right) {
    const Sample& smp = *v.sample;
    const uint64_t length = smp.frames;
    const float* in_l = smp.channel(0);
    const float* in_r = smp.channel(1);
    uint64_t pos = 0;
    if (v.grid_locked) {
        // Phase from the master grid, at every sub-block: no drift, tempo changes keep the phase.
        const double cycle = v.beats * grid_.frames_per_beat();
        const double phase = voice_phase(v, from);
        if (std::fabs(cycle - static_cast<double>(length)) > 1e-6) {
            play_varispeed(v, phase * static_cast<double>(length), static_cast<double>(length) / cycle, n, left,
                           right);
            if (v.releasing && !v.env.moving()) drop_voice(v);
            return;
        }
        pos = static_cast<uint64_t>(std::llround(phase * static_cast<double>(length))) % length;
    } else {
        pos = (from - v.origin) % length;
    }
    if (!v.env.moving() && v.env.value == 1.0f) {
        for (uint32_t i = 0; i < n; ++i) {
            left[i] += in_l[pos];
            right[i] += in_r[pos];
            if (++pos == length) pos = 0;
        }
    } else {
        for (uint32_t i = 0; i < n; ++i) {
            const float e = v.env.next();
            left[i] += in_l[pos] * e;
            right[i] += in_r[pos] * e;
            if (++pos == length) pos = 0;
        }
    }
    if (v.releasing && !v.env.moving()) drop_voice(v);
}

void Voices::play_varispeed(Voice& v, double pos, double step, uint32_t n, float* left, float* right) {
    const Sample& smp = *v.sample;
    const auto length = static_cast<int64_t>(smp.frames);
    const float* in[2] = {smp.channel(0), smp.channel(1)};
    const double len = static_cast<double>(length);
    for (uint32_t i = 0; i < n; ++i) {
        float l = 0.0f, r = 0.0f;
        hermite_at(in, length, pos, &l, &r);
        const float e = v.env.next();
        left[i] += e * l;
        right[i] += e * r;
        pos += step;
        if (pos >= len) pos -= len;
    }
}

void Voices::peek_voice(const Voice& v, uint64_t from, uint32_t n, float* left, float* right) const {
    const Sample& smp = *v.sample;
    const uint64_t length = smp.frames;
    const float* in[2] = {smp.channel(0), smp.channel(1)};
    double pos = 0.0, step = 1.0;
    if (v.grid_locked) {
        const double cycle = v.beats * grid_.frames_per_beat();
        pos = voice_phase(v, from) * static_cast<double>(length);
        step = static_cast<double>(length) / cycle;
    } else {
        pos = static_cast<double>((from - v.origin) % length);
    }
    const auto len = static_cast<int64_t>(length);
    for (uint32_t i = 0; i < n; ++i) {
        hermite_at(in, len, pos, &left[i], &right[i]);
        pos += step;
        if (pos >= static_cast<double>(length)) pos -= static_cast<double>(length);
    }
}

}  // namespace looprig::rt
