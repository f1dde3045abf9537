// The hand-off between the audio thread and the engine's worker threads:
// what travels (load requests and results, render requests and answers,
// master blocks for the loudness meter, retired samples, the JACK transport
// as read this period), the queues it travels in, the render generations and
// the workers' doorbells. The engine owns one WorkerQueues inside its
// AudioCore (AudioCore::queues()); a new worker adds its types, queue and
// bell here, not to the RT core's header.
// Threading contract, per member below: every queue has exactly one producer
// and one consumer thread; push/pop/front are wait-free and RT safe; the
// audio thread rings the bells (RT safe), the workers wait on them.
#pragma once

#include "rt/doorbell.hpp"
#include "sample.hpp"
#include "spsc_queue.hpp"
#include "looprig/shm_layout.h"

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace looprig {

/// A load the audio thread accepted, for the loader thread.
struct LoadRequest {
    uint32_t client = 0;      // the client's place in the segment
    uint32_t generation = 0;  // of that place: a new owner does not get the answer
    uint32_t id = 0;
    int32_t slot = 0;
    uint32_t sample_rate = 0;  // engine rate to convert to
    char path[LR_TEXT_MAX + 1] = {};
};

/// The loader's answer: a sample to install, or an error.
struct LoadResult {
    uint32_t client = 0;
    uint32_t generation = 0;
    uint32_t id = 0;
    int32_t slot = 0;
    int32_t code = LR_OK;
    Sample* sample = nullptr;
    char message[LR_MESSAGE_MAX] = {};
};

/// A steady-state render the audio thread wants (stretch to `target_frames`,
/// shift pitch by `pitch_scale`), for the render thread. The audio thread holds
/// a reference to `source` until the answer comes back.
struct RenderRequest {
    int32_t slot = 0;
    uint32_t generation = 0;   // compared with latest_render_generation(slot)
    Sample* source = nullptr;
    uint64_t target_frames = 0;
    double pitch_scale = 1.0;
};

/// The render thread's answer; `render` is null if it was skipped or failed.
struct RenderAnswer {
    int32_t slot = 0;
    uint32_t generation = 0;
    Sample* source = nullptr;
    Sample* render = nullptr;
    uint64_t target_frames = 0;
    double pitch_scale = 1.0;
};

/// The JACK transport as read by jack_transport_query() in this period.
struct TransportInfo {
    bool rolling = false;
    bool bbt_valid = false;
    uint64_t frame = 0;          // transport position (frames)
    double bpm = 120.0;
    double beats_per_bar = 4.0;
    double beat = 0.0;           // beats since bar 1 beat 1 (from BBT)
};

/// A stretch of the master (interleaved stereo, after the master gain) for
/// the loudness meter's thread.
constexpr uint32_t kLoudnessBlockFrames = 512;
struct LoudnessBlock {
    uint32_t frames = 0;
    /// Silent frames not handed over just before this block: once the master
    /// has been silent for kLoudnessQuietSeconds, silent blocks are skipped
    /// (the meter's windows hold only silence by then); the loudness thread
    /// accounts for them when sound comes back.
    uint64_t silence_before = 0;
    float samples[2 * kLoudnessBlockFrames];
};

/// Silence the loudness meter is fed before further silent blocks are skipped:
/// by then libebur128 holds nothing but zeros (its K-filter's tail of a full-scale
/// signal is below DBL_MIN after ~2 s, then its 3 s window fills with zeros),
/// so it reads -inf and more zeros change nothing but its 100 ms block phase.
constexpr uint32_t kLoudnessQuietSeconds = 6;

/// A slot as a session holds it (SessionRig).
struct SessionSlot {
    /// Save: the slot's loop, referenced by the audio thread until the job is
    /// answered. Open: the loop to install (null = empty), made by the session
    /// worker and adopted by the audio thread when it installs the rig.
    Sample* sample = nullptr;
    bool playing = false;                // playing or about to start (and not about to stop)
    double params[LR_SLOT_PARAMS] = {};  // every slot param, exact (lr_param ids)
    /// Save: where the session keeps this loop now (absolute; "" = nothing
    /// saved). The slot then shows it as its path, as after opening the session.
    char saved_path[LR_TEXT_MAX] = {};
};

/// The rig as a session holds it: what the audio thread snapshots for a save
/// and installs for an open.
struct SessionRig {
    double tempo_bpm = 120.0;
    uint32_t beats_per_bar = 4;
    uint32_t transport_mode = LR_TRANSPORT_OFF;
    uint32_t declick_frames = 0;
    double group_params[LR_GROUPS][LR_GROUP_PARAMS] = {};
    double global_params[LR_GLOBAL_PARAMS] = {};
    std::vector<SessionSlot> slots;  // slot_count of them, allocated once
};

/// The one session job (save or open) in flight between the audio thread and
/// the session worker. `stage` hands it over; whoever the stage names owns
/// every other field:
///   Idle -(audio: a client's SAVE/OPEN, via Claimed)-> Requested
///   Idle -(worker: its own save, via Claimed)-> SnapshotWanted -(audio)-> Requested
///   Idle -(worker: its own open, via Claimed)-> Working
///   Requested -(worker)-> Working
///   Working -(worker, open)-> InstallReady -(audio installs)-> Installed -(worker)-> Working
///   Working -(worker, open --play)-> StartReady -(audio: once the playing slots' renders
///           are in, or at start_deadline, starts them on the next bar)-> Started -(worker)-> Working
///   Working -(worker)-> AnswerReady -(audio: releases, answers)-> Idle
/// A save's snapshot holds references to the slots' samples (released by the
/// audio thread at AnswerReady). Transitions out of Idle and SnapshotWanted
/// are compare-and-swap (the worker may withdraw a snapshot request the
/// audio thread has not served); the rest are release stores.
struct SessionJob {
    enum Stage : uint32_t {
        kIdle, kClaimed, kSnapshotWanted, kRequested, kWorking, kInstallReady, kInstalled, kStartReady, kStarted,
        kAnswerReady
    };
    std::atomic<uint32_t> stage{kIdle};
    bool from_client = false;  // answered to a client place (else the worker's own job)
    uint32_t client = 0, generation = 0, id = 0;
    uint16_t type = 0;         // LR_CMD_SESSION_SAVE or LR_CMD_SESSION_OPEN
    bool play = false;         // open: start the slots that were playing, together
    char path[LR_TEXT_MAX + 1] = {};
    SessionRig rig;
    uint64_t frame = 0;        // open: the frame the rig was installed at, or the playing slots start at
    uint64_t start_deadline = 0;  // open --play: start then even if renders are still missing
    uint64_t changes = 0;      // rig_changes when the audio thread snapshot or installed the rig
    int32_t code = LR_OK;      // the answer
    double value[2] = {0.0, 0.0};
    char message[LR_MESSAGE_MAX] = {};
};

/// The queues, generations and bells between the audio thread and the
/// workers. Allocated once at construction (not RT safe); everything the audio
/// thread calls afterwards is RT safe.
struct WorkerQueues {
    WorkerQueues(uint32_t slot_count, uint32_t sample_rate);
    WorkerQueues(const WorkerQueues&) = delete;
    WorkerQueues& operator=(const WorkerQueues&) = delete;

    SpscQueue<LoadRequest> load_requests;      // audio thread -> loader
    SpscQueue<LoadResult> load_results;        // loader -> audio thread
    SpscQueue<Sample*> garbage;                // audio thread -> housekeeping (deletes them)
    SpscQueue<RenderRequest> render_requests;  // audio thread -> render threads (taken under a lock)
    SpscQueue<RenderAnswer> render_answers;    // render threads (given under a lock) -> audio thread
    SpscQueue<LoudnessBlock> loudness_blocks;  // audio thread -> loudness thread
    /// Per slot, the newest render generation the audio thread asked for.
    std::unique_ptr<std::atomic<uint32_t>[]> render_generations;
    /// The loudness thread's latest figures (momentary, short-term, integrated LUFS).
    std::atomic<float> lufs[3];
    std::atomic<uint32_t> loudness_updates{0};  // bumped with each set_loudness()
    std::atomic<uint32_t> loudness_reset{0};    // bumped by LR_CMD_METER_RESET
    /// The session job (audio thread <-> session worker) and the count of
    /// changes to the rig a session holds (commands acknowledged that change
    /// it, loads installed, JACK connections): the worker compares it with
    /// the count at its last save to know the rig is "dirty".
    SessionJob session;
    std::atomic<uint64_t> rig_changes{0};

    /// Workers sleep until the audio thread rings their bell: the loader for
    /// load requests, the render threads once per render request, the
    /// loudness thread for master blocks and meter resets, housekeeping for
    /// garbage and changes of the transport mode.
    Doorbell load_bell, render_bell, loudness_bell, housekeeping_bell;
    /// The session worker's: rung when the session job's stage needs it.
    Doorbell session_bell;

    /// The newest render generation asked for on `slot`: the render thread
    /// skips older requests. Any thread.
    uint32_t latest_render_generation(int32_t slot) const {
        return render_generations[static_cast<uint32_t>(slot)].load(std::memory_order_acquire);
    }
    /// Audio thread. RT safe.
    void set_render_generation(int32_t slot, uint32_t generation) {
        render_generations[static_cast<uint32_t>(slot)].store(generation, std::memory_order_release);
    }
    /// The loudness thread's figures (LUFS). Any thread.
    void set_loudness(float momentary, float short_term, float integrated) {
        lufs[0].store(momentary, std::memory_order_relaxed);
        lufs[1].store(short_term, std::memory_order_relaxed);
        lufs[2].store(integrated, std::memory_order_relaxed);
        loudness_updates.fetch_add(1, std::memory_order_release);
    }

    /// Ring the bells of workers with something new since the last call
    /// (`transport_mode`: the mode in force, a change wakes housekeeping).
    /// Audio thread only, at the end of a period. RT safe.
    void wake_workers(uint32_t transport_mode);

    /// Add every Sample still inside a queue to `held` (once each). Not RT
    /// safe; for the owner's destructor, when no thread uses the queues.
    void take_samples(std::vector<Sample*>& held);

private:
    struct {
        std::size_t loads = 0, renders = 0, loudness = 0, garbage = 0;
        uint32_t reset = 0, mode = LR_TRANSPORT_OFF;
    } woke_;  // audio thread only
};

}  // namespace looprig
