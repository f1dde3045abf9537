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
#include <memory>
#include <numbers>
#include <sched.h>
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
  --paced             --direct: one call per period of wall time (colder caches,
                      like JACK) instead of back to back
  --warmup K          untimed periods before each --direct row (default 500)
  --fifo              --direct: run the timing thread SCHED_FIFO 70 if allowed
  --name NAME         JACK client name for --jack (default lr-bench)
  --json              machine-readable output
  --help              this text
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
    bool paced = false;
    uint32_t warmup = 500;
    bool fifo = false;
    std::string name = "lr-bench";
    bool json = false;
};

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
    Rig(uint32_t slots, uint32_t rate, uint32_t max_frames, double declick_ms, uint32_t loops)
        : loops_(loops) {
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
        const auto lengths = loop_lengths(loops, rate);
        for (uint32_t i = 0; i < loops; ++i) samples_.push_back(synth_loop(lengths[i], rate, i));
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
        while (load_acks_ == loops_ && plays_pushed_ < loops_) {
            lr_command cmd{};
            cmd.id = 100000 + plays_pushed_;
            cmd.type = LR_CMD_PLAY;
            cmd.slot = static_cast<int32_t>(plays_pushed_);
            if (!commands_.push(cmd)) break;
            ++plays_pushed_;
        }
        lr_event ev{};
        while (events_.pop_into(&ev)) {
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
    uint32_t loops_;
    std::string seg_name_;
    std::unique_ptr<looprig::shm::Segment> segment_;
    std::unique_ptr<AudioCore> core_;
    std::vector<std::unique_ptr<Sample>> samples_;
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

void try_fifo() {
    sched_param p{};
    p.sched_priority = 70;
    if (sched_setscheduler(0, SCHED_FIFO, &p) != 0)
        fmt::print(stderr, "lr-bench: --fifo: cannot get SCHED_FIFO ({}); timing at normal priority\n",
                   std::strerror(errno));
}

Row run_direct_row(const Options& o, uint32_t frames, uint32_t loops) {
    Rig rig(slots_for(o, loops), o.rate, frames, o.declick_ms, loops);
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

    uint64_t frame_time = 0;
    // Setup: loads and plays travel through the core like a client's would.
    for (uint32_t k = 0; !rig.ready() && !g_stop; ++k) {
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

Row run_jack_row(const Options& o, uint32_t loops, double seconds) {
    using namespace std::chrono_literals;
    JackRun run;
    std::unique_ptr<Rig> rig_owner;  // declared first: destroyed after the client is closed
    run.client = open_jack(o.name);
    struct Closer {
        JackRun& r;
        bool active = false;
        ~Closer() {
            if (active) jack_deactivate(r.client);
            jack_client_close(r.client);
        }
    } closer{run};
    const uint32_t rate = jack_get_sample_rate(run.client);
    const uint32_t frames = jack_get_buffer_size(run.client);
    if (o.frames_given && (o.frames.size() != 1 || o.frames[0] != frames))
        throw std::runtime_error(fmt::format("the JACK server runs {}-frame periods; --frames cannot change that "
                                             "(restart jackd with -p)", frames));
    run.frames = frames;
    rig_owner = std::make_unique<Rig>(slots_for(o, loops), rate, 8192, o.declick_ms, loops);
    Rig& rig = *rig_owner;
    run.core = &rig.core();
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
    // Room for the window plus slack; touched now so the RT thread never faults it in.
    run.times.assign(static_cast<std::size_t>(seconds * rate / frames * 1.25) + 4096, 1);
    jack_set_process_callback(run.client, &JackRun::process, &run);
    jack_set_xrun_callback(run.client, &JackRun::xrun, &run);
    jack_set_buffer_size_callback(run.client, &JackRun::buffer_size, &run);
    if (jack_activate(run.client) != 0) throw std::runtime_error("cannot activate the JACK client");
    closer.active = true;

    const auto setup_deadline = std::chrono::steady_clock::now() + 20s;
    while (!rig.ready() && !g_stop) {
        rig.pump();
        if (rig.failed()) throw std::runtime_error("setup: the engine answered " + rig.first_error());
        if (std::chrono::steady_clock::now() > setup_deadline)
            throw std::runtime_error("setup: the loops did not start within 20 s (is the server running its cycle?)");
        std::this_thread::sleep_for(2ms);
    }
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
// Output

void print_table(const Options& o, const std::vector<Row>& rows) {
    if (o.jack) {
        fmt::print("# lr-bench --jack: callback time per period as a fraction of the period; "
                   "xruns = xrun callbacks in the timed window; dsp = JACK DSP load % (mean/max)\n");
        fmt::print("{:>6} {:>5} {:>8} {:>7} {:>7} {:>7} {:>7} {:>6} {:>11}\n", "frames", "loops", "periods", "median",
                   "p99", "max", "mean", "xruns", "dsp%");
    } else {
        fmt::print("# lr-bench --direct{}: process() time per period as a fraction of the period\n",
                   o.paced ? " --paced" : "");
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
    fmt::print("{{\"tool\": \"lr-bench\", \"mode\": \"{}\", \"paced\": {}, \"slot_outs\": {}, \"declick_ms\": {}, "
               "\"rows\": [",
               o.jack ? "jack" : "direct", o.paced ? "true" : "false", o.slot_outs ? "true" : "false", o.declick_ms);
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
        } else {
            usage_error("unknown option " + arg);
        }
    }
    if (periods_given && o.seconds > 0) usage_error("give --periods or --seconds, not both");
    if (o.jack && periods_given) usage_error("--jack times --seconds, not --periods");

    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
    std::signal(SIGHUP, on_signal);
    std::vector<Row> rows;
    try {
        if (o.jack) {
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
    if (o.json) print_json(o, rows);
    else print_table(o, rows);
    std::fflush(stdout);
    if (g_stop) {
        fmt::print(stderr, "lr-bench: interrupted; the last row is partial\n");
        return 130;
    }
    for (const Row& r : rows)
        if (r.playing != r.loops || r.stats.count == 0) return 3;
    return 0;
}
