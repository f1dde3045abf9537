// lr-bench's command line (options.hpp).
#include "options.hpp"

#include "render_worker.hpp"
#include "looprig/shm_layout.h"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace looprig::bench {

namespace {

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
  --midi-rate N       --direct: N MIDI events per second into the core's midi_in,
                      spread evenly: CCs bound (by a map) to the playing loops' gains,
                      every 4th an unbound note (the controller path, docs/MIDI.md)
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

}  // namespace

Options parse_options(int argc, char** argv) {
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
            std::exit(0);
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
        } else if (arg == "--midi-rate") {
            o.midi_rate = parse_number(arg, value().c_str());
            if (!(o.midi_rate >= 0 && o.midi_rate <= 100000)) usage_error("--midi-rate must be 0..100000");
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
    return o;
}

uint32_t render_threads(const Options& o) {
    return o.render_threads ? o.render_threads : RenderWorker::default_threads();
}

uint32_t slots_for(const Options& o, uint32_t loops) { return std::max(o.slots, std::max<uint32_t>(loops, 1)); }

}  // namespace looprig::bench
