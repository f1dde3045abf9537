// lr-bench: how long AudioCore::process() takes per period, as a fraction of
// the period, for N playing loops; either called directly in a loop (no JACK)
// or from inside a real JACK client's process callback.
//
// Each (frames, loops) row builds its own segment + AudioCore, hands it N
// synthesised stereo loops (different prime lengths, 2-4 s) through
// load_results(), plays them all through client place 0's command ring, and
// only then times the periods into a preallocated array.
//
// Threads: in --jack mode the process callback (jack_process) runs on JACK's
// RT thread and is RT safe; everything else runs on the main thread (or
// JACK's notification thread for the xrun/buffer-size callbacks) and is not.
#include "render_worker.hpp"
#include "rt/audio_core.hpp"

#include "ring.hpp"
#include "sample.hpp"
#include "segment.hpp"

#include <fmt/format.h>
#include <jack/jack.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cerrno>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <deque>
#include <malloc.h>
#include <memory>
#include <numbers>
#include <numeric>
#include <sched.h>
#include <sys/resource.h>
#include <stdexcept>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

namespace {

using looprig::AudioCore;
using looprig::CoreConfig;
using looprig::CoreOutputs;
using looprig::LoadResult;
using looprig::Sample;
using looprig::shm::RingConsumer;
using looprig::shm::RingProducer;

const char* kUsage = R"(usage: lr-bench [--direct | --jack] [options]
Times AudioCore::process() per period for N playing stereo loops and prints
median / p99 / max / mean as fractions of the period (1.0 = the whole period).

modes:
  --direct            call process() in a loop, no JACK (default)
  --jack              run inside a JACK client (the server's period size;
                      honours $JACK_DEFAULT_SERVER); also counts xruns
options:
  --loops LIST        comma-separated loop counts, one row each (default 1,8,32)
  --frames LIST       period sizes for --direct (default 64,256); in --jack mode
                      only the server's period is allowed
  --periods K         timed periods per row (--direct; default 20000)
  --seconds S         timed seconds per row (--jack default 10; in --direct
                      overrides --periods with S * rate / frames)
  --rate R            sample rate for --direct (default 48000)
  --slots S           engine slot count (default 32, raised to the largest N),
                      like looprigd --slots
  --declick-ms MS     engine declick ramp (default 2, like looprigd)
  --slot-outs         also write per-slot outputs (like looprigd --slot-outs)
  --fx                every playing slot runs the high-pass, low-pass and 3-band EQ
                      (all on, not flat), sends to both buses (1 post-, 2 pre-fader)
                      and a group bus; the delay (0.75 beats, feedback 0.4) and the
                      reverb (2.5 s) run; --direct also writes the bus outs
                      (like looprigd --bus-outs)
  --paced             --direct: one call per period of wall time (colder caches,
                      like JACK) instead of back to back
  --warmup K          untimed periods before each --direct row (default 500)
  --fifo              --direct: run the timing thread SCHED_FIFO 70 if allowed
  --name NAME         JACK client name for --jack (default lr-bench)
  --json              machine-readable output
  --help              this text
stretch scenario (issue 3; docs/BENCHMARKS.md "Stretch"):
  --stretch           N loops (--loops, default 32) follow the master tempo, each
                      declared at its own BPM (time ratio 0.8..1.25) with its
                      own pitch (-5..+7 st), mode stretch, a render thread
                      serving their renders. Three rows per (frames, loops):
                      pending (interim playback until every render is in), steady
                      (--seconds, default 10, or --periods), tempo (after a
                      master tempo change until all play new renders); plus
                      render times and memory. --direct runs are always paced;
                      --warmup is not used
  --faster-renders    renders with R2 (OptionEngineFaster), like looprigd
                      --faster-renders; the default is R3, like looprigd
  --finer             R3 renders (the default; kept for older command lines)
  --render-threads N  render threads, like looprigd (default: cores, at most 4)
  --tempo FROM,TO     master tempo before and after the change (default 120,100)
  --render-timeout S  give up on a render phase after S seconds (default 300)
In --jack mode the lines "lr-bench: window start" / "lr-bench: window end" on
stderr bracket each row's timed window (bench-jack.sh uses them).
)";

[[noreturn]] void usage_error(const std::string& what) {
    fmt::print(stderr, "lr-bench: {}\n{}", what, kUsage);
    std::exit(2);
}

double parse_number(const std::string& option, const char* text) {
    char* end = nullptr;
    errno = 0;
    const double v = std::strtod(text, &end);
    if (!text[0] || *end || errno) usage_error(fmt::format("{} needs a number, not '{}'", option, text));
    return v;
}

uint32_t parse_count(const std::string& option, const std::string& text, uint32_t lo, uint32_t hi) {
    const double v = parse_number(option, text.c_str());
    if (v != std::floor(v) || v < lo || v > hi)
        usage_error(fmt::format("{} must be whole numbers {}..{}, not '{}'", option, lo, hi, text));
    return static_cast<uint32_t>(v);
}

std::vector<uint32_t> parse_list(const std::string& option, const std::string& text, uint32_t lo, uint32_t hi) {
    std::vector<uint32_t> out;
    std::size_t start = 0;
    while (start <= text.size()) {
        const std::size_t comma = text.find(',', start);
        const std::string item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        out.push_back(parse_count(option, item, lo, hi));
        if (comma == std::string::npos) break;
        start = comma + 1;
    }
    return out;
}

struct Options {
    bool jack = false;
    std::vector<uint32_t> loops{1, 8, 32};
    std::vector<uint32_t> frames{64, 256};
    bool frames_given = false;
    uint64_t periods = 20000;
    double seconds = 0.0;  // 0 = not given
    uint32_t rate = 48000;
    uint32_t slots = 32;
    double declick_ms = 2.0;
    bool slot_outs = false;
    bool fx = false;
    bool paced = false;
    uint32_t warmup = 500;
    bool fifo = false;
    std::string name = "lr-bench";
    bool json = false;
    bool periods_given = false;
    bool loops_given = false;
    // --stretch
    bool stretch = false;
    bool finer = true;
    bool renders_given = false;
    uint32_t render_threads = 0;  // 0: RenderWorker::default_threads()
    double tempo_from = 120.0;
    double tempo_to = 100.0;
    double render_timeout = 300.0;
};

uint32_t render_threads(const Options& o) {
    return o.render_threads ? o.render_threads : looprig::RenderWorker::default_threads();
}

/// Set by SIGINT/SIGTERM/SIGHUP: finish the current row early, clean up
/// (the segment is unlinked by its destructor) and exit 130.
volatile std::sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

/// CLOCK_MONOTONIC in ns (vDSO, no system call). RT safe.
inline uint64_t now_ns() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

// ---------------------------------------------------------------------------
// Statistics (main thread, after a row).

struct Stats {
    uint64_t count = 0;
    double median = 0, p99 = 0, max = 0, mean = 0, min = 0;  // fractions of the period
    double median_us = 0, p99_us = 0, max_us = 0, mean_us = 0;
};

/// Nearest-rank statistics of `ns` (sorted in place). Not RT safe.
Stats summarize(std::vector<uint64_t>& ns, std::size_t n, double period_ns) {
    Stats s;
    s.count = n;
    if (n == 0) return s;
    std::sort(ns.begin(), ns.begin() + static_cast<std::ptrdiff_t>(n));
    auto rank = [&](double q) {
        std::size_t r = static_cast<std::size_t>(std::ceil(q * static_cast<double>(n)));
        return static_cast<double>(ns[std::clamp<std::size_t>(r, 1, n) - 1]);
    };
    long double sum = 0;
    for (std::size_t i = 0; i < n; ++i) sum += ns[i];
    const double med = rank(0.5), p99 = rank(0.99), mx = static_cast<double>(ns[n - 1]);
    const double mean = static_cast<double>(sum / n);
    s.median = med / period_ns;
    s.p99 = p99 / period_ns;
    s.max = mx / period_ns;
    s.mean = mean / period_ns;
    s.min = static_cast<double>(ns[0]) / period_ns;
    s.median_us = med / 1e3;
    s.p99_us = p99 / 1e3;
    s.max_us = mx / 1e3;
    s.mean_us = mean / 1e3;
    return s;
}

struct Row {
    uint32_t frames = 0;
    uint32_t loops = 0;
    uint32_t rate = 0;
    Stats stats;
    bool jack = false;
    uint32_t xruns = 0;          // xrun callbacks during the timed window
    uint32_t xruns_total = 0;    // ... during the whole row (setup included)
    double dsp_load_mean = -1;   // jack_cpu_load() samples during the window, percent
    double dsp_load_max = -1;
    float master_peak = 0;       // sanity: the loops were audible
    uint32_t playing = 0;        // sanity: slots the engine reports as playing at the end
    bool buffer_size_changed = false;
};

// ---------------------------------------------------------------------------
// Test material and the engine under test.

bool is_prime(uint64_t n) {
    if (n < 2) return false;
    for (uint64_t d = 2; d * d <= n; ++d)
        if (n % d == 0) return false;
    return true;
}

