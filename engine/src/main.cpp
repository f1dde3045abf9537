// looprigd: the looprig engine, one JACK client.
#include "engine.hpp"
#include "rt/dsp.hpp"

#include <fmt/format.h>

#include <csignal>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

const char* kUsage = R"(usage: looprigd [options]
  --name NAME         JACK client name and engine name (default: looprig); not the
                      name of a JACK server (refused: JACK2 makes a server unreachable
                      for other clients once a client of its name connects)
  --slots N           number of loop slots, 1..1024 (default: 32)
  --slot-outs         register a stereo JACK output pair per slot
  --declick-ms MS     start/stop/mute/gain ramp in ms, 0 = exact (default: 2)
  --pan-law DB        pan law of mono sources, their gain at centre: 0, -3, -4.5 or -6
                      (default: -3, constant power); stereo sources always pan as a
                      balance, unity at centre
  --max-file-mb MB    refuse files whose decoded audio exceeds MB (default: 1024)
  --allow-dir DIR     loads may only read files inside DIR (symlinks and '..' resolved);
                      repeat for several folders (default: any absolute path)
  --faster-renders    make stretch renders with Rubber Band R2 (about 0.6x the time of the
                      default R3, but smeared on sustained tonal material)
  --render-threads N  threads making stretch renders, 1..16, at nice +10
                      (default: the machine's cores, at most 4)
  --smooth-ms MS      ramp of filter/EQ/send/group/effect param changes, 1..1000 ms
                      (default: 20)
  --bus-outs          also register JACK outs for the group buses (groupG_L/R,
                      G = 0..7), the send buses (delay_send_L/R, reverb_send_L/R) and
                      the effect returns (delay_return_L/R, reverb_return_L/R)
  --no-bus-outs       do not (the default)
  --exit-on-jack-loss exit (code 2) when the JACK server goes away, instead of
                      keeping every loop and setting and reconnecting when it is back
  --verbose           log client arrivals and departures
  --help              this text
The JACK server is the default one, or $JACK_DEFAULT_SERVER.
)";

[[noreturn]] void usage_error(const std::string& what) {
    fmt::print(stderr, "looprigd: {}\n{}", what, kUsage);
    std::exit(2);
}

double parse_number(const std::string& option, const char* text) {
    char* end = nullptr;
    const double v = std::strtod(text, &end);
    if (!text[0] || *end) usage_error(fmt::format("{} needs a number, not '{}'", option, text));
    return v;
}

void on_signal(int) { looprig::Engine::request_stop(); }

}  // namespace

int main(int argc, char** argv) {
    looprig::EngineOptions options;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        auto value = [&]() -> const char* {
            if (i + 1 >= argc) usage_error(arg + " needs a value");
            return argv[++i];
        };
        if (arg == "--help" || arg == "-h") {
            fmt::print("{}", kUsage);
            return 0;
        } else if (arg == "--name") {
            options.name = value();
        } else if (arg == "--slots") {
            const double n = parse_number(arg, value());
            if (n < 1 || n > LR_MAX_SLOTS || n != static_cast<int>(n))
                usage_error(fmt::format("--slots must be a whole number 1..{}", LR_MAX_SLOTS));
            options.slots = static_cast<uint32_t>(n);
        } else if (arg == "--slot-outs") {
            options.slot_outs = true;
        } else if (arg == "--pan-law") {
            options.pan_law_db = parse_number(arg, value());
            if (!looprig::dsp::valid_pan_law(options.pan_law_db)) usage_error("--pan-law must be 0, -3, -4.5 or -6");
        } else if (arg == "--declick-ms") {
            options.declick_ms = parse_number(arg, value());
            if (!(options.declick_ms >= 0 && options.declick_ms <= 100)) usage_error("--declick-ms must be 0..100");
        } else if (arg == "--max-file-mb") {
            const double mb = parse_number(arg, value());
            if (!(mb >= 1 && mb <= 1 << 20)) usage_error("--max-file-mb must be 1..1048576");
            options.max_file_bytes = static_cast<uint64_t>(mb * 1048576.0);
        } else if (arg == "--allow-dir") {
            const std::string dir = value();
            if (dir.empty() || dir[0] != '/') usage_error("--allow-dir needs an absolute folder");
            options.allowed_dirs.push_back(dir);
        } else if (arg == "--faster-renders") {
            options.finer = false;
        } else if (arg == "--render-threads") {
            const double n = parse_number(arg, value());
            if (n < 1 || n > 16 || n != static_cast<int>(n)) usage_error("--render-threads must be a whole number 1..16");
            options.render_threads = static_cast<uint32_t>(n);
        } else if (arg == "--smooth-ms") {
            options.smooth_ms = parse_number(arg, value());
            if (!(options.smooth_ms >= 1 && options.smooth_ms <= 1000)) usage_error("--smooth-ms must be 1..1000");
        } else if (arg == "--bus-outs") {
            options.bus_outs = true;
        } else if (arg == "--no-bus-outs") {
            options.bus_outs = false;
        } else if (arg == "--exit-on-jack-loss") {
            options.exit_on_jack_loss = true;
        } else if (arg == "--verbose") {
            options.verbose = true;
        } else {
            usage_error("unknown option " + arg);
        }
    }
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
    std::signal(SIGPIPE, SIG_IGN);
    try {
        looprig::Engine engine(options);
        return engine.run();
    } catch (const std::exception& e) {
        fmt::print(stderr, "looprigd: error: {}\n", e.what());
        return 1;
    }
}
