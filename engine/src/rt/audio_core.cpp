// The order of one period, and the construction and destruction of the units
// that do each job (docs/ARCHITECTURE.md):
//   client_protocol  command and event rings, places     actions        what commands do, the schedule
//   loads            loaded samples, the loader          steady_render  renders from the render threads
//   voice            voices, sample references           interim_shifter pitch while a render is pending
//   slot_mixer       a slot's strip, sends and fader     bus_mixer      groups, effects, returns, master
//   level_meters     meters and the published meter area   session_exchange  session saves/opens
//   worker_queues.hpp: the hand-off to the workers
// process() runs on the audio thread and is RT safe: no allocation, locks,
// blocking, I/O or logging (the units' functions it calls say so too).
#include "audio_core.hpp"

#include "actions.hpp"
#include "bus_mixer.hpp"
#include "client_protocol.hpp"
#include "dsp.hpp"
#include "interim_shifter.hpp"
#include "level_meters.hpp"
#include "loads.hpp"
#include "midi_control.hpp"
#include "musical_grid.hpp"
#include "ring.hpp"
#include "session_exchange.hpp"
#include "segment.hpp"
#include "slot.hpp"
#include "slot_mixer.hpp"
#include "steady_render.hpp"
#include "voice.hpp"
#include "looprig/shm_client.h"

#include <algorithm>
#include <ctime>
#include <vector>

namespace looprig {

using shm::store_release64;

namespace {

uint64_t monotonic_nsecs() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);  // vDSO: no system call, RT safe
    return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

}  // namespace

struct AudioCore::Impl {
    lr_header* header;
    std::vector<rt::Slot> slots;
    rt::MusicalGrid grid;
    bool grid_started = false;
    std::vector<float> scratch[2];  // one slot's sub-block
    rt::SampleRefs refs;
    rt::Voices voices;
    rt::SteadyRenders renders;
    rt::InterimShifter shifter;
    rt::SlotMixer slot_mixer;
    rt::BusMixer bus_mixer;
    rt::LevelMeters meters;
    rt::ClientProtocol protocol;
    rt::Loads loads;
    rt::SessionExchange sessions;
    rt::MidiControl midi;
    rt::Actions actions;
    uint32_t last_nframes = 0;
    uint64_t period = 0;
    uint64_t frame0 = 0;  // first frame of the current period
    float last_load = 0.0f;
    float max_load = 0.0f;

    Impl(shm::Segment& seg, const CoreConfig& cfg, AudioCore& core)
        : header(seg.header()),
          slots(cfg.slot_count),
          refs(core.queues_.garbage),
          voices(grid, refs, cfg.declick_frames),
          renders(grid, voices, refs, core.queues_),
          shifter(cfg.slot_count),
          slot_mixer(cfg.sample_rate, cfg.smooth_frames, cfg.declick_frames, cfg.pan_law_db),
          bus_mixer(grid, cfg),
          meters(seg, core.queues_, cfg.sample_rate),
          protocol(seg),
          loads(seg, core.queues_, protocol, refs, voices, renders, slot_mixer, core.sample_rate_),
          sessions(seg, core.queues_, protocol, loads, refs, slots, grid),
          midi(slots, grid, protocol, seg.mix_meter(), cfg.sample_rate),
          actions(seg,
                  rt::ActionTargets{slots, grid, protocol, voices, renders, slot_mixer, bus_mixer, meters, loads,
                                    sessions, midi, core.queues_.rig_changes},
                  cfg.schedule_capacity, core.sample_rate_, core.transport_mode_) {
        scratch[0].assign(cfg.max_frames, 0.0f);
        scratch[1].assign(cfg.max_frames, 0.0f);
        shifter.attach(slots);
        for (auto& s : slots) slot_mixer.prepare(s.strip);
        header->declick_frames = cfg.declick_frames;
        header->smooth_frames = cfg.smooth_frames;
        // Every slot param at its default, at once (BusMixer set the group and global ones).
        uint32_t count = 0;
        const lr_param_desc* table = lr_param_table(&count);
        for (uint32_t k = 0; k < count; ++k)
            if (table[k].target == LR_TARGET_SLOT)
                for (uint32_t i = 0; i < cfg.slot_count; ++i)
                    actions.set_param(table[k].id, static_cast<int32_t>(i), table[k].def, true);
    }

    /// Play frames [from, from + n) at offset `offset` into the outputs:
    /// every slot's voices, interim shifter, strip, sends and fader into its
    /// bus, then the buses, effects and master gain. RT safe.
    void play_slots(uint64_t from, uint32_t offset, uint32_t n, const CoreOutputs& out) {
        if (n == 0) return;
        const rt::BusInputs to = bus_mixer.inputs(offset, out);
        const bool paused = actions.paused();
        bool any = false;  // a slot wrote into the buses
        for (uint32_t si = 0; si < slots.size(); ++si) {
            rt::Slot& s = slots[si];
            rt::SlotPlayback& p = s.play;
            if (!p.main.active() && !p.tail.active()) {
                rt::SlotMixer::skip(s.strip, n);
                continue;
            }
            any = true;
            float* l = scratch[0].data();
            float* r = scratch[1].data();
            std::fill_n(l, n, 0.0f);
            std::fill_n(r, n, 0.0f);
            // A stopped transport (follow mode) silences the followers; they resume on its position.
            if (p.main.active() && !(paused && p.main.grid_locked)) voices.play_voice(p.main, from, n, l, r);
            if (p.tail.active() && !(paused && p.tail.grid_locked)) voices.play_voice(p.tail, from, n, l, r);
            shifter.run(s, voices, from, l, r, n);
            rt::SlotMixer::mix(s.strip, l, r, n, to, out.slot_left ? out.slot_left[si] + offset : nullptr,
                               out.slot_right ? out.slot_right[si] + offset : nullptr, s.meter);
        }
        if (any) bus_mixer.mark_written(offset + n);
        bus_mixer.mix(offset, n, out, any, meters.buses);
    }
};