/// A stereo loop of `frames` frames: a sine per channel with a whole number of
/// cycles, so the seam is clean. Not RT safe.
std::unique_ptr<Sample> synth_loop(uint64_t frames, uint32_t rate, uint32_t index) {
    auto s = std::make_unique<Sample>();
    s->frames = frames;
    s->channels = 2;
    s->source_rate = rate;
    s->source_frames = frames;
    s->left.resize(frames);
    s->right.resize(frames);
    const double seconds = static_cast<double>(frames) / rate;
    const double cycles_l = std::round(seconds * (110.0 + 17.0 * index));
    const double cycles_r = std::round(seconds * (165.0 + 23.0 * index));
    for (uint64_t i = 0; i < frames; ++i) {
        const double x = 2.0 * std::numbers::pi * static_cast<double>(i) / static_cast<double>(frames);
        s->left[i] = static_cast<float>(0.05 * std::sin(cycles_l * x));
        s->right[i] = static_cast<float>(0.05 * std::sin(cycles_r * x));
    }
    std::snprintf(s->name, sizeof s->name, "bench-%u-%llu.synth", index, static_cast<unsigned long long>(frames));
    return s;
}

/// Loop lengths: distinct primes spread over (2 s, 4 s).
std::vector<uint64_t> loop_lengths(uint32_t n, uint32_t rate) {
    std::vector<uint64_t> out;
    uint64_t last = 0;
    for (uint32_t i = 0; i < n; ++i) {
        uint64_t p = static_cast<uint64_t>(rate * (2.0 + 2.0 * (i + 0.5) / n));
        p = std::max(p, last + 1);
        while (!is_prime(p)) ++p;
        out.push_back(p);
        last = p;
    }
    return out;
}

/// A segment, an AudioCore and client place 0, with the setup traffic
/// (loads, play commands, acks). Every method runs on a non-RT thread; only
/// core().process() may run on the audio thread.
class Rig {
public:
    /// `samples`: the loops to load into slots 0..loops-1 (default: synth_loop
    /// sines of loop_lengths()). `auto_play`: play every slot once all are
    /// loaded; otherwise only what send() queues is sent.
    Rig(uint32_t slots, uint32_t rate, uint32_t max_frames, double declick_ms, uint32_t loops,
        std::vector<std::unique_ptr<Sample>> samples = {}, bool auto_play = true)
        : loops_(loops), auto_play_(auto_play), samples_(std::move(samples)) {
        seg_name_ = fmt::format("bench-{}", ::getpid());
        segment_ = looprig::shm::Segment::create(seg_name_, slots);
        segment_->header()->sample_rate = rate;
        CoreConfig cfg;
        cfg.slot_count = slots;
        cfg.sample_rate = rate;
        cfg.max_frames = max_frames;
        cfg.declick_frames = static_cast<uint32_t>(std::lround(declick_ms * rate / 1000.0));
        core_ = std::make_unique<AudioCore>(*segment_, cfg);
        lr_client_slot* c = segment_->client(0);
        commands_ = RingProducer<lr_command>(&c->cmd, c->commands, LR_CMD_RING_SIZE);
        events_ = RingConsumer<lr_event>(&c->evt, c->events, LR_EVT_RING_SIZE);
        generation_ = c->generation;
        looprig::shm::store_release(c->owner_pid, static_cast<uint32_t>(::getpid()));
        looprig::shm::store_release(c->state, LR_CLIENT_ACTIVE);
        looprig::shm::store_release(segment_->header()->engine_state, LR_ENGINE_RUNNING);  // for lr-inspect
        if (samples_.empty()) {
            const auto lengths = loop_lengths(loops, rate);
            for (uint32_t i = 0; i < loops; ++i) samples_.push_back(synth_loop(lengths[i], rate, i));
        }
        if (samples_.size() != loops) throw std::logic_error("Rig: one sample per loop");
        acked_beats_.assign(slots, 0.0);
    }
    ~Rig() {
        core_.reset();  // frees the samples it holds
    }

    AudioCore& core() { return *core_; }
    looprig::shm::Segment& segment() { return *segment_; }

    /// Push what fits of the loads, then (once all are installed) the plays;
    /// read the acks; free garbage. Call between periods. Not RT safe.
    void pump() {
        while (loads_pushed_ < loops_) {
            LoadResult r;
            r.client = 0;
            r.generation = generation_;
            r.id = 1 + loads_pushed_;
            r.slot = static_cast<int32_t>(loads_pushed_);
            r.code = LR_OK;
            r.sample = samples_[loads_pushed_].get();
            std::snprintf(r.message, sizeof r.message, "synthesised");
            if (!core_->load_results().push(r)) break;
            samples_[loads_pushed_].release();  // the core owns it now
            ++loads_pushed_;
        }
        while (auto_play_ && load_acks_ == loops_ && plays_pushed_ < loops_) {
            lr_command cmd{};
            cmd.id = 100000 + plays_pushed_;
            cmd.type = LR_CMD_PLAY;
            cmd.slot = static_cast<int32_t>(plays_pushed_);
            if (!commands_.push(cmd)) break;
            ++plays_pushed_;
        }
        while (load_acks_ == loops_ && !outbox_.empty()) {
            if (!commands_.push(outbox_.front())) break;
            outbox_.pop_front();
        }
        lr_event ev{};
        while (events_.pop_into(&ev)) {
            if (ev.id >= kSentIds && (ev.type == LR_EVT_ACK || ev.type == LR_EVT_ERROR)) {
                ++answered_;
                last_answer_frame_ = std::max(last_answer_frame_, ev.frame);
            }
            if (ev.type == LR_EVT_ACK && ev.command == LR_CMD_LOOP_TEMPO && ev.slot >= 0 &&
                static_cast<std::size_t>(ev.slot) < acked_beats_.size())
                acked_beats_[static_cast<std::size_t>(ev.slot)] = ev.value[0];
            if (ev.type == LR_EVT_ACK && ev.command == LR_CMD_LOAD) ++load_acks_;
            else if (ev.type == LR_EVT_ACK && ev.command == LR_CMD_PLAY) ++play_acks_;
            else if (ev.type == LR_EVT_ERROR) {
                ++errors_;
                if (first_error_.empty()) first_error_ = fmt::format("code {}: {}", ev.code, ev.message);
            }
        }
        Sample* g = nullptr;
        while (core_->garbage().pop_into(&g)) delete g;
    }
    /// Queue a command for client place 0 (sent, in order, once all loads are
    /// acked); its id is assigned here. Not RT safe.
    void send(lr_command cmd) {
        cmd.id = kSentIds + sent_++;
        outbox_.push_back(cmd);
    }
    /// Every send() command answered (ack or error).
    bool all_answered() const { return outbox_.empty() && answered_ == sent_; }
    bool loaded() const { return load_acks_ == loops_; }
    /// The latest period (its first frame) that answered a send() command.
    uint64_t last_answer_frame() const { return last_answer_frame_; }
    /// The loop length in beats the engine acked for LOOP_TEMPO on `slot` (0 = none).
    double acked_beats(uint32_t slot) const { return acked_beats_[slot]; }
    bool ready() const { return play_acks_ == loops_; }
    bool failed() const { return errors_ > 0; }
    const std::string& first_error() const { return first_error_; }

    /// Slots the engine's meters say are playing. Not RT safe (reads shm).
    uint32_t playing_slots() const {
        uint32_t n = 0;
        const lr_slot_meter* m = segment_->slot_meters();
        for (uint32_t i = 0; i < segment_->header()->slot_count; ++i)
            if (m[i].state == LR_SLOT_PLAYING) ++n;
        return n;
    }

private:
    static constexpr uint32_t kSentIds = 200000;
    uint32_t loops_;
    bool auto_play_;
    std::vector<std::unique_ptr<Sample>> samples_;
    std::string seg_name_;
    std::unique_ptr<looprig::shm::Segment> segment_;
    std::unique_ptr<AudioCore> core_;
    std::deque<lr_command> outbox_;
    uint32_t sent_ = 0, answered_ = 0;
    uint64_t last_answer_frame_ = 0;
    std::vector<double> acked_beats_;
    RingProducer<lr_command> commands_;
    RingConsumer<lr_event> events_;
    uint32_t generation_ = 0;
    uint32_t loads_pushed_ = 0, plays_pushed_ = 0;
    uint32_t load_acks_ = 0, play_acks_ = 0, errors_ = 0;
    std::string first_error_;
};

uint32_t slots_for(const Options& o, uint32_t loops) { return std::max(o.slots, std::max<uint32_t>(loops, 1)); }

// ---------------------------------------------------------------------------
// --direct

lr_command param_command(uint32_t id, int32_t target, double value) {
    lr_command c{};
    c.type = LR_CMD_PARAM;
    c.param = id;
    c.slot = target;
    c.value[0] = value;
    return c;
}

