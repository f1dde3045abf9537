// The stretch scenario's plan, material, memory and meter readings, and the
// setup and checks its --direct and --jack runners share (stretch_scenario.hpp).
#include "stretch_scenario.hpp"

#include "core_rig.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <malloc.h>
#include <numbers>
#include <numeric>
#include <thread>

namespace looprig::bench {

StretchPlan stretch_plan(uint32_t n, uint32_t rate, double master_bpm) {
    StretchPlan p;
    uint32_t mult = 1;
    if (n > 1) {
        mult = static_cast<uint32_t>(0.4 * n) + 1;
        while (std::gcd(mult, n) != 1) ++mult;
    }
    for (uint32_t i = 0; i < n; ++i) {
        const double t = n > 1 ? static_cast<double>(i) / (n - 1) : 0.5;
        const double u = n > 1 ? static_cast<double>((static_cast<uint64_t>(i) * mult) % n) / (n - 1) : 0.5;
        const double bpm = master_bpm * 0.8 * std::pow(1.25 / 0.8, t);
        const double want_seconds = 2.0 + 2.0 * (i + 0.5) / n;
        const double lo = std::max(1.0, std::ceil(2.0 * bpm / 60.0 - 1e-9));
        const double hi = std::max(lo, std::floor(4.0 * bpm / 60.0 + 1e-9));
        const double beats = std::clamp(std::round(want_seconds * bpm / 60.0), lo, hi);
        p.bpm.push_back(bpm);
        p.beats.push_back(static_cast<uint32_t>(beats));
        p.frames.push_back(static_cast<uint64_t>(std::llround(beats * 60.0 * rate / bpm)));
        p.pitch.push_back(std::round((-5.0 + 12.0 * u) * 100.0) / 100.0);  // whole cents
    }
    return p;
}

std::unique_ptr<Sample> synth_beat_loop(uint64_t frames, uint32_t beats, uint32_t rate, uint32_t index) {
    std::vector<float> left(frames, 0.0f), right(frames, 0.0f);
    const double seconds = static_cast<double>(frames) / rate;
    const double cycles[4] = {std::round(seconds * (110.0 + 17.0 * index)), std::round(seconds * (330.0 + 29.0 * index)),
                              std::round(seconds * (165.0 + 23.0 * index)), std::round(seconds * (495.0 + 31.0 * index))};
    for (uint64_t i = 0; i < frames; ++i) {
        const double x = 2.0 * std::numbers::pi * static_cast<double>(i) / static_cast<double>(frames);
        left[i] = static_cast<float>(0.03 * std::sin(cycles[0] * x) + 0.015 * std::sin(cycles[1] * x));
        right[i] = static_cast<float>(0.03 * std::sin(cycles[2] * x) + 0.015 * std::sin(cycles[3] * x));
    }
    uint32_t rng = 0x9e3779b9u * (index + 1);
    auto noise = [&rng] {  // xorshift32, -1..1
        rng ^= rng << 13;
        rng ^= rng >> 17;
        rng ^= rng << 5;
        return static_cast<double>(rng) / 2147483648.0 - 1.0;
    };
    const double beat_frames = static_cast<double>(frames) / beats;
    for (uint32_t b = 0; b < beats; ++b) {
        const auto start = static_cast<uint64_t>(std::llround(b * beat_frames));
        if (b % 2 == 0) {
            double phase = 0.0;
            for (uint64_t j = 0; j < static_cast<uint64_t>(0.15 * rate) && start + j < frames; ++j) {
                const double tt = static_cast<double>(j) / rate;
                phase += 2.0 * std::numbers::pi * (50.0 + 70.0 * std::exp(-tt / 0.03)) / rate;
                const auto v = static_cast<float>(0.08 * std::exp(-tt / 0.05) * std::sin(phase));
                left[start + j] += v;
                right[start + j] += v;
            }
        }
        const auto off = static_cast<uint64_t>(std::llround((b + 0.5) * beat_frames));
        for (uint64_t j = 0; j < static_cast<uint64_t>(0.04 * rate) && off + j < frames; ++j) {
            const double env = 0.02 * std::exp(-static_cast<double>(j) / (0.01 * rate));
            left[off + j] += static_cast<float>(env * noise());
            right[off + j] += static_cast<float>(env * noise());
        }
    }
    const std::string name = fmt::format("stretch-{}-{}b-{}.synth", index, beats, frames);
    return std::unique_ptr<Sample>(test::make_sample(std::move(left), std::move(right), rate, name.c_str()));
}

Mem read_mem() {
    Mem m;
    std::FILE* f = std::fopen("/proc/self/status", "r");
    if (!f) return m;
    char line[256];
    while (std::fgets(line, sizeof line, f)) {
        unsigned long long kb = 0;
        if (std::sscanf(line, "VmRSS: %llu kB", &kb) == 1) m.rss = static_cast<double>(kb) / 1024.0;
        else if (std::sscanf(line, "VmHWM: %llu kB", &kb) == 1) m.hwm = static_cast<double>(kb) / 1024.0;
    }
    std::fclose(f);
    return m;
}

bool reset_hwm() {
    malloc_trim(0);
    std::FILE* f = std::fopen("/proc/self/clear_refs", "w");
    if (!f) return false;
    const bool ok = std::fputs("5", f) >= 0;
    return std::fclose(f) == 0 && ok;
}

RenderView read_render_view(shm::Segment& seg, uint32_t loops) {
    lr_meter_header* h = seg.meter_header();
    const lr_slot_meter* m = seg.slot_meters();
    for (;;) {
        const uint32_t s1 = std::atomic_ref<uint32_t>(h->seq).load(std::memory_order_acquire);
        if (s1 & 1u) {
            std::this_thread::yield();
            continue;
        }
        RenderView v;
        v.frame_time = h->frame_time;
        v.pending = h->renders_pending;
        v.bpm = h->tempo_bpm;
        for (uint32_t i = 0; i < loops; ++i) {
            if (m[i].render == LR_RENDER_READY) ++v.ready;
            if (m[i].state == LR_SLOT_PLAYING) ++v.playing;
        }
        std::atomic_thread_fence(std::memory_order_acquire);
        if (std::atomic_ref<uint32_t>(h->seq).load(std::memory_order_relaxed) == s1) return v;
    }
}

std::unique_ptr<Rig> stretch_rig(const Options& o, uint32_t rate, uint32_t max_frames, uint32_t loops,
                                 const StretchPlan& plan, StretchRow& row) {
    std::vector<std::unique_ptr<Sample>> samples;
    for (uint32_t i = 0; i < loops; ++i) samples.push_back(synth_beat_loop(plan.frames[i], plan.beats[i], rate, i));
    auto rig = std::make_unique<Rig>(slots_for(o, loops), rate, max_frames, o.declick_ms, loops, std::move(samples),
                                     false);
    send_tempo(*rig, o.tempo_from);
    row.beats_min = loops ? *std::min_element(plan.beats.begin(), plan.beats.end()) : 0;
    row.beats_max = loops ? *std::max_element(plan.beats.begin(), plan.beats.end()) : 0;
    row.bpm_min = loops ? plan.bpm.front() : 0;
    row.bpm_max = loops ? plan.bpm.back() : 0;
    row.seconds_min = row.seconds_max = 0;
    for (uint32_t i = 0; i < loops; ++i) {
        const double sec = static_cast<double>(plan.frames[i]) / rate;
        row.seconds_min = i ? std::min(row.seconds_min, sec) : sec;
        row.seconds_max = i ? std::max(row.seconds_max, sec) : sec;
    }
    return rig;
}

void send_stretch_commands(Rig& rig, const StretchPlan& plan, uint32_t loops) {
    using test::make_command;
    for (uint32_t i = 0; i < loops; ++i) {
        const auto slot = static_cast<int32_t>(i);
        rig.send(make_command(LR_CMD_MODE, slot, LR_MODE_STRETCH));
        rig.send(make_command(LR_CMD_LOOP_TEMPO, slot, plan.bpm[i]));
        rig.send(make_command(LR_CMD_PITCH, slot, plan.pitch[i]));
        rig.send(make_command(LR_CMD_PLAY, slot));
    }
}

void send_tempo(Rig& rig, double bpm) { rig.send(test::make_command(LR_CMD_TEMPO, 0, bpm)); }

bool renders_in(Rig& rig, const RenderView& v, uint32_t loops) {
    return rig.all_answered() && v.frame_time >= rig.last_answer_frame() && v.pending == 0 && v.playing == loops &&
           v.ready == loops;
}

uint32_t count_beats_mismatch(const Rig& rig, const StretchPlan& plan, uint32_t loops) {
    uint32_t bad = 0;
    for (uint32_t i = 0; i < loops; ++i)
        if (rig.acked_beats(i) != static_cast<double>(plan.beats[i])) ++bad;
    return bad;
}

void note_stderr(const std::string& s) {
    fmt::print(stderr, "lr-bench: {}\n", s);
    std::fflush(stderr);
}

}  // namespace looprig::bench
