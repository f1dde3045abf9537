// The audio thread's world: slots, voices, the schedule, the client rings and
// the meters. Independent of JACK, so benchmarks and tests drive process()
// directly. Threading contract:
//  - process() runs on the audio thread only and is RT safe;
//  - load_requests() is consumed by the loader thread, load_results() is
//    produced by it, garbage() is consumed by the housekeeping thread;
//  - count_xrun() may be called from any thread;
//  - construction and destruction happen while process() is not running.
#pragma once

#include "../sample.hpp"
#include "../spsc_queue.hpp"
#include "doorbell.hpp"
#include "looprig/shm_layout.h"

#include <atomic>
#include <cstdint>
#include <memory>

namespace looprig::shm {
class Segment;
}

namespace looprig {

/// A load the audio thread accepted, for the loader thread.
struct LoadRequest {
    uint32_t client = 0;
    uint32_t generation = 0;
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

struct CoreConfig {
    uint32_t slot_count = 32;
    uint32_t sample_rate = 48000;
    uint32_t max_frames = 8192;     // largest period process() accepts
    uint32_t declick_frames = 0;    // start/stop/mute/gain ramp length
    uint32_t schedule_capacity = 4096;
    uint32_t smooth_frames = 960;   // ramp of mixer/effect params (20 ms at 48 kHz)
    double max_delay_seconds = 10.0;  // the delay effect's longest time
    double pan_law_db = -3.0;       // mono sources' pan law: gain at centre (0, -3, -4.5, -6)
};

/// Output buffers for one period; any but the master may be null (not registered).
struct CoreOutputs {
    float* master[2] = {nullptr, nullptr};
    float* const* slot_left = nullptr;
    float* const* slot_right = nullptr;
    float* group[LR_GROUPS][2] = {};       // each group bus after its gain/mute
    float* send[LR_SENDS][2] = {};         // what each send bus feeds its effect
    float* fx_return[LR_SENDS][2] = {};    // each effect's return after its level
};

class AudioCore {
public:
    /// Allocates everything the audio thread will ever use. Not RT safe.
    AudioCore(shm::Segment& segment, const CoreConfig& config);
    /// Frees samples still held. Not RT safe; process() must not be running.
    ~AudioCore();
    AudioCore(const AudioCore&) = delete;
    AudioCore& operator=(const AudioCore&) = delete;

    /// Render one period of `nframes` starting at JACK frame `frame_time`:
    /// read client commands, apply scheduled actions on their exact frame,
    /// mix, meter, publish. RT safe.
    void process(uint32_t nframes, uint64_t frame_time, const CoreOutputs& out);

    SpscQueue<LoadRequest>& load_requests() { return load_requests_; }
    SpscQueue<LoadResult>& load_results() { return load_results_; }
    SpscQueue<Sample*>& garbage() { return garbage_; }
    SpscQueue<RenderRequest>& render_requests() { return render_requests_; }
    SpscQueue<RenderAnswer>& render_answers() { return render_answers_; }
    /// The newest render generation the audio thread asked for on `slot`: the
    /// render thread skips older requests. Any thread.
    uint32_t latest_render_generation(int32_t slot) const {
        return render_generations_[static_cast<uint32_t>(slot)].load(std::memory_order_acquire);
    }

    /// Master audio for the loudness meter (audio thread -> loudness thread).
    SpscQueue<LoudnessBlock>& loudness_blocks() { return loudness_blocks_; }
    /// The loudness thread's latest figures (LUFS), published every period. Any thread.
    void set_loudness(float momentary, float short_term, float integrated) {
        lufs_[0].store(momentary, std::memory_order_relaxed);
        lufs_[1].store(short_term, std::memory_order_relaxed);
        lufs_[2].store(integrated, std::memory_order_relaxed);
        loudness_updates_.fetch_add(1, std::memory_order_release);
    }
    /// Bumped by LR_CMD_METER_RESET: the loudness thread restarts its measurement. Any thread.
    uint32_t loudness_reset_generation() const { return loudness_reset_.load(std::memory_order_acquire); }

    /// Workers sleep until the audio thread rings their bell (RT safe, at the
    /// end of process(), only when there is something new): the loader for
    /// load requests, the render threads once per render request, the
    /// loudness thread for master blocks and meter resets, housekeeping for
    /// garbage and changes of the transport mode.
    Doorbell& load_bell() { return load_bell_; }
    Doorbell& render_bell() { return render_bell_; }
    Doorbell& loudness_bell() { return loudness_bell_; }
    Doorbell& housekeeping_bell() { return housekeeping_bell_; }

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
    /// Tempo, meter and beat position of the master grid at the start of the
    /// next period, for the JACK timebase callback. Audio thread only. RT safe.
    void timebase(double* bpm, double* beats_per_bar, double* beat) const;

private:
    struct Impl;
    CoreConfig config_;
    std::unique_ptr<Impl> impl_;
    SpscQueue<LoadRequest> load_requests_;
    SpscQueue<LoadResult> load_results_;
    SpscQueue<Sample*> garbage_;
    SpscQueue<RenderRequest> render_requests_;
    SpscQueue<RenderAnswer> render_answers_;
    std::unique_ptr<std::atomic<uint32_t>[]> render_generations_;
    SpscQueue<LoudnessBlock> loudness_blocks_;
    std::atomic<float> lufs_[3];
    std::atomic<uint32_t> loudness_updates_{0};
    std::atomic<uint32_t> loudness_reset_{0};
    std::atomic<uint32_t> xruns_{0};
    std::atomic<uint32_t> sample_rate_{48000};
    std::atomic<uint32_t> transport_mode_{LR_TRANSPORT_OFF};
    TransportInfo transport_;

    /// Ring the bells of workers with something new since the last call. Audio thread only. RT safe.
    void wake_workers() {
        if (const std::size_t n = load_requests_.pushed(); n != woke_.loads) {
            woke_.loads = n;
            load_bell_.ring();
        }
        for (const std::size_t n = render_requests_.pushed(); woke_.renders != n; ++woke_.renders)
            render_bell_.ring();  // one each: several render threads may take them
        const uint32_t reset = loudness_reset_.load(std::memory_order_relaxed);
        if (const std::size_t n = loudness_blocks_.pushed(); n != woke_.loudness || reset != woke_.reset) {
            woke_.loudness = n;
            woke_.reset = reset;
            loudness_bell_.ring();
        }
        const uint32_t mode = transport_mode_.load(std::memory_order_relaxed);
        if (const std::size_t n = garbage_.pushed(); n != woke_.garbage || mode != woke_.mode) {
            woke_.garbage = n;
            woke_.mode = mode;
            housekeeping_bell_.ring();
        }
    }
    Doorbell load_bell_, render_bell_, loudness_bell_, housekeeping_bell_;
    struct {
        std::size_t loads = 0, renders = 0, loudness = 0, garbage = 0;
        uint32_t reset = 0, mode = LR_TRANSPORT_OFF;
    } woke_;  // audio thread only
};

}  // namespace looprig