/// --fx: every filter and EQ band on (not flat), both sends, a group bus per
/// slot, both effects running. Sent like a client's commands. Not RT safe.
void queue_fx(Rig& rig, uint32_t loops) {
    const std::pair<uint32_t, double> strip[] = {
        {LR_P_HP_ON, 1},         {LR_P_HP_FREQ, 80},       {LR_P_LP_ON, 1},         {LR_P_LP_FREQ, 12000},
        {LR_P_LP_Q, 1.2},        {LR_P_EQ_LOW_GAIN, 3},    {LR_P_EQ_MID_GAIN, -4},  {LR_P_EQ_MID_Q, 1.4},
        {LR_P_EQ_HIGH_GAIN, 2},  {LR_P_SEND1_LEVEL, -12},  {LR_P_SEND2_LEVEL, -10}, {LR_P_SEND2_PRE, 1},
    };
    for (uint32_t i = 0; i < loops; ++i) {
        for (const auto& [id, v] : strip) rig.send(param_command(id, static_cast<int32_t>(i), v));
        rig.send(param_command(LR_P_GROUP, static_cast<int32_t>(i), static_cast<double>(i % LR_GROUPS)));
    }
    rig.send(param_command(LR_P_DELAY_BEATS, 0, 0.75));
    rig.send(param_command(LR_P_DELAY_FEEDBACK, 0, 0.4));
    rig.send(param_command(LR_P_REVERB_DECAY, 0, 2.5));
}

