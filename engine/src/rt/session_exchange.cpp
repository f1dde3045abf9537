// Sessions, the audio thread's side (session_exchange.hpp). Audio thread
// only, except the constructor; everything else is RT safe.
#include "session_exchange.hpp"

#include "actions.hpp"
#include "client_protocol.hpp"
#include "loads.hpp"
#include "musical_grid.hpp"
#include "rt_text.hpp"
#include "segment.hpp"
#include "slot.hpp"

#include <cstring>

namespace looprig::rt {

using shm::load_acquire;
using Stage = SessionJob::Stage;

SessionExchange::SessionExchange(shm::Segment& segment, WorkerQueues& queues, ClientProtocol& protocol, Loads& loads,
                                 SampleRefs& refs, std::vector<Slot>& slots, const MusicalGrid& grid)
    : segment_(segment), queues_(queues), job_(queues.session), protocol_(protocol), loads_(loads), refs_(refs),
      slots_(slots), grid_(grid) {}

void SessionExchange::request(uint32_t place, const lr_command& cmd, uint64_t frame0) {
    uint32_t idle = Stage::kIdle;
    if (!job_.stage.compare_exchange_strong(idle, Stage::kClaimed, std::memory_order_acquire)) {
        Text why(message_, sizeof message_);
        why << "a session save or open is in progress; try again when it is answered";
        protocol_.reply(place, cmd, LR_EVT_ERROR, LR_E_BUSY, frame0, message_);
        return;
    }
    job_.from_client = true;
    job_.client = place;
    job_.generation = segment_.client(place)->generation;
    job_.id = cmd.id;
    job_.type = cmd.type;
    job_.play = cmd.type == LR_CMD_SESSION_OPEN && cmd.value[0] != 0.0;
    const uint32_t n = cmd.text_len < LR_TEXT_MAX ? cmd.text_len : LR_TEXT_MAX;
    std::memcpy(job_.path, cmd.text, n);
    job_.path[n] = '\0';
    job_.frame = frame0;
    job_.code = LR_OK;
    job_.message[0] = '\0';
    // A save is of the rig as it is when the command is read.
    // (We hold the actions in serve(); a client's save snapshots there, this period.)
    job_.stage.store(cmd.type == LR_CMD_SESSION_SAVE ? Stage::kSnapshotWanted : Stage::kRequested,
                     std::memory_order_release);
    if (cmd.type != LR_CMD_SESSION_SAVE) queues_.session_bell.ring();
}

void SessionExchange::snapshot(Actions& actions) {
    actions.snapshot(job_.rig);
    for (uint32_t i = 0; i < slots_.size() && i < job_.rig.slots.size(); ++i) {
        Sample* s = slots_[i].loaded.sample;
        SampleRefs::retain(s);
        job_.rig.slots[i].sample = s;
    }
}

void SessionExchange::release_samples() {
    for (uint32_t i = 0; i < job_.rig.slots.size(); ++i) {
        SessionSlot& s = job_.rig.slots[i];
        if (s.sample && s.saved_path[0] && i < slots_.size() && slots_[i].loaded.sample == s.sample)
            Loads::show_saved_path(slots_[i], s.saved_path);  // the slot now plays the session's copy
        s.saved_path[0] = '\0';
        refs_.release(s.sample);
        s.sample = nullptr;
    }
}

void SessionExchange::install(Actions& actions, uint64_t frame0) {
    SessionRig& rig = job_.rig;
    actions.clear_schedule();
    actions.restore_globals(rig);
    for (uint32_t i = 0; i < slots_.size() && i < rig.slots.size(); ++i) {
        SessionSlot& s = rig.slots[i];
        loads_.replace_stopped(slots_, static_cast<int32_t>(i), s.sample, frame0);  // adopts s.sample
        s.sample = nullptr;
        actions.restore_slot(static_cast<int32_t>(i), s.params);
    }
    job_.frame = frame0;
}

bool SessionExchange::renders_in() const {
    const SessionRig& rig = job_.rig;
    for (uint32_t i = 0; i < slots_.size() && i < rig.slots.size(); ++i)
        if (rig.slots[i].playing && slots_[i].loaded.sample && slots_[i].steady.needed && !slots_[i].steady.ready)
            return false;
    return true;
}

void SessionExchange::start_playing(Actions& actions, uint64_t frame0) {
    // Every slot that was playing starts on the next bar, the same frame.
    const SessionRig& rig = job_.rig;
    const uint64_t start = grid_.next_bar(frame0, 1);
    for (uint32_t i = 0; i < slots_.size() && i < rig.slots.size(); ++i)
        if (rig.slots[i].playing && slots_[i].loaded.sample) actions.play_at(static_cast<int32_t>(i), start);
    job_.frame = start;
}

void SessionExchange::serve(Actions& actions, uint64_t frame0) {
    const uint32_t stage = job_.stage.load(std::memory_order_acquire);
    if (stage == Stage::kSnapshotWanted) {
        uint32_t wanted = Stage::kSnapshotWanted;
        // The worker may withdraw its request meanwhile: take it by CAS.
        if (!job_.stage.compare_exchange_strong(wanted, Stage::kClaimed, std::memory_order_acquire)) return;
        snapshot(actions);
        job_.frame = frame0;
        job_.changes = queues_.rig_changes.load(std::memory_order_relaxed);
        job_.stage.store(Stage::kRequested, std::memory_order_release);
        queues_.session_bell.ring();
    } else if (stage == Stage::kInstallReady) {
        install(actions, frame0);
        job_.changes = queues_.rig_changes.load(std::memory_order_relaxed);
        job_.stage.store(Stage::kInstalled, std::memory_order_release);
        queues_.session_bell.ring();
    } else if (stage == Stage::kStartReady) {
        // Started once the loops sound as saved (their renders in), not varispeed.
        if (!renders_in() && frame0 < job_.start_deadline) return;
        start_playing(actions, frame0);
        job_.stage.store(Stage::kStarted, std::memory_order_release);
        queues_.session_bell.ring();
    } else if (stage == Stage::kAnswerReady) {
        release_samples();  // a save's references; an open's samples were adopted or freed by the worker
        if (job_.from_client) {
            lr_client_place* c = segment_.client(job_.client);
            if (load_acquire(c->state) == LR_CLIENT_ACTIVE && c->generation == job_.generation) {
                lr_command answered{};
                answered.id = job_.id;
                answered.type = job_.type;
                answered.slot = 0;
                protocol_.reply(job_.client, answered, job_.code == LR_OK ? LR_EVT_ACK : LR_EVT_ERROR, job_.code,
                                job_.frame, job_.message, job_.value[0], job_.value[1]);
            }
        }
        job_.stage.store(Stage::kIdle, std::memory_order_release);
        queues_.session_bell.ring();
    }
}

}  // namespace looprig::rt
