// What commands do. Owns the schedule and the transport state, and:
//  - handle(): validates each command read from a client (ClientProtocol)
//    and answers it: at once (ping, declick, time signature, loop tempo /
//    pitch / mode, meter reset, transport mode), through Loads (load,
//    unload), or as an action at the frame it resolves to (at-frame,
//    quantized to frames, beats, bars or another slot's loop), applied now
//    or put in the schedule;
//  - apply(): carries an action out at its frame: play (with a render's
//    pre-roll), stop, gain/pan/mute/solo, params, tempo;
//  - set_param(): a param to the unit that owns it: a slot's level (gain,
//    pan, mute, solo) and strip to SlotMixer, its timing (pitch, mode, loop
//    tempo or beats) to SteadyRenders, group and global params to BusMixer;
//    the commands that set a slot's level or timing share that code;
//  - take_transport(): the JACK transport into the master grid (follow mode).
// Every function but the constructor runs on the audio thread and is RT safe
// (no allocation, locks, blocking, I/O); each says so.
#pragma once

#include "../worker_queues.hpp"
#include "client_protocol.hpp"
#include "rt_text.hpp"
#include "schedule.hpp"
#include "looprig/shm_layout.h"

#include <atomic>
#include <cstdint>
#include <vector>

namespace looprig::shm {
class Segment;
}

namespace looprig::rt {

class BusMixer;
class LevelMeters;
class Loads;
class MidiControl;
class MusicalGrid;
class SessionExchange;
class SlotMixer;
class SteadyRenders;
class Voices;
struct Slot;

/// The units commands act on (all outlive Actions).
struct ActionTargets {
    std::vector<Slot>& slots;
    MusicalGrid& grid;
    ClientProtocol& protocol;
    Voices& voices;
    SteadyRenders& renders;
    SlotMixer& slot_mixer;
    BusMixer& bus_mixer;
    LevelMeters& meters;
    Loads& loads;
    SessionExchange& sessions;
    MidiControl& midi;
    std::atomic<uint64_t>& rig_changes;  // WorkerQueues::rig_changes
};

class Actions final : public CommandSink {
public:
    /// Not RT safe (allocates the schedule).
    Actions(shm::Segment& segment, const ActionTargets& targets, uint32_t schedule_capacity,
            const std::atomic<uint32_t>& sample_rate, std::atomic<uint32_t>& transport_mode);

    /// A new period starts at frame0: commands handled now take effect there. RT safe.
    void begin_period(uint64_t frame0) { frame0_ = frame0; }
    /// Validate, answer and carry out (or schedule) one command of the client at `place`. RT safe.
    void handle(uint32_t place, const lr_command& cmd) override;
    /// Carry out an action at its frame (the play position). RT safe.
    void apply(const Action& a);
    /// Set param `id` of slot/group `index` (ignored for global params) to v
    /// at frame `at`, ramped over the smoothing time unless `immediate`. v is
    /// validated. RT safe.
    void set_param(uint32_t id, int32_t index, double v, bool immediate, uint64_t at = 0);
    /// Sessions (session_exchange): the rig a session holds, restored at
    /// frame0 without answering anyone. Every value was validated by the
    /// session worker (lr_param_check). RT safe.
    ///  - clear_schedule(): drop waiting actions and the slots' pending starts/stops;
    ///  - restore_slot(): every slot param of `slot` at once (one render
    ///    request at most), its loop already installed;
    ///  - restore_globals(): tempo, time signature, transport mode, declick,
    ///    group and global params;
    ///  - play_at(): start `slot` at `frame` (with its pre-roll), as a PLAY would.
    void clear_schedule();
    void restore_slot(int32_t slot, const double* params);
    void restore_globals(const SessionRig& rig);
    bool play_at(int32_t slot, uint64_t frame);
    /// A snapshot of the same (a save): `rig`'s values and each slot's playing
    /// state; the samples are left to the caller. RT safe.
    void snapshot(SessionRig& rig) const;
    /// LR_CMD_DECLICK's effect: ramp length of starts, stops and level changes. RT safe.
    void set_declick_frames(uint32_t frames);

    /// Take this period's transport mode and JACK transport: in follow mode
    /// the master grid takes tempo, beats per bar and position from it. RT safe.
    void take_transport(uint32_t mode, const TransportInfo& t);

    /// Actions waiting for their frame.
    Schedule& schedule() { return schedule_; }
    /// Following a stopped JACK transport: followers are silent. RT safe.
    bool paused() const { return paused_; }
    /// The transport rolls (as published). RT safe.
    bool transport_rolling() const { return transport_rolling_; }

private:
    /// A slot's level or timing setting (LR_P_GAIN .. LR_P_LOOP_BEATS), from
    /// its param or the equivalent command (LR_CMD_GAIN .. LR_CMD_MODE,
    /// LR_CMD_LOOP_TEMPO); published in the slot's params. Levels ramp over
    /// the declick time. Returns true if the slot's timing changed (the
    /// caller then refreshes its render once).
    bool assign_slot_setting(Slot& s, uint32_t id, double v);
    /// LOOP_TEMPO, PITCH and MODE: take effect now; a new render is asked for
    /// if one is needed, and the slot plays varispeed until it arrives.
    void set_slot_timing(uint32_t place, const lr_command& cmd, Text& why);
    /// Work out the frame a schedulable command takes effect at, then apply it
    /// now (this period's first frame) or put it in the schedule.
    void schedule_action(uint32_t place, const lr_command& cmd, Text& why);
    /// A fresh start of a loop that plays a render: its pre-roll starts up to
    /// pre_roll frames before `start` (as much as there is room for).
    void schedule_pre_roll(const Slot& s, int32_t slot, uint64_t start);
    /// Start the main voice on `buffer` so that its frame 0 plays at `start`,
    /// on the grid if the slot follows the master tempo.
    void start_voice_for(Slot& s, Sample* buffer, uint64_t now, uint64_t start);
    void note_scheduled(Slot& s, const Action& a);

    shm::Segment& segment_;
    lr_header* header_;
    ActionTargets t_;
    Schedule schedule_;
    const std::atomic<uint32_t>& sample_rate_;
    std::atomic<uint32_t>& transport_mode_;
    uint64_t frame0_ = 0;           // first frame of the current period
    bool paused_ = false;           // following a stopped JACK transport: followers are silent
    bool transport_rolling_ = false;
    char message_[LR_MESSAGE_MAX] = {};
};

}  // namespace looprig::rt