void try_fifo() {
    sched_param p{};
    p.sched_priority = 70;
    if (sched_setscheduler(0, SCHED_FIFO, &p) != 0)
        fmt::print(stderr, "lr-bench: --fifo: cannot get SCHED_FIFO ({}); timing at normal priority\n",
                   std::strerror(errno));
}

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

    const uint64_t periods =
        o.seconds > 0 ? std::max<uint64_t>(1, static_cast<uint64_t>(o.seconds * o.rate / frames)) : o.periods;
    std::vector<uint64_t> ns(periods, 0);  // preallocated and touched before timing
    const uint64_t period_ns = static_cast<uint64_t>(1e9 * frames / o.rate);
    uint64_t deadline = now_ns();
    float peak = 0.0f;
    uint64_t done = 0;
    for (uint64_t k = 0; k < periods && !g_stop; ++k, ++done) {
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

// ---------------------------------------------------------------------------
// --jack

struct JackRun {
    jack_client_t* client = nullptr;
    jack_port_t* master[2] = {nullptr, nullptr};
    std::vector<jack_port_t*> slot_ports[2];
    std::vector<float*> slot_bufs[2];
    AudioCore* core = nullptr;
    std::vector<uint64_t> times;              // preallocated; written by the RT thread only
    std::atomic<std::size_t> count{0};
    std::atomic<bool> recording{false};
    std::atomic<uint32_t> xruns{0};
    std::atomic<uint32_t> xruns_total{0};
    std::atomic<bool> buffer_size_changed{false};
    std::atomic<float> peak{0.0f};
    uint32_t frames = 0;                      // the period the row was set up for

    /// JACK process callback. RT safe: no allocation, locks, I/O or system
    /// calls (clock_gettime is the vDSO); writes only preallocated memory.
    static int process(jack_nframes_t nframes, void* arg) {
        auto* self = static_cast<JackRun*>(arg);
        const uint64_t t0 = now_ns();
        CoreOutputs out;
        out.master[0] = static_cast<float*>(jack_port_get_buffer(self->master[0], nframes));
        out.master[1] = static_cast<float*>(jack_port_get_buffer(self->master[1], nframes));
        if (!self->slot_ports[0].empty()) {
            for (std::size_t i = 0; i < self->slot_ports[0].size(); ++i) {
                self->slot_bufs[0][i] = static_cast<float*>(jack_port_get_buffer(self->slot_ports[0][i], nframes));
                self->slot_bufs[1][i] = static_cast<float*>(jack_port_get_buffer(self->slot_ports[1][i], nframes));
            }
            out.slot_left = self->slot_bufs[0].data();
            out.slot_right = self->slot_bufs[1].data();
        }
        self->core->process(nframes, jack_last_frame_time(self->client), out);
        const uint64_t t1 = now_ns();
        if (self->recording.load(std::memory_order_acquire)) {
            const std::size_t i = self->count.load(std::memory_order_relaxed);
            if (i < self->times.size()) {
                self->times[i] = t1 - t0;
                self->count.store(i + 1, std::memory_order_release);
            }
            float p = 0.0f;
            for (jack_nframes_t k = 0; k < nframes; k += 8) p = std::max(p, std::fabs(out.master[0][k]));
            if (p > self->peak.load(std::memory_order_relaxed)) self->peak.store(p, std::memory_order_relaxed);
        }
        return 0;
    }
    /// JACK xrun callback (notification thread). RT safe (atomics only).
    static int xrun(void* arg) {
        auto* self = static_cast<JackRun*>(arg);
        self->xruns_total.fetch_add(1, std::memory_order_relaxed);
        if (self->recording.load(std::memory_order_acquire)) self->xruns.fetch_add(1, std::memory_order_relaxed);
        self->core->count_xrun();
        return 0;
    }
    /// JACK buffer-size callback: a change spoils the row. RT safe (atomics only).
    static int buffer_size(jack_nframes_t nframes, void* arg) {
        auto* self = static_cast<JackRun*>(arg);
        if (nframes != self->frames) self->buffer_size_changed.store(true);
        return 0;
    }
};

jack_client_t* open_jack(const std::string& name) {
    jack_status_t status{};
    jack_client_t* client = jack_client_open(name.c_str(), JackNoStartServer, &status);
    if (!client) {
        const char* server = std::getenv("JACK_DEFAULT_SERVER");
        throw std::runtime_error(fmt::format("cannot connect to the JACK server '{}' (status 0x{:x}); is jackd running?",
                                             server ? server : "default", static_cast<unsigned>(status)));
    }
    return client;
}

/// Deactivates (if activated) and closes the client when the run ends.
struct JackCloser {
    JackRun& r;
    bool active = false;
    ~JackCloser() {
        if (active) jack_deactivate(r.client);
        jack_client_close(r.client);
    }
};

/// The server's period; --frames may only repeat it.
uint32_t server_period(jack_client_t* client, const Options& o) {
    const uint32_t frames = jack_get_buffer_size(client);
    if (o.frames_given && (o.frames.size() != 1 || o.frames[0] != frames))
        throw std::runtime_error(fmt::format("the JACK server runs {}-frame periods; --frames cannot change that "
                                             "(restart jackd with -p)", frames));
    return frames;
}

/// Fill the rig's segment header as looprigd would and register its JACK
/// ports (master, and per-slot with --slot-outs). Not RT safe.
void expose_to_jack(JackRun& run, Rig& rig, const Options& o, uint32_t frames) {
    lr_header* h = rig.segment().header();
    h->buffer_size = frames;
    const char* server = std::getenv("JACK_DEFAULT_SERVER");
    std::snprintf(h->jack_server_name, LR_NAME_MAX, "%s", server ? server : "default");
    std::snprintf(h->jack_client_name, LR_NAME_MAX, "%s", jack_get_client_name(run.client));
    auto add_port = [&](const std::string& n) {
        jack_port_t* p = jack_port_register(run.client, n.c_str(), JACK_DEFAULT_AUDIO_TYPE, JackPortIsOutput, 0);
        if (!p) throw std::runtime_error("cannot register JACK port " + n);
        return p;
    };
    run.master[0] = add_port("out_L");
    run.master[1] = add_port("out_R");
    if (o.slot_outs) {
        for (uint32_t i = 0; i < rig.core().slot_count(); ++i) {
            run.slot_ports[0].push_back(add_port(fmt::format("slot{:02}_L", i)));
            run.slot_ports[1].push_back(add_port(fmt::format("slot{:02}_R", i)));
        }
        run.slot_bufs[0].assign(rig.core().slot_count(), nullptr);
        run.slot_bufs[1].assign(rig.core().slot_count(), nullptr);
    }
}

/// Set the callbacks and activate the client (the closer then deactivates it). Not RT safe.
void activate_jack(JackRun& run, JackCloser& closer) {
    jack_set_process_callback(run.client, &JackRun::process, &run);
    jack_set_xrun_callback(run.client, &JackRun::xrun, &run);
    jack_set_buffer_size_callback(run.client, &JackRun::buffer_size, &run);
    if (jack_activate(run.client) != 0) throw std::runtime_error("cannot activate the JACK client");
    closer.active = true;
}

/// Pump the rig (the JACK cycle runs the core) until `done`, an engine error
/// or 20 s. `what`: "start" / "load", for the message. Not RT safe.
template <typename Done>
void pump_until(Rig& rig, Done done, const char* what) {
    using namespace std::chrono_literals;
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    while (!done() && !g_stop) {
        rig.pump();
        if (rig.failed()) throw std::runtime_error("setup: the engine answered " + rig.first_error());
        if (std::chrono::steady_clock::now() > deadline)
            throw std::runtime_error(fmt::format("setup: the loops did not {} within 20 s (is the server running "
                                                 "its cycle?)", what));
        std::this_thread::sleep_for(2ms);
    }
}

Row run_jack_row(const Options& o, uint32_t loops, double seconds) {
    using namespace std::chrono_literals;
    JackRun run;
    std::unique_ptr<Rig> rig_owner;  // declared first: destroyed after the client is closed
    run.client = open_jack(o.name);
    JackCloser closer{run};
    const uint32_t rate = jack_get_sample_rate(run.client);
    const uint32_t frames = server_period(run.client, o);
    run.frames = frames;
    rig_owner = std::make_unique<Rig>(slots_for(o, loops), rate, 8192, o.declick_ms, loops);
    Rig& rig = *rig_owner;
    if (o.fx) queue_fx(rig, loops);
    run.core = &rig.core();
    expose_to_jack(run, rig, o, frames);
    // Room for the window plus slack; touched now so the RT thread never faults it in.
    run.times.assign(static_cast<std::size_t>(seconds * rate / frames * 1.25) + 4096, 1);
    activate_jack(run, closer);
    pump_until(rig, [&] { return rig.ready() && rig.all_answered(); }, "start");
    for (int i = 0; i < 25 && !g_stop; ++i) std::this_thread::sleep_for(20ms);  // warm-up, untimed

    fmt::print(stderr, "lr-bench: window start (loops {}, {} frames, {} s)\n", loops, frames, seconds);
    std::fflush(stderr);
    run.recording.store(true, std::memory_order_release);
    const auto start = std::chrono::steady_clock::now();
    const auto end = start + std::chrono::duration<double>(seconds);
    double load_sum = 0, load_max = 0;
    int load_n = 0;
    auto next_load = start + 1s;
    while (std::chrono::steady_clock::now() < end && !g_stop) {
        std::this_thread::sleep_for(20ms);
        rig.pump();
        if (std::chrono::steady_clock::now() >= next_load) {
            const double l = jack_cpu_load(run.client);
            load_sum += l;
            load_max = std::max(load_max, l);
            ++load_n;
            next_load += 1s;
        }
    }
    run.recording.store(false, std::memory_order_release);
    fmt::print(stderr, "lr-bench: window end\n");
    std::fflush(stderr);
    std::this_thread::sleep_for(50ms);  // let a callback in flight finish its store
    const std::size_t n = run.count.load(std::memory_order_acquire);

    Row row;
    row.jack = true;
    row.frames = frames;
    row.loops = loops;
    row.rate = rate;
    row.stats = summarize(run.times, n, 1e9 * frames / rate);
    row.xruns = run.xruns.load();
    row.xruns_total = run.xruns_total.load();
    row.dsp_load_mean = load_n ? load_sum / load_n : -1;
    row.dsp_load_max = load_n ? load_max : -1;
    row.master_peak = run.peak.load();
    row.playing = rig.playing_slots();
    row.buffer_size_changed = run.buffer_size_changed.load();
    jack_deactivate(run.client);
    closer.active = false;
    return row;
}

// ---------------------------------------------------------------------------
// --stretch: the scenario of issue 3. N stereo loops follow the master tempo,
// each declared at its own tempo (time ratio 0.8..1.25 at the starting master
// tempo) and pitch (-5..+7 semitones), mode stretch, with a RenderWorker (the
// engine's render thread) serving their renders. Three timed phases, each a
// row: `pending` (the commands go in; every slot plays its interim - varispeed,
// and with a pitch the engine's delay-line pitch shifter - until its render
// arrives; ends when renders_pending is 0 and all N play renders),
// `steady` (all play renders), `tempo` (LR_CMD_TEMPO to another BPM while all
// play; ends when every loop plays its new render again).

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

StretchPlan stretch_plan(uint32_t n, uint32_t rate, double master_bpm) {
    StretchPlan p;
    uint32_t mult = 1;
    if (n > 1) {
        mult = static_cast<uint32_t>(0.4 * n) + 1;
        while (std::gcd(mult, n) != 1) ++mult;
    }
    for (uint32_t i = 0; i < n; ++i) {
        const double t = n > 1 ? static_cast<double>(i) / (n - 1) : 0.5;
        const double u = n > 1 ? static_cast<double>((static_cast<uint64_t>(i) * mult) % n) / (n - 1) : 0.5;
        const double bpm = master_bpm * 0.8 * std::pow(1.25 / 0.8, t);
        const double want_seconds = 2.0 + 2.0 * (i + 0.5) / n;
        const double lo = std::max(1.0, std::ceil(2.0 * bpm / 60.0 - 1e-9));
        const double hi = std::max(lo, std::floor(4.0 * bpm / 60.0 + 1e-9));
        const double beats = std::clamp(std::round(want_seconds * bpm / 60.0), lo, hi);
        p.bpm.push_back(bpm);
        p.beats.push_back(static_cast<uint32_t>(beats));
        p.frames.push_back(static_cast<uint64_t>(std::llround(beats * 60.0 * rate / bpm)));
        p.pitch.push_back(std::round((-5.0 + 12.0 * u) * 100.0) / 100.0);  // whole cents
    }
    return p;
}

/// A stereo beat loop of `frames` frames and `beats` beats: a pad of two
/// partials per channel (whole cycles per loop), a kick (falling sine, 150 ms)
/// on even beats and a noise hat (40 ms) on every off-beat; deterministic.
/// Material with transients and tones, so Rubber Band does its usual work.
/// Not RT safe.
std::unique_ptr<Sample> synth_beat_loop(uint64_t frames, uint32_t beats, uint32_t rate, uint32_t index) {
    auto s = std::make_unique<Sample>();
    s->frames = frames;
    s->channels = 2;
    s->source_rate = rate;
    s->source_frames = frames;
    s->left.assign(frames, 0.0f);
    s->right.assign(frames, 0.0f);
    const double seconds = static_cast<double>(frames) / rate;
    const double cycles[4] = {std::round(seconds * (110.0 + 17.0 * index)), std::round(seconds * (330.0 + 29.0 * index)),
                              std::round(seconds * (165.0 + 23.0 * index)), std::round(seconds * (495.0 + 31.0 * index))};
    for (uint64_t i = 0; i < frames; ++i) {
        const double x = 2.0 * std::numbers::pi * static_cast<double>(i) / static_cast<double>(frames);
        s->left[i] = static_cast<float>(0.03 * std::sin(cycles[0] * x) + 0.015 * std::sin(cycles[1] * x));
        s->right[i] = static_cast<float>(0.03 * std::sin(cycles[2] * x) + 0.015 * std::sin(cycles[3] * x));
    }
    uint32_t rng = 0x9e3779b9u * (index + 1);
    auto noise = [&rng] {  // xorshift32, -1..1
        rng ^= rng << 13;
        rng ^= rng >> 17;
        rng ^= rng << 5;
        return static_cast<double>(rng) / 2147483648.0 - 1.0;
    };
    const double beat_frames = static_cast<double>(frames) / beats;
    for (uint32_t b = 0; b < beats; ++b) {
        const auto start = static_cast<uint64_t>(std::llround(b * beat_frames));
        if (b % 2 == 0) {
            double phase = 0.0;
            for (uint64_t j = 0; j < static_cast<uint64_t>(0.15 * rate) && start + j < frames; ++j) {
                const double tt = static_cast<double>(j) / rate;
                phase += 2.0 * std::numbers::pi * (50.0 + 70.0 * std::exp(-tt / 0.03)) / rate;
                const auto v = static_cast<float>(0.08 * std::exp(-tt / 0.05) * std::sin(phase));
                s->left[start + j] += v;
                s->right[start + j] += v;
            }
        }
        const auto off = static_cast<uint64_t>(std::llround((b + 0.5) * beat_frames));
        for (uint64_t j = 0; j < static_cast<uint64_t>(0.04 * rate) && off + j < frames; ++j) {
            const double env = 0.02 * std::exp(-static_cast<double>(j) / (0.01 * rate));
            s->left[off + j] += static_cast<float>(env * noise());
            s->right[off + j] += static_cast<float>(env * noise());
        }
    }
    std::snprintf(s->name, sizeof s->name, "stretch-%u-%ub-%llu.synth", index, beats,
                  static_cast<unsigned long long>(frames));
    return s;
}

/// Resident memory of this process, MiB (-1 if unreadable). Not RT safe.
struct Mem {
    double rss = -1;  // VmRSS
    double hwm = -1;  // VmHWM: peak since start or since reset_hwm()
};
Mem read_mem() {
    Mem m;
    std::FILE* f = std::fopen("/proc/self/status", "r");
    if (!f) return m;
    char line[256];
    while (std::fgets(line, sizeof line, f)) {
        unsigned long long kb = 0;
        if (std::sscanf(line, "VmRSS: %llu kB", &kb) == 1) m.rss = static_cast<double>(kb) / 1024.0;
        else if (std::sscanf(line, "VmHWM: %llu kB", &kb) == 1) m.hwm = static_cast<double>(kb) / 1024.0;
    }
    std::fclose(f);
    return m;
}
/// Give freed heap back to the kernel and restart VmHWM from the current RSS
/// (/proc/self/clear_refs "5", Linux >= 4.0), so each row's peak is its own.
bool reset_hwm() {
    malloc_trim(0);
    std::FILE* f = std::fopen("/proc/self/clear_refs", "w");
    if (!f) return false;
    const bool ok = std::fputs("5", f) >= 0;
    return std::fclose(f) == 0 && ok;
}

/// The render picture from the meters, read under their sequence lock (the
/// audio thread may be writing them). Not RT safe.
struct RenderView {
    uint64_t frame_time = 0;  // of the period the meters describe
    uint32_t pending = 0;     // renders_pending
    uint32_t ready = 0;       // slots with render == READY
    uint32_t playing = 0;
    double bpm = 0;
};
RenderView read_render_view(looprig::shm::Segment& seg, uint32_t loops) {
    lr_meter_header* h = seg.meter_header();
    const lr_slot_meter* m = seg.slot_meters();
    for (;;) {
        const uint32_t s1 = std::atomic_ref<uint32_t>(h->seq).load(std::memory_order_acquire);
        if (s1 & 1u) {
            std::this_thread::yield();
            continue;
        }
        RenderView v;
        v.frame_time = h->frame_time;
        v.pending = h->renders_pending;
        v.bpm = h->tempo_bpm;
        for (uint32_t i = 0; i < loops; ++i) {
            if (m[i].render == LR_RENDER_READY) ++v.ready;
            if (m[i].state == LR_SLOT_PLAYING) ++v.playing;
        }
        std::atomic_thread_fence(std::memory_order_acquire);
        if (std::atomic_ref<uint32_t>(h->seq).load(std::memory_order_relaxed) == s1) return v;
    }
}

constexpr double kSlowFraction = 0.2;  // issue 3's p99 target, as a fraction of the period

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

/// Runs with SCHED_FIFO 70 while it lives (--fifo), back to SCHED_OTHER after;
/// created after the RenderWorker so that its thread does not inherit it.
struct FifoScope {
    bool on = false;
    explicit FifoScope(bool want) {
        if (!want) return;
        try_fifo();
        on = true;
    }
    ~FifoScope() {
        if (!on) return;
        sched_param p{};
        sched_setscheduler(0, SCHED_OTHER, &p);
    }
};

/// Load the scenario's loops into a fresh rig (untimed, not RT safe).
std::unique_ptr<Rig> stretch_rig(const Options& o, uint32_t rate, uint32_t max_frames, uint32_t loops,
                                 const StretchPlan& plan, StretchRow& row) {
    std::vector<std::unique_ptr<Sample>> samples;
    for (uint32_t i = 0; i < loops; ++i) samples.push_back(synth_beat_loop(plan.frames[i], plan.beats[i], rate, i));
    auto rig = std::make_unique<Rig>(slots_for(o, loops), rate, max_frames, o.declick_ms, loops, std::move(samples),
                                     false);
    lr_command t{};
    t.type = LR_CMD_TEMPO;
    t.value[0] = o.tempo_from;
    rig->send(t);
    row.beats_min = loops ? *std::min_element(plan.beats.begin(), plan.beats.end()) : 0;
    row.beats_max = loops ? *std::max_element(plan.beats.begin(), plan.beats.end()) : 0;
    row.bpm_min = loops ? plan.bpm.front() : 0;
    row.bpm_max = loops ? plan.bpm.back() : 0;
    row.seconds_min = row.seconds_max = 0;
    for (uint32_t i = 0; i < loops; ++i) {
        const double sec = static_cast<double>(plan.frames[i]) / rate;
        row.seconds_min = i ? std::min(row.seconds_min, sec) : sec;
        row.seconds_max = i ? std::max(row.seconds_max, sec) : sec;
    }
    return rig;
}

/// Queue the scenario's per-slot commands: mode stretch, loop tempo (BPM),
/// pitch, play.
void send_stretch_commands(Rig& rig, const StretchPlan& plan, uint32_t loops) {
    for (uint32_t i = 0; i < loops; ++i) {
        lr_command c{};
        c.slot = static_cast<int32_t>(i);
        c.type = LR_CMD_MODE;
        c.value[0] = LR_MODE_STRETCH;
        rig.send(c);
        c.type = LR_CMD_LOOP_TEMPO;
        c.value[0] = plan.bpm[i];
        rig.send(c);
        c.type = LR_CMD_PITCH;
        c.value[0] = plan.pitch[i];
        rig.send(c);
        c.type = LR_CMD_PLAY;
        c.value[0] = 0;
        rig.send(c);
    }
}

/// After a render phase: is everything in? The meters must describe a period
/// at or after the one that answered the last command.
bool renders_in(Rig& rig, const RenderView& v, uint32_t loops) {
    return rig.all_answered() && v.frame_time >= rig.last_answer_frame() && v.pending == 0 && v.playing == loops &&
           v.ready == loops;
}

uint32_t count_beats_mismatch(const Rig& rig, const StretchPlan& plan, uint32_t loops) {
    uint32_t bad = 0;
    for (uint32_t i = 0; i < loops; ++i)
        if (rig.acked_beats(i) != static_cast<double>(plan.beats[i])) ++bad;
    return bad;
}

void note_stderr(const std::string& s) {
    fmt::print(stderr, "lr-bench: {}\n", s);
    std::fflush(stderr);
}

StretchRow run_stretch_direct(const Options& o, uint32_t frames, uint32_t loops) {
    StretchRow row;
    row.frames = frames;
    row.loops = loops;
    row.rate = o.rate;
    const double steady_seconds = o.seconds > 0 ? o.seconds : 10.0;
    const uint64_t steady_periods =
        o.periods_given ? o.periods : std::max<uint64_t>(1, static_cast<uint64_t>(steady_seconds * o.rate / frames));
    const uint64_t max_render_periods =
        std::max<uint64_t>(1, static_cast<uint64_t>(o.render_timeout * o.rate / frames));
    // One timing array for every phase, touched before the first memory reading.
    std::vector<uint64_t> ns(std::max(steady_periods, max_render_periods), 1);
    std::vector<float> master[2] = {std::vector<float>(frames), std::vector<float>(frames)};

    row.hwm_reset = reset_hwm();
    row.before = read_mem();
    const StretchPlan plan = stretch_plan(loops, o.rate, o.tempo_from);
    std::unique_ptr<Rig> rig_owner = stretch_rig(o, o.rate, frames, loops, plan, row);
    Rig& rig = *rig_owner;
    looprig::RenderWorker worker(rig.core(), o.rate, o.finer, render_threads(o));  // destroyed before the rig
    FifoScope fifo(o.fifo);

    CoreOutputs out;
    out.master[0] = master[0].data();
    out.master[1] = master[1].data();
    uint64_t frame_time = 0;
    const uint64_t period_ns = static_cast<uint64_t>(1e9 * frames / o.rate);

    // Loads (and the starting tempo), untimed.
    for (uint32_t k = 0; !(rig.loaded() && rig.all_answered()) && !g_stop; ++k) {
        rig.pump();
        if (rig.failed()) throw std::runtime_error("setup: the engine answered " + rig.first_error());
        if (k > 100000) throw std::runtime_error("setup: the loops did not load within 100000 periods");
        rig.core().process(frames, frame_time, out);
        frame_time += frames;
    }
    row.loaded = read_mem();

    // One timed phase, paced to one period per period of wall time; ends after
    // `max_periods` or when `render_phase` and the renders are in.
    auto run_phase = [&](const char* name, bool render_phase, uint64_t max_periods) {
        PhaseResult p;
        p.name = name;
        p.render_phase = render_phase;
        note_stderr(fmt::format("phase {} (loops {}, {} frames)", name, loops, frames));
        rig.pump();  // the phase's commands go in now
        const uint64_t start = now_ns();
        uint64_t deadline = start;
        uint64_t done = 0, first_idx = 0, slowest = 0;
        bool finished = false;
        while (done < max_periods && !g_stop) {
            // Involuntary context switches and page faults of this thread
            // around the call (outside the timed window): explains slow periods.
            rusage u0{}, u1{};
            getrusage(RUSAGE_THREAD, &u0);
            const uint64_t t0 = now_ns();
            rig.core().process(frames, frame_time, out);
            const uint64_t t1 = now_ns();
            getrusage(RUSAGE_THREAD, &u1);
            ns[done++] = t1 - t0;
            const bool preempted = u1.ru_nivcsw != u0.ru_nivcsw;
            const bool faulted = u1.ru_minflt != u0.ru_minflt || u1.ru_majflt != u0.ru_majflt;
            if (static_cast<double>(t1 - t0) > kSlowFraction * static_cast<double>(period_ns)) {
                ++p.slow;
                if (preempted) ++p.slow_preempted;
                if (faulted) ++p.slow_faulted;
            }
            if (t1 - t0 >= slowest) {
                slowest = t1 - t0;
                p.max_preempted = preempted;
                p.max_faulted = faulted;
            }
            frame_time += frames;
            rig.pump();
            if (rig.failed()) throw std::runtime_error(std::string(name) + ": the engine answered " + rig.first_error());
            if (render_phase) {
                const RenderView v = read_render_view(rig.segment(), loops);
                p.max_pending = std::max(p.max_pending, v.pending);
                if (p.first_s < 0 && v.pending < p.max_pending) {
                    p.first_s = static_cast<double>(t1 - start) / 1e9;
                    first_idx = done;
                }
                if (renders_in(rig, v, loops)) {
                    p.settle_s = static_cast<double>(t1 - start) / 1e9;
                    if (p.first_s < 0) {
                        p.first_s = p.settle_s;
                        first_idx = done;
                    }
                    finished = true;
                    break;
                }
            }
            deadline += period_ns;
            const uint64_t t2 = now_ns();
            if (t2 > deadline + period_ns) {  // fell behind: do not burst to catch up
                deadline = t2;
                ++p.behind;
            }
            timespec ts{static_cast<time_t>(deadline / 1000000000ull), static_cast<long>(deadline % 1000000000ull)};
            while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR && !g_stop) {
            }
        }
        for (uint32_t i = 0; i < frames; ++i)  // sanity: the last period was audible
            row.master_peak = std::max({row.master_peak, std::fabs(master[0][i]), std::fabs(master[1][i])});
        p.timed_out = render_phase && !finished && !g_stop;
        p.wall_s = static_cast<double>(now_ns() - start) / 1e9;
        p.audio_s = static_cast<double>(done) * frames / o.rate;
        // The periods before the first render came in (sorted first: the
        // whole phase's statistics do not depend on the order).
        p.max_index = static_cast<uint64_t>(std::max_element(ns.begin(), ns.begin() + static_cast<std::ptrdiff_t>(done)) - ns.begin());
        if (render_phase) p.all_interim = summarize(ns, first_idx, 1e9 * frames / o.rate);
        p.stats = summarize(ns, done, 1e9 * frames / o.rate);
        return p;
    };

    send_stretch_commands(rig, plan, loops);
    row.phase[0] = run_phase("pending", true, max_render_periods);
    row.rendered = read_mem();
    if (!g_stop && !row.phase[0].timed_out) {
        row.phase[1] = run_phase("steady", false, steady_periods);
        lr_command t{};
        t.type = LR_CMD_TEMPO;
        t.value[0] = o.tempo_to;
        rig.send(t);
        if (!g_stop) row.phase[2] = run_phase("tempo", true, max_render_periods);
        row.rerendered = read_mem();
        malloc_trim(0);
        row.trimmed = read_mem();
    }
    row.phase[1].name = "steady";
    row.phase[2].name = "tempo";
    row.phase[2].render_phase = true;
    const RenderView v = read_render_view(rig.segment(), loops);
    row.playing = v.playing;
    row.ready = v.ready;
    row.beats_mismatch = count_beats_mismatch(rig, plan, loops);
    return row;
}

