// What commands do (actions.hpp). Audio thread only, except the constructor;
// everything else is RT safe.
#include "actions.hpp"
#include "midi_control.hpp"

#include "bus_mixer.hpp"
#include "command.hpp"
#include "level_meters.hpp"
#include "loads.hpp"
#include "musical_grid.hpp"
#include "segment.hpp"
#include "session_exchange.hpp"
#include "slot.hpp"
#include "looprig/shm_client.h"

#include <algorithm>
#include <cmath>

namespace looprig::rt {

Actions::Actions(shm::Segment& segment, const ActionTargets& targets, uint32_t schedule_capacity,
                 const std::atomic<uint32_t>& sample_rate, std::atomic<uint32_t>& transport_mode)
    : segment_(segment),
      header_(segment.header()),
      t_(targets),
      schedule_(schedule_capacity),
      sample_rate_(sample_rate),
      transport_mode_(transport_mode) {}

void Actions::set_param(uint32_t id, int32_t index, double v, bool immediate, uint64_t at) {
    if (id >= LR_P_GAIN && id < LR_P_SLOT_END) {
        Slot& s = t_.slots[static_cast<uint32_t>(index)];
        if (assign_slot_setting(s, id, v)) t_.renders.refresh_render(s, index, at);
    } else if (id < LR_P_SLOT_END) {
        t_.slot_mixer.set_param(t_.slots[static_cast<uint32_t>(index)].strip, id, v, immediate);
    } else {
        t_.bus_mixer.set_param(id, index, v, immediate);
    }
}

bool Actions::assign_slot_setting(Slot& s, uint32_t id, double v) {
    SlotStrip& strip = s.strip;
    strip.params[id] = v;
    strip.params_dirty = true;
    if (SlotMixer::set_level(strip, id, v)) {
        t_.slot_mixer.update_all_gain_targets(t_.slots);
        return false;
    }
    if (!t_.renders.set_timing(s.timing, id, v, s.loaded.sample)) return false;
    // A loop declared by tempo has no declared length, and the other way round.
    strip.params[LR_P_LOOP_BPM] = s.timing.declared_bpm;
    strip.params[LR_P_LOOP_BEATS] = s.timing.declared_beats;
    return true;
}

void Actions::take_transport(uint32_t mode, const TransportInfo& t) {
    if (mode != LR_TRANSPORT_FOLLOW) {
        paused_ = false;
        transport_rolling_ = mode == LR_TRANSPORT_MASTER && t.rolling;
        return;
    }
    // Follow: tempo, beats per bar and beat position from the JACK transport.
    MusicalGrid& grid = t_.grid;
    transport_rolling_ = t.rolling;
    paused_ = !t.rolling;
    if (!t.rolling) return;
    const double bpm = t.bbt_valid ? t.bpm : grid.bpm();
    const double bpb = t.bbt_valid ? t.beats_per_bar : grid.beats_per_bar();
    const double beat = t.bbt_valid ? t.beat : static_cast<double>(t.frame) * bpm / (60.0 * grid.sample_rate());
    const bool tempo_changed =
        std::fabs(std::clamp(bpm, MusicalGrid::kMinBpm, MusicalGrid::kMaxBpm) - grid.bpm()) > 1e-9;
    grid.set_position(frame0_, beat, bpm, static_cast<uint32_t>(std::lround(bpb)));
    if (tempo_changed) t_.renders.refresh_followers(t_.slots, frame0_);
}

void Actions::handle(uint32_t place, const lr_command& cmd) {
    Text why(message_, sizeof message_);
    lr_client_place* c = place == kControllerPlace ? nullptr : segment_.client(place);
    const int code = validate_command(cmd, static_cast<uint32_t>(t_.slots.size()), why);
    if (code != LR_OK) {
        if (c) c->commands_rejected = c->commands_rejected + 1;
        t_.protocol.reply(place, cmd, LR_EVT_ERROR, code, frame0_, message_);
        return;
    }
    if (c) c->commands_accepted = c->commands_accepted + 1;
    if (cmd.type != LR_CMD_PING && cmd.type != LR_CMD_METER_RESET && cmd.type != LR_CMD_LOAD &&
        cmd.type != LR_CMD_SESSION_SAVE && cmd.type != LR_CMD_SESSION_OPEN && cmd.type != LR_CMD_MIDI_LEARN &&
        cmd.type != LR_CMD_MIDI_MAP)
        t_.rig_changes.fetch_add(1, std::memory_order_relaxed);  // the session worker's "dirty" (loads: when installed)
    switch (cmd.type) {
        case LR_CMD_PING:
            why << "pong";
            t_.protocol.reply(place, cmd, LR_EVT_ACK, LR_OK, frame0_, message_);
            return;
        case LR_CMD_LOAD: return t_.loads.request_load(place, cmd, frame0_);
        case LR_CMD_SESSION_SAVE:
        case LR_CMD_SESSION_OPEN: return t_.sessions.request(place, cmd, frame0_);
        case LR_CMD_MIDI_LEARN:
        case LR_CMD_MIDI_MAP: return t_.midi.request(place, cmd);
        case LR_CMD_UNLOAD: return t_.loads.unload(t_.slots, place, cmd, frame0_);
        case LR_CMD_DECLICK: {
            const auto frames = static_cast<uint32_t>(
                std::lround(cmd.value[0] * sample_rate_.load(std::memory_order_relaxed) / 1000.0));
            set_declick_frames(frames);
            why << "declick ramp " << static_cast<uint64_t>(frames) << " frames";
            t_.protocol.reply(place, cmd, LR_EVT_ACK, LR_OK, frame0_, message_);
            return;
        }
        case LR_CMD_TIME_SIGNATURE: {  // the time signature: beats per bar
            const auto beats_per_bar = static_cast<uint32_t>(cmd.value[0]);
            t_.grid.set_beats_per_bar(frame0_, beats_per_bar);
            why << "time signature: " << beats_per_bar << " beats per bar";
            t_.protocol.reply(place, cmd, LR_EVT_ACK, LR_OK, frame0_, message_);
            return;
        }
        case LR_CMD_LOOP_TEMPO:
        case LR_CMD_PITCH:
        case LR_CMD_MODE:
            return set_slot_timing(place, cmd, why);
        case LR_CMD_METER_RESET:
            t_.meters.reset(t_.slots);
            why << "peak holds and integrated loudness restarted";
            t_.protocol.reply(place, cmd, LR_EVT_ACK, LR_OK, frame0_, message_);
            return;
        case LR_CMD_TRANSPORT: {
            const auto mode = static_cast<uint32_t>(cmd.value[0]);
            transport_mode_.store(mode, std::memory_order_release);
            why << "transport "
                << (mode == LR_TRANSPORT_FOLLOW ? "follow" : mode == LR_TRANSPORT_MASTER ? "master" : "off");
            t_.protocol.reply(place, cmd, LR_EVT_ACK, LR_OK, frame0_, message_);
            return;
        }
        default: return schedule_action(place, cmd, why);
    }
}

void Actions::set_slot_timing(uint32_t place, const lr_command& cmd, Text& why) {
    Slot& s = t_.slots[static_cast<uint32_t>(cmd.slot)];
    LoopTiming& timing = s.timing;
    switch (cmd.type) {
        case LR_CMD_LOOP_TEMPO:
            if (cmd.value[1] > 0.0) {
                assign_slot_setting(s, LR_P_LOOP_BEATS, cmd.value[1]);
            } else {
                assign_slot_setting(s, LR_P_LOOP_BEATS, 0.0);
                assign_slot_setting(s, LR_P_LOOP_BPM, cmd.value[0]);
            }
            break;
        case LR_CMD_PITCH: assign_slot_setting(s, LR_P_PITCH, cmd.value[0]); break;
        case LR_CMD_MODE: assign_slot_setting(s, LR_P_MODE, cmd.value[0]); break;
        default: break;
    }
    t_.renders.refresh_render(s, cmd.slot, frame0_);
    why << command_name(cmd.type) << " slot " << cmd.slot << ": ";
    if (!s.loaded.sample && timing.declared_bpm > 0.0)
        why << "empty; a loop loaded here will follow the master tempo (played at " << timing.declared_bpm << " BPM)";
    else if (!s.loaded.sample && timing.declared_beats > 0.0)
        why << "empty; a loop loaded here will follow the master tempo, " << timing.declared_beats << " beats";
    else if (!s.loaded.sample) why << "empty; a loop loaded here will play at its own tempo";
    else if (timing.loop_beats > 0.0) why << "follows the master tempo, " << timing.loop_beats << " beats";
    else why << "plays at its own tempo";
    why << ", pitch " << timing.pitch << " st, " << (timing.mode == LR_MODE_VARISPEED ? "varispeed" : "stretch");
    if (s.steady.needed && !s.steady.ready) why << " (render pending)";
    t_.protocol.reply(place, cmd, LR_EVT_ACK, LR_OK, frame0_, message_, timing.loop_beats, timing.pitch);
}

void Actions::schedule_action(uint32_t place, const lr_command& cmd, Text& why) {
    Slot* s = command_takes_slot(cmd.type) ? &t_.slots[static_cast<uint32_t>(cmd.slot)] : nullptr;
    const MusicalGrid& grid = t_.grid;
    uint64_t frame = frame0_;
    uint64_t late_by = 0;
    if (cmd.flags & LR_CMD_F_AT) {
        if (cmd.at_frame < frame0_) {
            late_by = frame0_ - cmd.at_frame;
        } else if (cmd.at_frame - frame0_ > kMaxScheduleAhead) {
            why << "frame " << cmd.at_frame << " is more than " << kMaxScheduleAhead << " frames ahead of now ("
                << frame0_ << ")";
            t_.protocol.reply(place, cmd, LR_EVT_ERROR, LR_E_BAD_VALUE, frame0_, message_);
            return;
        } else {
            frame = cmd.at_frame;
        }
    }
    bool no_grid = false;
    if (cmd.quantize == LR_Q_FRAMES) {
        frame = next_multiple(frame, cmd.quantize_arg);
    } else if (cmd.quantize == LR_Q_BEAT) {
        frame = grid.next_beat(frame, static_cast<uint32_t>(cmd.quantize_arg));
    } else if (cmd.quantize == LR_Q_BAR) {
        frame = grid.next_bar(frame, static_cast<uint32_t>(cmd.quantize_arg));
    } else if (cmd.quantize == LR_Q_SLOT) {
        const Slot& ref = t_.slots[cmd.quantize_arg];
        const Voice& main = ref.play.main;
        if (main.active() && !main.releasing && main.grid_locked) {
            // A follower's loop starts are on beats: start_beat + k * beats.
            const double k = std::ceil((grid.beat_at(frame) - main.start_beat) / main.beats - 1e-9);
            frame = std::max(frame, grid.frame_at_or_after(main.start_beat + std::max(0.0, k) * main.beats));
        } else if (ref.play.grid_valid && ref.loaded.sample) {
            frame = next_grid_point(frame, ref.play.grid_origin,
                                    main.active() ? main.sample->frames : ref.loaded.sample->frames);
        } else {
            no_grid = true;
        }
    }
    if (cmd.type == LR_CMD_PLAY && !s->loaded.sample) {
        why << "slot " << cmd.slot << " is empty: load a file first";
        t_.protocol.reply(place, cmd, LR_EVT_ERROR, LR_E_NOT_LOADED, frame0_, message_);
        return;
    }
    Action action{frame, 0, cmd.type, cmd.slot, cmd.value[0], cmd.param};
    if (cmd.type == LR_CMD_PLAY) schedule_pre_roll(*s, cmd.slot, frame);
    if (frame > frame0_) {
        if (!schedule_.insert(action)) {
            why << "schedule full (" << static_cast<uint64_t>(schedule_.capacity()) << " pending actions)";
            t_.protocol.reply(place, cmd, LR_EVT_ERROR, LR_E_SCHEDULE_FULL, frame0_, message_);
            return;
        }
        if (s) note_scheduled(*s, action);
    } else {
        if (s) note_scheduled(*s, action);
        apply(action);
    }
    if (cmd.type == LR_CMD_PARAM) {
        const lr_param_desc* p = lr_param_info(cmd.param);
        why << p->name;
        if (p->target == LR_TARGET_SLOT) why << " slot " << cmd.slot;
        else if (p->target == LR_TARGET_GROUP) why << " group " << cmd.slot;
        why << " = " << cmd.value[0];
        if (p->unit[0]) why << " " << p->unit;
    } else {
        why << command_name(cmd.type);
    }
    if (s) why << " slot " << cmd.slot;
    else if (cmd.type == LR_CMD_TEMPO) why << " " << cmd.value[0] << " BPM";
    why << " at frame " << frame;
    if (late_by) why << " (requested frame was " << late_by << " frames in the past)";
    if (no_grid) why << " (reference slot " << cmd.quantize_arg << " is not playing: not quantized)";
    t_.protocol.reply(place, cmd, LR_EVT_ACK, LR_OK, frame, message_);
}

void Actions::schedule_pre_roll(const Slot& s, int32_t slot, uint64_t start) {
    const Sample* buffer = SteadyRenders::play_buffer(s);
    if (!buffer || buffer->pre_roll == 0 || start <= frame0_ || s.play.pending_starts > 0) return;
    if (s.play.main.active() && !s.play.main.releasing) return;  // playing: a restart cuts in at `start`
    const uint64_t lead = std::min<uint64_t>(buffer->pre_roll, start - frame0_);
    schedule_.insert(Action{start - lead, 0, kActionPreRoll, slot, static_cast<double>(start), 0});
    // (schedule full: no pre-roll, the start itself is what matters)
}

void Actions::start_voice_for(Slot& s, Sample* buffer, uint64_t now, uint64_t start) {
    SlotPlayback& p = s.play;
    const double loop_beats = s.timing.loop_beats;
    t_.voices.main_to_tail(p);
    t_.voices.start_main(p, buffer, start);
    if (loop_beats > 0.0) {
        p.main.grid_locked = true;
        p.main.beats = loop_beats;
        // Following a stopped JACK transport there is no "now" on the
        // grid: the loop is anchored at the song's start (beat 0), so once
        // the transport rolls it plays what the position says, on the bars.
        p.main.start_beat = paused_ ? 0.0 : t_.grid.beat_at(start);
    } else if (now < start) {
        p.main.origin = start - buffer->frames;  // a cycle earlier: (f - origin) stays positive
    }
    // Starting at the loop's frame 0 plays the file's first sample as it is
    // (no fade-in: the downbeat's attack stays whole, as in every later
    // pass). A start elsewhere in the cycle (a pre-roll, a follower
    // anchored on a standing transport's song position) keeps the ramp.
    if (now == start && !(paused_ && loop_beats > 0.0)) p.main.env.jump(1.0f);
}

void Actions::note_scheduled(Slot& s, const Action& a) {
    if (a.type == LR_CMD_PLAY) {
        ++s.play.pending_starts;
        s.play.grid_valid = true;
        s.play.grid_origin = a.frame;
    } else if (a.type == LR_CMD_STOP) {
        ++s.play.pending_stops;
    }
}

void Actions::apply(const Action& a) {
    if (a.type == LR_CMD_PARAM) {
        set_param(a.param, a.slot, a.value, false, a.frame);
        return;
    }
    if (a.type == LR_CMD_TEMPO) {
        t_.grid.set_tempo(a.frame, a.value);
        // Followers keep their phase (it comes from the grid); their renders no longer fit.
        t_.renders.refresh_followers(t_.slots, a.frame);
        return;
    }
    Slot& s = t_.slots[static_cast<uint32_t>(a.slot)];
    SlotPlayback& p = s.play;
    switch (a.type) {
        case kActionPreRoll: {
            const auto start = static_cast<uint64_t>(a.value);
            Sample* buffer = s.loaded.sample ? SteadyRenders::play_buffer(s) : nullptr;
            if (!buffer || buffer->pre_roll == 0 || p.pending_starts == 0) break;  // unloaded, or the start was
            if (p.main.active() && !p.main.releasing) break;                       // ... overtaken meanwhile
            if (s.timing.loop_beats == 0.0 && start < buffer->frames) break;  // no earlier cycle to anchor on
            start_voice_for(s, buffer, a.frame, start);
            p.pre_roll_for = start;
            break;
        }
        case LR_CMD_PLAY: {
            if (p.pending_starts) --p.pending_starts;
            const uint64_t pre_rolled = p.pre_roll_for;
            p.pre_roll_for = 0;
            if (!s.loaded.sample) break;  // unloaded meanwhile
            Sample* buffer = SteadyRenders::play_buffer(s);
            if (pre_rolled == a.frame && p.main.active() && !p.main.releasing && p.main.sample == buffer) {
                // Sounding since its pre-roll, anchored on this frame: keep it.
                if (p.main.grid_locked) p.main.start_beat = paused_ ? 0.0 : t_.grid.beat_at(a.frame);
            } else {
                start_voice_for(s, buffer, a.frame, a.frame);
            }
            p.playing = true;
            p.start_frame = a.frame;
            break;
        }
        case LR_CMD_STOP:
            if (p.pending_stops) --p.pending_stops;
            t_.voices.main_to_tail(p);
            p.playing = false;
            if (!p.pending_starts) p.grid_valid = false;
            break;
        case LR_CMD_GAIN: assign_slot_setting(s, LR_P_GAIN, a.value); break;
        case LR_CMD_PAN: assign_slot_setting(s, LR_P_PAN, a.value); break;
        case LR_CMD_MUTE: assign_slot_setting(s, LR_P_MUTE, a.value); break;
        case LR_CMD_SOLO: assign_slot_setting(s, LR_P_SOLO, a.value); break;
        default:
            break;
    }
}

void Actions::set_declick_frames(uint32_t frames) {
    t_.voices.set_declick_frames(frames);
    t_.slot_mixer.set_declick_frames(frames);
    header_->declick_frames = frames;
}

void Actions::clear_schedule() {
    schedule_.clear();
    for (Slot& s : t_.slots) {
        s.play.pending_starts = 0;
        s.play.pending_stops = 0;
        s.play.pre_roll_for = 0;
    }
}

void Actions::restore_slot(int32_t slot, const double* params) {
    Slot& s = t_.slots[static_cast<uint32_t>(slot)];
    t_.slot_mixer.restore_params(s.strip, params);
    // Levels, then timing: a loop declared by tempo has no declared length
    // (setting either to 0 clears only itself), so the order restores both.
    for (uint32_t id = LR_P_GAIN; id < LR_P_SLOT_END; ++id) assign_slot_setting(s, id, params[id]);
    t_.renders.refresh_render(s, slot, frame0_);
}

void Actions::restore_globals(const SessionRig& rig) {
    const MusicalGrid& grid = t_.grid;
    if (rig.tempo_bpm != grid.bpm()) {
        t_.grid.set_tempo(frame0_, rig.tempo_bpm);
        t_.renders.refresh_followers(t_.slots, frame0_);
    }
    if (rig.beats_per_bar != grid.beats_per_bar()) t_.grid.set_beats_per_bar(frame0_, rig.beats_per_bar);
    transport_mode_.store(rig.transport_mode, std::memory_order_release);
    set_declick_frames(rig.declick_frames);
    for (int32_t g = 0; g < LR_GROUPS; ++g)
        for (uint32_t k = 0; k < LR_GROUP_PARAMS; ++k)
            if (lr_param_info(LR_P_GROUP_BASE + k))
                t_.bus_mixer.set_param(LR_P_GROUP_BASE + k, g, rig.group_params[g][k], true);
    // delay-ms switches the delay to milliseconds (delay-beats 0): set it first.
    t_.bus_mixer.set_param(LR_P_DELAY_MS, 0, rig.global_params[LR_P_DELAY_MS - LR_P_GLOBAL_BASE], true);
    for (uint32_t k = 0; k < LR_GLOBAL_PARAMS; ++k) {
        const uint32_t id = LR_P_GLOBAL_BASE + k;
        if (id != LR_P_DELAY_MS && lr_param_info(id)) t_.bus_mixer.set_param(id, 0, rig.global_params[k], true);
    }
}

bool Actions::play_at(int32_t slot, uint64_t frame) {
    Slot& s = t_.slots[static_cast<uint32_t>(slot)];
    if (!s.loaded.sample) return false;
    const Action action{frame, 0, LR_CMD_PLAY, slot, 0.0, 0};
    schedule_pre_roll(s, slot, frame);
    if (frame > frame0_) {
        if (!schedule_.insert(action)) return false;
        note_scheduled(s, action);
    } else {
        note_scheduled(s, action);
        apply(action);
    }
    return true;
}

void Actions::snapshot(SessionRig& rig) const {
    const MusicalGrid& grid = t_.grid;
    rig.tempo_bpm = grid.bpm();
    rig.beats_per_bar = grid.beats_per_bar();
    rig.transport_mode = transport_mode_.load(std::memory_order_relaxed);
    rig.declick_frames = t_.voices.declick_frames();
    for (uint32_t g = 0; g < LR_GROUPS; ++g)
        std::copy_n(t_.bus_mixer.group_params(g), LR_GROUP_PARAMS, rig.group_params[g]);
    std::copy_n(t_.bus_mixer.global_params(), LR_GLOBAL_PARAMS, rig.global_params);
    for (uint32_t i = 0; i < t_.slots.size() && i < rig.slots.size(); ++i) {
        const Slot& s = t_.slots[i];
        const SlotPlayback& p = s.play;
        std::copy_n(s.strip.params, LR_SLOT_PARAMS, rig.slots[i].params);
        rig.slots[i].playing = s.loaded.sample && ((p.playing && p.pending_stops == 0) || p.pending_starts > 0);
    }
}

}  // namespace looprig::rt
