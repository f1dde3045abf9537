// lr-bench --direct (direct_mode.hpp).
#include "direct_mode.hpp"

#include "fx_scenario.hpp"
#include "midi_map.hpp"
#include "rt/midi_control.hpp"
#include "rig.hpp"
#include "timing.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <ctime>
#include <stdexcept>
#include <vector>

namespace looprig::bench {

Row run_direct_row(const Options& o, uint32_t frames, uint32_t loops) {
    Rig rig(slots_for(o, loops), o.rate, frames, o.declick_ms, loops);
    if (o.fx) queue_fx(rig, loops);
    const uint32_t slots = rig.core().slot_count();
    std::vector<float> master[2] = {std::vector<float>(frames), std::vector<float>(frames)};
    std::vector<std::vector<float>> slot_buf[2];
    std::vector<float*> slot_ptr[2];
    CoreOutputs out;
    out.master[0] = master[0].data();
    out.master[1] = master[1].data();
    if (o.slot_outs) {
        for (int c = 0; c < 2; ++c) {
            slot_buf[c].assign(slots, std::vector<float>(frames));
            for (auto& b : slot_buf[c]) slot_ptr[c].push_back(b.data());
        }
        out.slot_left = slot_ptr[0].data();
        out.slot_right = slot_ptr[1].data();
    }
    std::vector<float> bus_outs;  // --fx: group, send and return outs, as looprigd writes them
    if (o.fx) {
        bus_outs.assign(static_cast<std::size_t>(2 * (LR_GROUPS + 2 * LR_SENDS)) * frames, 0.0f);
        float* next = bus_outs.data();
        for (uint32_t c = 0; c < 2; ++c) {
            for (auto& g : out.group) (g[c] = next, next += frames);
            for (auto& b : out.send) (b[c] = next, next += frames);
            for (auto& b : out.fx_return) (b[c] = next, next += frames);
        }
    }

    // --midi-rate: a map binding CC k (channel 1) to loop k's gain, and the events.
    std::vector<rt::MidiInEvent> midi(1024);
    uint64_t midi_sent = 0;
    if (o.midi_rate > 0) {
        MidiMap map;
        for (uint32_t k = 0; k < loops && k < 120; ++k)
            map.entries.push_back({true, 0, static_cast<int>(k), "gain " + std::to_string(k) + " -60 0"});
        if (!rig.core().midi().offer(map.compile(slots).release())) throw std::runtime_error("MIDI map not taken");
    }
    auto feed_midi = [&](uint64_t t, uint32_t n) {
        if (o.midi_rate <= 0) return;
        const double every = o.rate / o.midi_rate;  // frames between events
        uint32_t count = 0;
        while (count < midi.size()) {
            const auto at = static_cast<uint64_t>(std::llround(static_cast<double>(midi_sent) * every));
            if (at >= t + n) break;
            rt::MidiInEvent& e = midi[count++];
            e.offset = at > t ? static_cast<uint32_t>(at - t) : 0;
            e.size = 3;
            const auto k = static_cast<uint8_t>(midi_sent % std::max<uint32_t>(1, std::min<uint32_t>(loops, 120)));
            if (midi_sent % 4 == 3) {
                e.data[0] = 0x90; e.data[1] = 127; e.data[2] = 64;  // unbound note
            } else {
                e.data[0] = 0xB0; e.data[1] = k; e.data[2] = static_cast<uint8_t>(64 + midi_sent % 64);
            }
            ++midi_sent;
        }
        out.midi_in = midi.data();
        out.midi_in_count = count;
    };

    uint64_t frame_time = 0;
    // Setup: loads, plays (and --fx params) travel through the core like a client's would.
    for (uint32_t k = 0; !(rig.ready() && rig.all_answered()) && !g_stop; ++k) {
        rig.pump();
        if (rig.failed()) throw std::runtime_error("setup: the engine answered " + rig.first_error());
        if (k > 100000) throw std::runtime_error("setup: the loops did not start within 100000 periods");
        rig.core().process(frames, frame_time, out);
        frame_time += frames;
    }
    for (uint32_t k = 0; k < o.warmup && !g_stop; ++k) {
        rig.core().process(frames, frame_time, out);
        frame_time += frames;
    }

    if (o.midi_rate > 0) midi_sent = static_cast<uint64_t>(std::ceil(static_cast<double>(frame_time) * o.midi_rate / o.rate));
    const uint64_t periods =
        o.seconds > 0 ? std::max<uint64_t>(1, static_cast<uint64_t>(o.seconds * o.rate / frames)) : o.periods;
    std::vector<uint64_t> ns(periods, 0);  // preallocated and touched before timing
    const uint64_t period_ns = static_cast<uint64_t>(1e9 * frames / o.rate);
    uint64_t deadline = now_ns();
    float peak = 0.0f;
    uint64_t done = 0;
    for (uint64_t k = 0; k < periods && !g_stop; ++k, ++done) {
        feed_midi(frame_time, frames);
        const uint64_t t0 = now_ns();
        rig.core().process(frames, frame_time, out);
        const uint64_t t1 = now_ns();
        ns[k] = t1 - t0;
        frame_time += frames;
        if (k + 1 == periods || g_stop)
            for (uint32_t i = 0; i < frames; ++i) peak = std::max({peak, std::fabs(master[0][i]), std::fabs(master[1][i])});
        if (o.paced) {
            deadline += period_ns;
            if (t1 > deadline + period_ns) deadline = t1;  // fell behind: do not burst to catch up
            timespec ts{static_cast<time_t>(deadline / 1000000000ull), static_cast<long>(deadline % 1000000000ull)};
            while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
            }
        }
    }
    rig.pump();

    Row row;
    row.frames = frames;
    row.loops = loops;
    row.rate = o.rate;
    row.stats = summarize(ns, done, 1e9 * frames / o.rate);
    row.master_peak = peak;
    row.playing = rig.playing_slots();
    return row;
}

}  // namespace looprig::bench