StretchRow run_stretch_jack(const Options& o, uint32_t loops) {
    using namespace std::chrono_literals;
    StretchRow row;
    row.jack = true;
    row.loops = loops;
    JackRun run;
    std::unique_ptr<Rig> rig_owner;                // destroyed after the worker and the client
    std::unique_ptr<looprig::RenderWorker> worker;  // destroyed after the client is closed
    run.client = open_jack(o.name);
    JackCloser closer{run};
    const uint32_t rate = jack_get_sample_rate(run.client);
    const uint32_t frames = server_period(run.client, o);
    row.frames = frames;
    row.rate = rate;
    run.frames = frames;
    const double steady_seconds = o.seconds > 0 ? o.seconds : 10.0;
    // Room for every phase; touched now (before the first memory reading) so
    // that the RT thread never faults it in.
    run.times.assign(static_cast<std::size_t>((2 * o.render_timeout + steady_seconds + 5) * rate / frames) + 4096, 1);

    row.hwm_reset = reset_hwm();
    row.before = read_mem();
    const StretchPlan plan = stretch_plan(loops, rate, o.tempo_from);
    rig_owner = stretch_rig(o, rate, 8192, loops, plan, row);
    Rig& rig = *rig_owner;
    worker = std::make_unique<looprig::RenderWorker>(rig.core(), rate, o.finer, render_threads(o));
    run.core = &rig.core();
    expose_to_jack(run, rig, o, frames);
    activate_jack(run, closer);
    pump_until(rig, [&] { return rig.loaded() && rig.all_answered(); }, "load");
    row.loaded = read_mem();
    for (int i = 0; i < 25 && !g_stop; ++i) std::this_thread::sleep_for(20ms);  // warm-up, untimed
    run.recording.store(true, std::memory_order_release);

    // One phase: the callback records its times; this thread polls the meters
    // every millisecond and marks where the phase ends in the callback's array.
    auto run_phase = [&](const char* name, bool render_phase, double max_seconds) {
        PhaseResult p;
        p.name = name;
        p.render_phase = render_phase;
        fmt::print(stderr, "lr-bench: window start (loops {}, {} frames, phase {})\n", loops, frames, name);
        std::fflush(stderr);
        const std::size_t idx0 = run.count.load(std::memory_order_acquire);
        const uint32_t x0 = run.xruns.load();
        const auto start = std::chrono::steady_clock::now();
        rig.pump();  // the phase's commands go in now
        auto seconds_since = [&](std::chrono::steady_clock::time_point t) {
            return std::chrono::duration<double>(t - start).count();
        };
        std::size_t first_idx = idx0;
        double load_sum = 0, load_max = 0;
        int load_n = 0;
        auto next_load = start + 1s;
        bool finished = false;
        for (;;) {
            std::this_thread::sleep_for(1ms);
            rig.pump();
            if (rig.failed()) throw std::runtime_error(std::string(name) + ": the engine answered " + rig.first_error());
            const auto now = std::chrono::steady_clock::now();
            if (render_phase) {
                const RenderView v = read_render_view(rig.segment(), loops);
                p.max_pending = std::max(p.max_pending, v.pending);
                if (p.first_s < 0 && v.pending < p.max_pending) {
                    p.first_s = seconds_since(now);
                    first_idx = run.count.load(std::memory_order_acquire);
                }
                if (renders_in(rig, v, loops)) {
                    p.settle_s = seconds_since(now);
                    if (p.first_s < 0) {
                        p.first_s = p.settle_s;
                        first_idx = run.count.load(std::memory_order_acquire);
                    }
                    finished = true;
                    break;
                }
            }
            if (now >= next_load) {
                const double l = jack_cpu_load(run.client);
                load_sum += l;
                load_max = std::max(load_max, l);
                ++load_n;
                next_load += 1s;
            }
            if (g_stop || seconds_since(now) >= max_seconds) break;
        }
        const std::size_t idx1 = run.count.load(std::memory_order_acquire);
        fmt::print(stderr, "lr-bench: window end\n");
        std::fflush(stderr);
        p.timed_out = render_phase && !finished && !g_stop;
        p.wall_s = seconds_since(std::chrono::steady_clock::now());
        p.audio_s = static_cast<double>(idx1 - idx0) * frames / rate;
        p.xruns = run.xruns.load() - x0;
        p.dsp_mean = load_n ? load_sum / load_n : -1;
        p.dsp_max = load_n ? load_max : -1;
        const double period_ns = 1e9 * frames / rate;
        std::vector<uint64_t> part(run.times.begin() + static_cast<std::ptrdiff_t>(idx0),
                                   run.times.begin() + static_cast<std::ptrdiff_t>(idx1));
        p.max_index = static_cast<uint64_t>(std::max_element(part.begin(), part.end()) - part.begin());
        if (render_phase) {
            std::vector<uint64_t> before(part.begin(), part.begin() + static_cast<std::ptrdiff_t>(first_idx - idx0));
            p.all_interim = summarize(before, before.size(), period_ns);
        }
        p.stats = summarize(part, part.size(), period_ns);
        return p;
    };

    send_stretch_commands(rig, plan, loops);
    row.phase[0] = run_phase("pending", true, o.render_timeout);
    row.rendered = read_mem();
    if (!g_stop && !row.phase[0].timed_out) {
        row.phase[1] = run_phase("steady", false, steady_seconds);
        lr_command t{};
        t.type = LR_CMD_TEMPO;
        t.value[0] = o.tempo_to;
        rig.send(t);
        if (!g_stop) row.phase[2] = run_phase("tempo", true, o.render_timeout);
        row.rerendered = read_mem();
        malloc_trim(0);
        row.trimmed = read_mem();
    }
    run.recording.store(false, std::memory_order_release);
    std::this_thread::sleep_for(50ms);  // let a callback in flight finish its store
    row.phase[1].name = "steady";
    row.phase[2].name = "tempo";
    row.phase[2].render_phase = true;
    const RenderView v = read_render_view(rig.segment(), loops);
    row.playing = v.playing;
    row.ready = v.ready;
    row.beats_mismatch = count_beats_mismatch(rig, plan, loops);
    row.master_peak = run.peak.load();
    if (run.buffer_size_changed.load()) throw std::runtime_error("the JACK buffer size changed during the row");
    jack_deactivate(run.client);
    closer.active = false;
    return row;
}

