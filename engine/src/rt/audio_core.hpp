// The audio thread's world: slots, voices, the schedule, the client rings and
// the meters, run in the order of one period by process() (the units that do
// each job are listed in docs/ARCHITECTURE.md). Independent of JACK, so
// benchmarks and tests drive process() directly. Threading contract:
//  - process() runs on the audio thread only and is RT safe;
//  - the queues to and from the workers (queues(), worker_queues.hpp) have
//    one producer and one consumer each: load_requests() is consumed by the
//    loader thread, load_results() is produced by it, garbage() is consumed
//    by the housekeeping thread, and so on;
//  - count_xrun() may be called from any thread;
//  - construction and destruction happen while process() is not running.
#pragma once

#include "../worker_queues.hpp"
#include "core_io.hpp"
#include "looprig/shm_layout.h"

#include <atomic>
#include <cstdint>
#include <memory>

namespace looprig::shm {
class Segment;
}

namespace looprig {

namespace rt {
class MidiControl;
struct ControllerRefusal;
}

class AudioCore {
public:
    /// Allocates everything the audio thread will ever use. Not RT safe.
    AudioCore(shm::Segment& segment, const CoreConfig& config);
    /// Frees samples still held. Not RT safe; process() must not be running.
    ~AudioCore();
    AudioCore(const AudioCore&) = delete;
    AudioCore& operator=(const AudioCore&) = delete;

    /// Play one period of `nframes` starting at JACK frame `frame_time`:
    /// read client commands, apply scheduled actions on their exact frame,
    /// mix, meter, publish. RT safe.
    void process(uint32_t nframes, uint64_t frame_time, const CoreOutputs& out);

    /// The queues, render generations and doorbells between the audio thread
    /// and the workers (worker_queues.hpp).
    WorkerQueues& queues() { return queues_; }
    SpscQueue<LoadRequest>& load_requests() { return queues_.load_requests; }
    SpscQueue<LoadResult>& load_results() { return queues_.load_results; }
    SpscQueue<Sample*>& garbage() { return queues_.garbage; }
    SpscQueue<RenderRequest>& render_requests() { return queues_.render_requests; }
    SpscQueue<RenderAnswer>& render_answers() { return queues_.render_answers; }
    /// The newest render generation the audio thread asked for on `slot`: the
    /// render thread skips older requests. Any thread.
    uint32_t latest_render_generation(int32_t slot) const { return queues_.latest_render_generation(slot); }

    /// Master audio for the loudness meter (audio thread -> loudness thread).
    SpscQueue<LoudnessBlock>& loudness_blocks() { return queues_.loudness_blocks; }
    /// The loudness thread's latest figures (LUFS), published every period. Any thread.
    void set_loudness(float momentary, float short_term, float integrated) {
        queues_.set_loudness(momentary, short_term, integrated);
    }
    /// Bumped by LR_CMD_METER_RESET: the loudness thread restarts its measurement. Any thread.
    uint32_t loudness_reset_generation() const { return queues_.loudness_reset.load(std::memory_order_acquire); }

    /// The workers' bells (WorkerQueues): rung by the audio thread at the end
    /// of a period in which it gave them something new.
    Doorbell& load_bell() { return queues_.load_bell; }
    Doorbell& render_bell() { return queues_.render_bell; }
    Doorbell& loudness_bell() { return queues_.loudness_bell; }
    Doorbell& housekeeping_bell() { return queues_.housekeeping_bell; }

    /// Any thread.
    void count_xrun() { xruns_.fetch_add(1, std::memory_order_relaxed); }
    /// Engine sample rate (for new loads and declick math). Any thread.
    void set_sample_rate(uint32_t rate) { sample_rate_.store(rate, std::memory_order_relaxed); }
    uint32_t slot_count() const { return config_.slot_count; }

    /// The transport mode clients asked for (the JACK side registers or
    /// releases the timebase callback accordingly). Any thread.
    uint32_t transport_mode() const { return transport_mode_.load(std::memory_order_acquire); }
    /// This period's JACK transport, set before process(). Audio thread only.
    void set_transport(const TransportInfo& info) { transport_ = info; }
    /// MIDI controllers (rt/midi_control.hpp): the map's handover, learn
    /// requests, this period's output events. See its threading notes.
    rt::MidiControl& midi();
    /// Controllers' commands the engine refused, for the log (audio thread -> housekeeping).
    SpscQueue<rt::ControllerRefusal>& controller_refusals();
    /// Tempo, beats per bar and beat position of the master grid at the start
    /// of the next period, for the JACK timebase callback. Audio thread only. RT safe.
    void timebase(double* bpm, double* beats_per_bar, double* beat) const;

private:
    struct Impl;
    CoreConfig config_;
    WorkerQueues queues_;  // before impl_: its units hold references into it
    std::atomic<uint32_t> xruns_{0};
    std::atomic<uint32_t> sample_rate_{48000};
    std::atomic<uint32_t> transport_mode_{LR_TRANSPORT_OFF};
    TransportInfo transport_;
    std::unique_ptr<Impl> impl_;
};

}  // namespace looprig
