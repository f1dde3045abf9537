// Level meters and publishing (level_meters.hpp). Audio thread only, except
// the constructor; everything else is RT safe.
#include "level_meters.hpp"

#include "bus_mixer.hpp"
#include "musical_grid.hpp"
#include "segment.hpp"
#include "slot.hpp"
#include "steady_render.hpp"
#include "voice.hpp"

#include <algorithm>
#include <atomic>

namespace looprig::rt {

void BusMeters::begin_period() {
    master.begin_period();
    for (auto& g : group) g.begin_period();
    for (auto& g : send) g.begin_period();
    for (auto& g : fx_return) g.begin_period();
}

void BusMeters::reset_holds() {
    master.reset_hold();
    for (auto& m : group) m.reset_hold();
    for (auto& m : send) m.reset_hold();
    for (auto& m : fx_return) m.reset_hold();
}

void LoudnessFeed::feed(const float* left, const float* right, uint32_t nframes, double sample_rate) {
    LoudnessBlock& b = block_;
    for (uint32_t i = 0; i < nframes; ++i) {
        b.samples[2 * b.frames] = left[i];
        b.samples[2 * b.frames + 1] = right[i];
        if (++b.frames == kLoudnessBlockFrames) {
            const bool silent =
                std::all_of(b.samples, b.samples + 2 * kLoudnessBlockFrames, [](float v) { return v == 0.0f; });
            if (silent && static_cast<double>(quiet_frames_) >= kLoudnessQuietSeconds * sample_rate) {
                skipped_ += kLoudnessBlockFrames;
            } else {
                b.silence_before = skipped_;
                if (blocks_.push(b)) skipped_ = 0;
                else ++dropped_;  // meter thread behind: a gap, not a stall
            }
            quiet_frames_ = silent ? quiet_frames_ + kLoudnessBlockFrames : 0;
            b.frames = 0;
        }
    }
}

LevelMeters::LevelMeters(shm::Segment& segment, WorkerQueues& queues, uint32_t sample_rate)
    : meter_header_(segment.meter_header()),
      slot_meters_(segment.slot_meters()),
      slot_infos_(segment.slot_infos()),
      mix_meter_(segment.mix_meter()),
      slot_params_(segment.slot_params()),
      queues_(queues),
      loudness_(queues.loudness_blocks),
      hold_frames_(static_cast<uint64_t>(kPeakHoldSeconds * sample_rate)) {}

void LevelMeters::begin_period(std::vector<Slot>& slots) {
    for (auto& s : slots) s.meter.begin_period();
    buses.begin_period();
}

void LevelMeters::reset(std::vector<Slot>& slots) {
    buses.reset_holds();
    for (auto& s : slots) s.meter.reset_hold();
    queues_.loudness_reset.fetch_add(1, std::memory_order_release);
}

void LevelMeters::publish(const PeriodFacts& facts, const CoreOutputs& out, std::vector<Slot>& slots,
                          const MusicalGrid& grid, const BusMixer& bus_mixer, const SteadyRenders& renders,
                          const Voices& voices) {
    const uint32_t nframes = facts.nframes;
    const double coeff = rms_coeff(nframes, facts.sample_rate);
    for (uint32_t i = 0; i < nframes; ++i) buses.master.accumulate(out.master[0][i], out.master[1][i]);
    buses.master.finish(nframes, coeff, hold_frames_);
    for (auto& m : buses.group) m.finish(nframes, coeff, hold_frames_);
    for (auto& m : buses.send) m.finish(nframes, coeff, hold_frames_);
    for (auto& m : buses.fx_return) m.finish(nframes, coeff, hold_frames_);
    loudness_.feed(out.master[0], out.master[1], nframes, grid.sample_rate());

    lr_meter_header* h = meter_header_;
    const uint32_t seq = h->seq;
    std::atomic_ref<uint32_t>(h->seq).store(seq + 1, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_release);
    h->nframes = nframes;
    h->period = facts.period;
    h->frame_time = facts.frame0;
    for (int c = 0; c < 2; ++c) {
        h->master_peak[c] = buses.master.peak[c];
        h->master_rms[c] = buses.master.rms(c);
        h->master_peak_hold[c] = buses.master.hold[c].value;
    }
    h->lufs_momentary = queues_.lufs[0].load(std::memory_order_relaxed);
    h->lufs_short_term = queues_.lufs[1].load(std::memory_order_relaxed);
    h->lufs_integrated = queues_.lufs[2].load(std::memory_order_relaxed);
    h->loudness_periods = queues_.loudness_updates.load(std::memory_order_relaxed);
    lr_mix_meter& mix = *mix_meter_;
    for (uint32_t g = 0; g < LR_GROUPS; ++g) {
        buses.group[g].to(mix.groups[g]);
        std::copy_n(bus_mixer.group_params(g), LR_GROUP_PARAMS, mix.group_params[g]);
    }
    for (uint32_t k = 0; k < LR_SENDS; ++k) {
        buses.send[k].to(mix.sends[k]);
        buses.fx_return[k].to(mix.returns[k]);
    }
    std::copy_n(bus_mixer.global_params(), LR_GLOBAL_PARAMS, mix.global_params);
    mix.delay_frames = bus_mixer.delay_frames();
    h->callback_load = facts.load;
    h->callback_load_max = facts.max_load;
    h->xruns = facts.xruns;
    h->slot_count = static_cast<uint32_t>(slots.size());
    h->tempo_bpm = grid.bpm();
    h->beat = grid.beat_at(facts.frame0);
    h->beats_per_bar = grid.beats_per_bar();
    uint32_t pending = 0;
    for (uint32_t si = 0; si < slots.size(); ++si) {
        Slot& s = slots[si];
        const SlotPlayback& p = s.play;
        const SlotStrip& strip = s.strip;
        s.meter.finish(nframes, coeff, hold_frames_);
        lr_slot_meter& m = slot_meters_[si];
        m.peak[0] = s.meter.peak[0];
        m.peak[1] = s.meter.peak[1];
        m.rms[0] = s.meter.rms(0);
        m.rms[1] = s.meter.rms(1);
        m.peak_hold[0] = s.meter.hold[0].value;
        m.peak_hold[1] = s.meter.hold[1].value;
        m.group = strip.group;
        if (s.strip.params_dirty) {
            std::copy_n(strip.params, LR_SLOT_PARAMS, slot_params_[si].value);
            s.strip.params_dirty = false;
        }
        // One cycle as it plays now (a follower's at the master tempo), and the place in it.
        const uint64_t cycle = s.loaded.sample ? renders.target_frames(s) : 0;
        m.length = cycle;
        m.playhead = (p.playing && p.main.active())
                         ? static_cast<uint64_t>(std::llround(voices.voice_phase(p.main, facts.frame_end) *
                                                             static_cast<double>(cycle))) % cycle
                         : 0;
        m.loop_beats = static_cast<float>(s.timing.loop_beats);
        m.loop_bpm = (s.timing.loop_beats > 0.0 && s.loaded.sample)
                         ? static_cast<float>(s.timing.loop_beats * 60.0 * grid.sample_rate() / s.loaded.sample->frames)
                         : 0.0f;
        m.pitch = static_cast<float>(s.timing.pitch);
        m.mode = s.timing.mode;
        m.render = !s.steady.needed ? uint32_t{LR_RENDER_NONE}
                   : s.steady.ready ? uint32_t{LR_RENDER_READY}
                                    : uint32_t{LR_RENDER_PENDING};
        if (s.steady.needed && !s.steady.ready) ++pending;
        m.start_frame = p.start_frame;
        m.state = !s.loaded.sample ? uint32_t{LR_SLOT_EMPTY}
                  : p.playing      ? uint32_t{LR_SLOT_PLAYING}
                                   : uint32_t{LR_SLOT_STOPPED};
        const bool audible = !strip.mute && (!facts.any_solo || strip.solo);
        uint32_t flags = 0;
        if (strip.mute) flags |= LR_SLOT_F_MUTED;
        if (strip.solo) flags |= LR_SLOT_F_SOLOED;
        if (p.pending_starts) flags |= LR_SLOT_F_START_PENDING;
        if (p.pending_stops) flags |= LR_SLOT_F_STOP_PENDING;
        if (audible) flags |= LR_SLOT_F_AUDIBLE;
        m.flags = flags;
        m.gain_db = static_cast<float>(strip.gain_db);
        m.pan = static_cast<float>(strip.pan);
        if (s.loaded.info_dirty) {
            slot_infos_[si] = s.loaded.info;
            s.loaded.info_dirty = false;
        }
    }
    h->renders_pending = pending;
    h->transport_mode = facts.transport_mode;
    h->transport_rolling = facts.transport_rolling ? 1u : 0u;
    std::atomic_ref<uint32_t>(h->seq).store(seq + 2, std::memory_order_release);
}

}  // namespace looprig::rt