// ---------------------------------------------------------------------------
// Output

void print_table(const Options& o, const std::vector<Row>& rows) {
    if (o.jack) {
        fmt::print("# lr-bench --jack{}: callback time per period as a fraction of the period; "
                   "xruns = xrun callbacks in the timed window; dsp = JACK DSP load % (mean/max)\n", o.fx ? " --fx" : "");
        fmt::print("{:>6} {:>5} {:>8} {:>7} {:>7} {:>7} {:>7} {:>6} {:>11}\n", "frames", "loops", "periods", "median",
                   "p99", "max", "mean", "xruns", "dsp%");
    } else {
        fmt::print("# lr-bench --direct{}{}: process() time per period as a fraction of the period\n",
                   o.paced ? " --paced" : "", o.fx ? " --fx" : "");
        fmt::print("{:>6} {:>5} {:>8} {:>7} {:>7} {:>7} {:>7}\n", "frames", "loops", "periods", "median", "p99",
                   "max", "mean");
    }
    for (const Row& r : rows) {
        fmt::print("{:>6} {:>5} {:>8} {:>7.4f} {:>7.4f} {:>7.4f} {:>7.4f}", r.frames, r.loops, r.stats.count,
                   r.stats.median, r.stats.p99, r.stats.max, r.stats.mean);
        if (r.jack) fmt::print(" {:>6} {:>11}", r.xruns, fmt::format("{:.1f}/{:.1f}", r.dsp_load_mean, r.dsp_load_max));
        fmt::print("\n");
    }
    for (const Row& r : rows) {
        if (r.playing != r.loops || (r.loops > 0 && r.master_peak <= 0.0f))
            fmt::print("# WARNING: row frames={} loops={}: {} slots playing, master peak {:.4f}\n", r.frames, r.loops,
                       r.playing, r.master_peak);
        if (r.buffer_size_changed)
            fmt::print("# WARNING: row frames={} loops={}: the JACK buffer size changed during the row\n", r.frames,
                       r.loops);
    }
}

