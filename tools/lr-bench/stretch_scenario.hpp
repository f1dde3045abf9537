// --stretch: the scenario of issue 3 (docs/BENCHMARKS.md "Stretch"). N stereo
// loops follow the master tempo, each declared at its own tempo (time ratio
// 0.8..1.25 at the starting master tempo) and pitch (-5..+7 semitones), mode
// stretch, with a RenderWorker (the engine's render thread) serving their
// renders. Three timed phases, each a row: `pending` (the commands go in;
// every slot plays its interim - varispeed, and with a pitch the engine's
// delay-line pitch shifter - until its render arrives; ends when
// renders_pending is 0 and all N play renders), `steady` (all play renders),
// `tempo` (LR_CMD_TEMPO to another BPM while all play; ends when every loop
// plays its new render again).
//
// This header: the scenario's rows and the pieces both runners use
// (stretch_scenario.cpp); the runners are stretch_direct.cpp and
// stretch_jack.cpp, the output stretch_report.cpp.
#pragma once

#include "options.hpp"
#include "report.hpp"
#include "rig.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace looprig::bench {

/// The loops of the scenario. Loop i is declared at bpm[i] = master * ratio_i
/// (ratio_i geometric over 0.8..1.25) and is beats[i] whole beats long at that
/// tempo (frames[i] = beats * 60 * rate / bpm, 2..4 s); pitch[i] spreads over
/// -5..+7 semitones in an order unrelated to the tempo (a permutation).
struct StretchPlan {
    std::vector<uint64_t> frames;
    std::vector<uint32_t> beats;
    std::vector<double> bpm;
    std::vector<double> pitch;
};

StretchPlan stretch_plan(uint32_t n, uint32_t rate, double master_bpm);

/// A stereo beat loop of `frames` frames and `beats` beats: a pad of two
/// partials per channel (whole cycles per loop), a kick (falling sine, 150 ms)
/// on even beats and a noise hat (40 ms) on every off-beat; deterministic.
/// Material with transients and tones, so Rubber Band does its usual work.
/// Not RT safe.
std::unique_ptr<Sample> synth_beat_loop(uint64_t frames, uint32_t beats, uint32_t rate, uint32_t index);

/// Resident memory of this process, MiB (-1 if unreadable). Not RT safe.
struct Mem {
    double rss = -1;  // VmRSS
    double hwm = -1;  // VmHWM: peak since start or since reset_hwm()
};
Mem read_mem();
/// Give freed heap back to the kernel and restart VmHWM from the current RSS
/// (/proc/self/clear_refs "5", Linux >= 4.0), so each row's peak is its own.
bool reset_hwm();

/// The render picture from the meters, read under their sequence lock (the
/// audio thread may be writing them). Not RT safe.
struct RenderView {
    uint64_t frame_time = 0;  // of the period the meters describe
    uint32_t pending = 0;     // renders_pending
    uint32_t ready = 0;       // slots with render == READY
    uint32_t playing = 0;
    double bpm = 0;
};
RenderView read_render_view(shm::Segment& seg, uint32_t loops);

constexpr double kSlowFraction = 0.2;  // issue 3's p99 target, as a fraction of the period

/// One timed phase of a stretch row.
struct PhaseResult {
    const char* name = "";
    Stats stats;
    bool render_phase = false;  // ends when the renders are in (else after a fixed time)
    double settle_s = -1;       // from the commands to renders_pending == 0 and all playing renders
    double first_s = -1;        // from the commands to the first render installed
    double wall_s = 0;          // the phase's wall time
    double audio_s = 0;         // periods * frames / rate
    uint32_t behind = 0;        // --direct: periods after which the pacing had fallen behind
    uint32_t max_pending = 0;
    Stats all_interim;        // render phases: the periods before the first render came in
    uint64_t max_index = 0;     // the phase's slowest period (0 = its first)
    // --direct: periods slower than kSlowFraction, and how many of them (and
    // the slowest) saw an involuntary context switch / a page fault inside the call.
    uint32_t slow = 0, slow_preempted = 0, slow_faulted = 0;
    bool max_preempted = false, max_faulted = false;
    bool timed_out = false;
    uint32_t xruns = 0;         // --jack
    double dsp_mean = -1, dsp_max = -1;
};

/// One (frames, loops) row of the scenario: its three phases, the memory
/// readings and the checks (ok() false: exit status 3).
struct StretchRow {
    uint32_t frames = 0, loops = 0, rate = 0;
    bool jack = false;
    PhaseResult phase[3];
    Mem before, loaded, rendered, rerendered;
    Mem trimmed;  // re-rendered, after malloc_trim(0): what is still allocated (freed memory kept by malloc aside)
    bool hwm_reset = false;
    float master_peak = 0;
    uint32_t playing = 0;
    uint32_t ready = 0;          // slots playing renders at the end
    uint32_t beats_mismatch = 0; // LOOP_TEMPO acks whose beats differ from the plan
    uint32_t beats_min = 0, beats_max = 0;
    double seconds_min = 0, seconds_max = 0, bpm_min = 0, bpm_max = 0;
    bool ok() const {
        return playing == loops && ready == loops && beats_mismatch == 0 && (loops == 0 || master_peak > 0.0f) &&
               !phase[0].timed_out && !phase[2].timed_out && phase[0].stats.count && phase[1].stats.count &&
               phase[2].stats.count;
    }
};

/// Load the scenario's loops into a fresh rig (untimed, not RT safe).
std::unique_ptr<Rig> stretch_rig(const Options& o, uint32_t rate, uint32_t max_frames, uint32_t loops,
                                 const StretchPlan& plan, StretchRow& row);

/// Queue the scenario's per-slot commands: mode stretch, loop tempo (BPM),
/// pitch, play.
void send_stretch_commands(Rig& rig, const StretchPlan& plan, uint32_t loops);

/// Queue the master tempo change to `bpm`.
void send_tempo(Rig& rig, double bpm);

/// After a render phase: is everything in? The meters must describe a period
/// at or after the one that answered the last command.
bool renders_in(Rig& rig, const RenderView& v, uint32_t loops);

/// LOOP_TEMPO acks whose beats differ from the plan.
uint32_t count_beats_mismatch(const Rig& rig, const StretchPlan& plan, uint32_t loops);

/// "lr-bench: <s>" on stderr, flushed.
void note_stderr(const std::string& s);

/// --direct --stretch: one row (three phases) at `frames`, paced. Not RT safe.
StretchRow run_stretch_direct(const Options& o, uint32_t frames, uint32_t loops);

/// --jack --stretch: one row (three phases) on the server's period. Not RT safe.
StretchRow run_stretch_jack(const Options& o, uint32_t loops);

/// The rows as a table on stdout (one line per phase) with the detail lines
/// (slowest periods, material, interim cost, renders, memory, WARNINGs).
void print_stretch_table(const Options& o, const std::vector<StretchRow>& rows);

/// The rows as one JSON object on stdout (one entry per phase).
void print_stretch_json(const Options& o, const std::vector<StretchRow>& rows);

}  // namespace looprig::bench