AudioCore::AudioCore(shm::Segment& segment, const CoreConfig& config)
    : config_(config),
      queues_(config.slot_count, config.sample_rate),
      sample_rate_(config.sample_rate),
      impl_(std::make_unique<Impl>(segment, config, *this)) {}

AudioCore::~AudioCore() {
    // Samples still referenced by slots and voices, and any left in the queues.
    std::vector<Sample*> held;
    for (auto& s : impl_->slots)
        for (Sample* p : {s.loaded.sample, s.play.main.sample, s.play.tail.sample, s.steady.render})
            if (p && std::find(held.begin(), held.end(), p) == held.end()) held.push_back(p);
    queues_.take_samples(held);
    for (Sample* p : held) delete p;
}

rt::MidiControl& AudioCore::midi() { return impl_->midi; }
SpscQueue<rt::ControllerRefusal>& AudioCore::controller_refusals() { return impl_->protocol.controller_refusals(); }

void AudioCore::timebase(double* bpm, double* beats_per_bar, double* beat) const {
    *bpm = impl_->grid.bpm();
    *beats_per_bar = impl_->grid.beats_per_bar();
    *beat = impl_->grid.beat_at(impl_->frame0 + impl_->last_nframes);  // JACK asks for the next cycle
}

void AudioCore::process(uint32_t nframes, uint64_t frame_time, const CoreOutputs& out) {
    Impl& m = *impl_;
    const uint64_t t0 = monotonic_nsecs();
    dsp::flush_denormals();  // filter and reverb tails must never go denormal (slow) on this thread
    const uint32_t rate = sample_rate_.load(std::memory_order_relaxed);
    m.frame0 = frame_time;
    m.last_nframes = nframes;
    ++m.period;
    // Published first: a client that reads them after an answer of this period
    // (even the engine's very first) sees this period's frame time and a
    // heartbeat (refreshed again at the end of the period).
    store_release64(m.header->frame_time, frame_time);
    store_release64(m.header->heartbeat_usecs, t0 / 1000);
    std::fill_n(out.master[0], nframes, 0.0f);
    std::fill_n(out.master[1], nframes, 0.0f);
    if (out.slot_left)
        for (uint32_t i = 0; i < config_.slot_count; ++i) {
            std::fill_n(out.slot_left[i], nframes, 0.0f);
            std::fill_n(out.slot_right[i], nframes, 0.0f);
        }
    if (nframes > config_.max_frames) {  // cannot happen with JACK2 (max 8192); stay silent
        m.last_load = 0;
        return;
    }
    m.meters.begin_period(m.slots);
    m.bus_mixer.begin_period();
    if (!m.grid_started) {
        m.grid.reset(frame_time, rate);
        m.grid_started = true;
    }

    // 1. What the workers finished, then the clients' commands.
    m.actions.begin_period(frame_time);
    m.midi.begin_period(frame_time, nframes);
    m.loads.install_loads(m.slots, frame_time);
    m.renders.install_renders(m.slots, frame_time);
    m.protocol.read_commands(frame_time, m.actions);
    m.sessions.serve(m.actions, frame_time);
    const uint32_t transport = transport_mode_.load(std::memory_order_acquire);
    m.actions.take_transport(transport, transport_);
    m.midi.handle_input(out.midi_in, out.midi_in_count, m.actions);  // they act a period later

    // 2. Play and mix in sub-blocks split at the scheduled actions' frames.
    const uint64_t end = frame_time + nframes;
    uint64_t cursor = frame_time;
    rt::Schedule& schedule = m.actions.schedule();
    while (!schedule.empty() && schedule.earliest().frame < end) {
        const rt::Action a = schedule.pop_earliest();
        const uint64_t at = std::max(a.frame, cursor);
        m.play_slots(cursor, static_cast<uint32_t>(cursor - frame_time), static_cast<uint32_t>(at - cursor), out);
        if (at > cursor) m.midi.clock(cursor, at, !m.actions.paused());
        cursor = at;
        m.actions.apply(a);
    }
    m.play_slots(cursor, static_cast<uint32_t>(cursor - frame_time), static_cast<uint32_t>(end - cursor), out);
    m.midi.clock(cursor, end, !m.actions.paused());
    m.midi.feedback();

    // 3. Meters, heartbeat, then this period's answers; wake the workers.
    rt::PeriodFacts facts;
    facts.period = m.period;
    facts.frame0 = frame_time;
    facts.frame_end = end;
    facts.nframes = nframes;
    facts.sample_rate = rate;
    facts.load = m.last_load;
    facts.max_load = m.max_load;
    facts.xruns = xruns_.load(std::memory_order_relaxed);
    facts.transport_mode = transport_mode_.load(std::memory_order_relaxed);
    facts.transport_rolling = m.actions.transport_rolling();
    facts.any_solo = rt::SlotMixer::any_solo(m.slots);
    m.meters.publish(facts, out, m.slots, m.grid, m.bus_mixer, m.renders, m.voices);

    lr_header* h = m.header;
    const uint64_t t1 = monotonic_nsecs();
    store_release64(h->heartbeat_usecs, t1 / 1000);
    store_release64(h->heartbeat, m.period);
    m.protocol.publish_events();
    const double period_ns = 1e9 * nframes / rate;
    m.last_load = static_cast<float>(static_cast<double>(t1 - t0) / period_ns);
    m.max_load = std::max(m.max_load, m.last_load);
    queues_.wake_workers(transport_mode_.load(std::memory_order_relaxed));
}

}  // namespace looprig