void print_json(const Options& o, const std::vector<Row>& rows) {
    fmt::print("{{\"tool\": \"lr-bench\", \"mode\": \"{}\", \"paced\": {}, \"slot_outs\": {}, \"fx\": {}, "
               "\"declick_ms\": {}, \"rows\": [",
               o.jack ? "jack" : "direct", o.paced ? "true" : "false", o.slot_outs ? "true" : "false",
               o.fx ? "true" : "false", o.declick_ms);
    for (std::size_t i = 0; i < rows.size(); ++i) {
        const Row& r = rows[i];
        const Stats& s = r.stats;
        fmt::print("{}\n  {{\"frames\": {}, \"loops\": {}, \"rate\": {}, \"periods\": {}, \"median\": {:.6f}, "
                   "\"p99\": {:.6f}, \"max\": {:.6f}, \"mean\": {:.6f}, \"min\": {:.6f}, \"median_us\": {:.3f}, "
                   "\"p99_us\": {:.3f}, \"max_us\": {:.3f}, \"mean_us\": {:.3f}, \"playing\": {}, \"master_peak\": {:.6f}",
                   i ? "," : "", r.frames, r.loops, r.rate, s.count, s.median, s.p99, s.max, s.mean, s.min,
                   s.median_us, s.p99_us, s.max_us, s.mean_us, r.playing, r.master_peak);
        if (r.jack)
            fmt::print(", \"xruns\": {}, \"xruns_total\": {}, \"dsp_load_mean\": {:.3f}, \"dsp_load_max\": {:.3f}, "
                       "\"buffer_size_changed\": {}",
                       r.xruns, r.xruns_total, r.dsp_load_mean, r.dsp_load_max,
                       r.buffer_size_changed ? "true" : "false");
        fmt::print("}}");
    }
    fmt::print("\n]}}\n");
}

void print_stretch_table(const Options& o, const std::vector<StretchRow>& rows) {
    const std::string engine = fmt::format("{} ({} render thread{})", o.finer ? "R3" : "R2 (--faster-renders)",
                                           render_threads(o), render_threads(o) == 1 ? "" : "s");
    if (o.jack)
        fmt::print("# lr-bench --jack --stretch, {} renders: callback time per period as a fraction of the period; "
                   "xruns = xrun callbacks in the phase; dsp = JACK DSP load % (mean/max)\n", engine);
    else
        fmt::print("# lr-bench --direct --stretch, {} renders, paced (one period per period of wall time): "
                   "process() time per period as a fraction of the period\n", engine);
    fmt::print("# pending = every slot plays its loop varispeed (with a pitch: through the interim pitch shifter) "
               "until its render is in; steady = all play renders; tempo = from LR_CMD_TEMPO {:g} -> {:g} BPM "
               "until all play their new renders (varispeed meanwhile)\n",
               o.tempo_from, o.tempo_to);
    fmt::print("# first_s / settle_s = seconds from the phase's commands to the first render in / to "
               "renders_pending = 0 with every loop playing its render\n");
    if (o.jack)
        fmt::print("{:>6} {:>5} {:>8} {:>7} {:>7} {:>7} {:>7} {:>6} {:>11}  {:<8} {:>8} {:>8}\n", "frames", "loops",
                   "periods", "median", "p99", "max", "mean", "xruns", "dsp%", "phase", "first_s", "settle_s");
    else
        fmt::print("{:>6} {:>5} {:>8} {:>7} {:>7} {:>7} {:>7}  {:<8} {:>8} {:>8}\n", "frames", "loops", "periods",
                   "median", "p99", "max", "mean", "phase", "first_s", "settle_s");
    auto secs = [](double s) { return s < 0 ? std::string("-") : fmt::format("{:.3f}", s); };
    for (const StretchRow& r : rows)
        for (const PhaseResult& p : r.phase) {
            const Stats& s = p.stats;
            fmt::print("{:>6} {:>5} {:>8} {:>7.4f} {:>7.4f} {:>7.4f} {:>7.4f}", r.frames, r.loops, s.count, s.median,
                       s.p99, s.max, s.mean);
            if (r.jack)
                fmt::print(" {:>6} {:>11}", p.xruns, fmt::format("{:.1f}/{:.1f}", p.dsp_mean, p.dsp_max));
            fmt::print("  {:<8} {:>8} {:>8}\n", p.name, secs(p.first_s), secs(p.settle_s));
        }
    for (const StretchRow& r : rows) {
        const std::string tag = fmt::format("# frames={} loops={}", r.frames, r.loops);
        fmt::print("{} slowest period of each phase:", tag);
        for (const PhaseResult& p : r.phase) {
            if (!p.stats.count) continue;
            fmt::print(" {} #{} ({:.3f} s in{}{})", p.name, p.max_index,
                       static_cast<double>(p.max_index) * r.frames / r.rate,
                       r.jack ? "" : p.max_preempted ? ", preempted" : ", not preempted",
                       r.jack ? "" : p.max_faulted ? ", page fault" : "");
        }
        fmt::print("\n");
        if (!r.jack) {
            fmt::print("{} periods over {:.2f} of the period:", tag, kSlowFraction);
            for (const PhaseResult& p : r.phase)
                if (p.stats.count)
                    fmt::print(" {} {} ({} preempted, {} with page faults)", p.name, p.slow, p.slow_preempted,
                               p.slow_faulted);
            fmt::print("\n");
        }
        const double period_us = 1e6 * r.frames / r.rate;
        fmt::print("{} material: {}..{} beats ({:.2f}..{:.2f} s) declared at {:.1f}..{:.1f} BPM (time ratio "
                   "0.80..1.25 at {:g} BPM, {:.2f}..{:.2f} at {:g}), pitch -5..+7 st, mode stretch, {} Hz\n",
                   tag, r.beats_min, r.beats_max, r.seconds_min, r.seconds_max, r.bpm_min, r.bpm_max, o.tempo_from,
                   r.bpm_min / o.tempo_to, r.bpm_max / o.tempo_to, o.tempo_to, r.rate);
        for (int i : {0, 2}) {
            const PhaseResult& p = r.phase[i];
            const Stats& v = p.all_interim;
            if (!p.stats.count) continue;
            fmt::print("{} {}: before the first render, all {} interim ({} periods): median {:.4f} p99 {:.4f} "
                       "max {:.4f} mean {:.4f}; renders: {} pending at most, {:.3f} s per render on average; "
                       "wall {:.3f} s, audio {:.3f} s",
                       tag, p.name, r.loops, v.count, v.median, v.p99, v.max, v.mean, p.max_pending,
                       p.max_pending && p.settle_s > 0 ? p.settle_s / p.max_pending : 0.0, p.wall_s, p.audio_s);
            if (!r.jack) fmt::print(", pacing fell behind {} times", p.behind);
            fmt::print("\n");
            if (r.phase[1].stats.count && v.count && r.loops)
                fmt::print("{} {}: the interim playback costs {:.3f} us per loop per period more than playing a "
                           "render (means: all-interim minus steady, / {} loops; {:.2f} ns per frame)\n",
                           tag, p.name, (v.mean - r.phase[1].stats.mean) * period_us / r.loops, r.loops,
                           (v.mean - r.phase[1].stats.mean) * period_us * 1e3 / r.loops / r.frames);
        }
        auto mem = [](const Mem& m) {
            return m.rss < 0 ? std::string("-") : fmt::format("{:.1f}/{:.1f}", m.rss, m.hwm);
        };
        fmt::print("{} memory MiB VmRSS/VmHWM{}: before loading {}, loaded {}, rendered {}, re-rendered {} "
                   "(VmRSS {} after malloc_trim)\n", tag,
                   r.hwm_reset ? " (VmHWM restarted at the row's start)" : " (VmHWM since the process started)",
                   mem(r.before), mem(r.loaded), mem(r.rendered), mem(r.rerendered),
                   r.trimmed.rss < 0 ? std::string("-") : fmt::format("{:.1f}", r.trimmed.rss));
        if (!r.ok())
            fmt::print("# WARNING: row frames={} loops={}: {} playing, {} playing renders, {} loop-tempo beats "
                       "differ from the plan, master peak {:.4f}{}{}\n",
                       r.frames, r.loops, r.playing, r.ready, r.beats_mismatch, r.master_peak,
                       r.phase[0].timed_out ? ", pending phase timed out" : "",
                       r.phase[2].timed_out ? ", tempo phase timed out" : "");
    }
}

void print_stretch_json(const Options& o, const std::vector<StretchRow>& rows) {
    fmt::print("{{\"tool\": \"lr-bench\", \"mode\": \"{}\", \"stretch\": true, \"finer\": {}, \"render_threads\": {}, \"paced\": {}, "
               "\"slot_outs\": {}, \"declick_ms\": {}, \"tempo_from\": {}, \"tempo_to\": {}, \"rows\": [",
               o.jack ? "jack" : "direct", o.finer ? "true" : "false", render_threads(o), o.jack ? "false" : "true",
               o.slot_outs ? "true" : "false", o.declick_ms, o.tempo_from, o.tempo_to);
    auto stats = [](const Stats& s) {
        return fmt::format("\"periods\": {}, \"median\": {:.6f}, \"p99\": {:.6f}, \"max\": {:.6f}, \"mean\": {:.6f}, "
                           "\"min\": {:.6f}, \"median_us\": {:.3f}, \"p99_us\": {:.3f}, \"max_us\": {:.3f}, "
                           "\"mean_us\": {:.3f}",
                           s.count, s.median, s.p99, s.max, s.mean, s.min, s.median_us, s.p99_us, s.max_us, s.mean_us);
    };
    auto mem = [](const Mem& m) { return fmt::format("{{\"rss_mib\": {:.2f}, \"hwm_mib\": {:.2f}}}", m.rss, m.hwm); };
    bool first = true;
    for (const StretchRow& r : rows)
        for (const PhaseResult& p : r.phase) {
            fmt::print("{}\n  {{\"frames\": {}, \"loops\": {}, \"rate\": {}, \"phase\": \"{}\", {}, \"first_s\": {:.4f}, "
                       "\"settle_s\": {:.4f}, \"wall_s\": {:.4f}, \"audio_s\": {:.4f}, \"max_pending\": {}, "
                       "\"timed_out\": {}, \"all_interim\": {{{}}}, \"behind\": {}",
                       first ? "" : ",", r.frames, r.loops, r.rate, p.name, stats(p.stats), p.first_s, p.settle_s,
                       p.wall_s, p.audio_s, p.max_pending, p.timed_out ? "true" : "false", stats(p.all_interim),
                       p.behind);
            if (r.jack)
                fmt::print(", \"xruns\": {}, \"dsp_load_mean\": {:.3f}, \"dsp_load_max\": {:.3f}", p.xruns, p.dsp_mean,
                           p.dsp_max);
            fmt::print(", \"memory\": {{\"before_loading\": {}, \"loaded\": {}, \"rendered\": {}, \"rerendered\": {}, "
                       "\"trimmed\": {}, \"hwm_reset\": {}}}, \"playing\": {}, \"playing_renders\": {}, "
                       "\"beats_mismatch\": {}, \"master_peak\": {:.6f}, \"ok\": {}}}",
                       mem(r.before), mem(r.loaded), mem(r.rendered), mem(r.rerendered), mem(r.trimmed),
                       r.hwm_reset ? "true" : "false", r.playing, r.ready, r.beats_mismatch, r.master_peak,
                       r.ok() ? "true" : "false");
            first = false;
        }
    fmt::print("\n]}}\n");
}

}  // namespace

int main(int argc, char** argv) {
    Options o;
    bool periods_given = false;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) usage_error(arg + " needs a value");
            return argv[++i];
        };
        if (arg == "--help" || arg == "-h") {
            fmt::print("{}", kUsage);
            return 0;
        } else if (arg == "--direct") {
            o.jack = false;
        } else if (arg == "--jack") {
            o.jack = true;
        } else if (arg == "--loops") {
            o.loops = parse_list(arg, value(), 0, LR_MAX_SLOTS);
            o.loops_given = true;
        } else if (arg == "--frames") {
            o.frames = parse_list(arg, value(), 1, 8192);
            o.frames_given = true;
        } else if (arg == "--periods") {
            o.periods = parse_count(arg, value(), 1, 100000000);
            periods_given = true;
        } else if (arg == "--seconds") {
            o.seconds = parse_number(arg, value().c_str());
            if (!(o.seconds > 0 && o.seconds <= 86400)) usage_error("--seconds must be > 0");
        } else if (arg == "--rate") {
            o.rate = parse_count(arg, value(), 8000, 384000);
        } else if (arg == "--slots") {
            o.slots = parse_count(arg, value(), 1, LR_MAX_SLOTS);
        } else if (arg == "--declick-ms") {
            o.declick_ms = parse_number(arg, value().c_str());
            if (!(o.declick_ms >= 0 && o.declick_ms <= 100)) usage_error("--declick-ms must be 0..100");
        } else if (arg == "--slot-outs") {
            o.slot_outs = true;
        } else if (arg == "--fx") {
            o.fx = true;
        } else if (arg == "--paced") {
            o.paced = true;
        } else if (arg == "--warmup") {
            o.warmup = parse_count(arg, value(), 0, 10000000);
        } else if (arg == "--fifo") {
            o.fifo = true;
        } else if (arg == "--name") {
            o.name = value();
        } else if (arg == "--json") {
            o.json = true;
        } else if (arg == "--stretch") {
            o.stretch = true;
        } else if (arg == "--finer") {
            o.finer = true;
            o.renders_given = true;
        } else if (arg == "--faster-renders") {
            o.finer = false;
            o.renders_given = true;
        } else if (arg == "--render-threads") {
            const double n = parse_number(arg, value().c_str());
            if (n < 1 || n > 16 || n != static_cast<int>(n)) usage_error("--render-threads must be a whole number 1..16");
            o.render_threads = static_cast<uint32_t>(n);
            o.renders_given = true;
        } else if (arg == "--tempo") {
            const std::string v = value();
            const std::size_t comma = v.find(',');
            if (comma == std::string::npos) usage_error("--tempo needs FROM,TO (BPM), e.g. 120,100");
            o.tempo_from = parse_number(arg, v.substr(0, comma).c_str());
            o.tempo_to = parse_number(arg, v.substr(comma + 1).c_str());
        } else if (arg == "--render-timeout") {
            o.render_timeout = parse_number(arg, value().c_str());
            if (!(o.render_timeout > 0 && o.render_timeout <= 86400)) usage_error("--render-timeout must be > 0");
        } else {
            usage_error("unknown option " + arg);
        }
    }
    if (periods_given && o.seconds > 0) usage_error("give --periods or --seconds, not both");
    o.periods_given = periods_given;
    if (o.fx && o.stretch) usage_error("--fx and --stretch are separate scenarios");
    if (o.stretch) {
        if (!o.loops_given) o.loops = {32};
        // Declared tempos (0.8..1.25 x FROM) must be valid loop tempos, and the
        // time ratios at TO valid renders (1/8..8).
        if (!(o.tempo_from >= 25.0 && o.tempo_from <= 320.0 && o.tempo_to >= 20.0 && o.tempo_to <= 400.0))
            usage_error("--tempo: FROM must be 25..320 and TO 20..400 BPM");
        if (0.8 * o.tempo_from / o.tempo_to < 0.125 || 1.25 * o.tempo_from / o.tempo_to > 8.0)
            usage_error("--tempo: TO gives time ratios outside 1/8..8");
    } else if (o.renders_given) {
        usage_error("--finer, --faster-renders and --render-threads need --stretch");
    }
    if (o.jack && periods_given) usage_error("--jack times --seconds, not --periods");

    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
    std::signal(SIGHUP, on_signal);
    std::vector<Row> rows;
    std::vector<StretchRow> stretch_rows;
    try {
        if (o.stretch && o.jack) {
            for (uint32_t n : o.loops)
                if (!g_stop) stretch_rows.push_back(run_stretch_jack(o, n));
        } else if (o.stretch) {
            for (uint32_t f : o.frames)
                for (uint32_t n : o.loops)
                    if (!g_stop) stretch_rows.push_back(run_stretch_direct(o, f, n));
        } else if (o.jack) {
            const double seconds = o.seconds > 0 ? o.seconds : 10.0;
            for (uint32_t n : o.loops)
                if (!g_stop) rows.push_back(run_jack_row(o, n, seconds));
        } else {
            if (o.fifo) try_fifo();
            for (uint32_t f : o.frames)
                for (uint32_t n : o.loops)
                    if (!g_stop) rows.push_back(run_direct_row(o, f, n));
        }
    } catch (const std::exception& e) {
        fmt::print(stderr, "lr-bench: error: {}\n", e.what());
        return 1;
    }
    if (o.stretch) {
        if (o.json) print_stretch_json(o, stretch_rows);
        else print_stretch_table(o, stretch_rows);
    } else if (o.json) {
        print_json(o, rows);
    } else {
        print_table(o, rows);
    }
    std::fflush(stdout);
    if (g_stop) {
        fmt::print(stderr, "lr-bench: interrupted; the last row is partial\n");
        return 130;
    }
    for (const StretchRow& r : stretch_rows)
        if (!r.ok()) return 3;
    for (const Row& r : rows)
        if (r.playing != r.loops || r.stats.count == 0) return 3;
    return 0;
}
