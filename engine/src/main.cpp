// looprigd: the looprig engine, one JACK client.
#include "engine.hpp"
#include "fatal_signals.hpp"
#include "gui_process.hpp"
#include "nsm.hpp"
#include "rt/dsp.hpp"

#include <fmt/format.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
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
  --session DIR       the session folder (docs/SESSIONS.md): opened at start (a new
                      session if it holds none), saved to automatically within ~2.5 s
                      of each change and on SIGTERM/SIGINT, so a restart after a crash
                      or power cut brings the rig back as it was seconds before
  --play              with --session: start the slots that were playing, together
                      (default: stopped and ready)
  --no-autosave       with --session: save only when asked (looprig save) and on SIGTERM
  --midi-map FILE     the MIDI map (docs/MIDI.md; default: note 36 + k on any channel
                      toggles slot k); ports midi_in, midi_out (LEDs and clock) and
                      midi_clock_out (clock only)
  --osc-port PORT     also serve OSC on UDP PORT (SooperLooper's dialect and /looprig/...,
                      docs/OSC.md): runs `looprig --name NAME osc --port PORT` as a child
                      ($LOOPRIG_OSC_COMMAND: another command, given those arguments),
                      ended with the engine
  --osc-host ADDR     the address it listens on (default: 127.0.0.1, this machine only)
  --no-nsm            ignore NSM_URL (see below)
  --verbose           log client arrivals and departures
  --help              this text
The JACK server is the default one, or $JACK_DEFAULT_SERVER.
Under a session manager (NSM_URL set: New Session Manager, RaySession, Agordejo)
looprigd announces itself and takes its session folder and JACK client name from
the manager, saves when the manager says so and tells it when there are unsaved
changes; --name and --session are then the manager's. The manager's "show GUI"
starts `looprig --name NAME gui` as a child of looprigd ($LOOPRIG_GUI_COMMAND:
another command, given those arguments) and "hide GUI" ends it (docs/SESSIONS.md).
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

/// NSM_URL set: announce to the session manager and take the session folder
/// and JACK client name from its open. The manager saves (no autosave, no save
/// on SIGTERM: quitting without saving is the manager's "abort"), and shows and
/// hides looprig's GUI (":optional-gui:"): `gui` runs it as a child process,
/// from the NSM client's thread. No usable manager: say why and run on our own.
std::unique_ptr<looprig::NsmClient> join_session_manager(const char* argv0, looprig::EngineOptions& options,
                                                         looprig::GuiProcess& gui) {
    const std::string url = looprig::NsmClient::url_from_environment();
    if (url.empty()) return nullptr;
    try {
        auto nsm = std::make_unique<looprig::NsmClient>(url);
        looprig::NsmClient* client = nsm.get();
        gui.on_report([client](bool shown, const std::string& problem) {
            if (!problem.empty()) {
                fmt::print(stderr, "looprigd: {}\n", problem);
                client->message(2, problem);
            }
            client->set_gui_shown(shown);
        });
        nsm->on_optional_gui([&gui](bool show) { show ? gui.show() : gui.hide(); });  // before announce(): advertised
        const looprig::NsmOpenRequest open = nsm->announce(argv0, 10.0);
        if (!options.session_dir.empty() || options.name != "looprig")
            fmt::print(stderr, "looprigd: under the session manager: --name and --session are its\n");
        options.name = open.client_id;
        options.session_dir = open.path;
        options.autosave = false;
        options.save_on_exit = false;
        gui.set_command(looprig::resolve_gui_command(looprig::gui_command_context(open.client_id)));
        options.session_dirty_changed = [client](bool dirty) { client->set_dirty(dirty); };
        fmt::print("looprigd: session manager at {}: session '{}' in {}, JACK client '{}'\n", url,
                   open.display_name, open.path, open.client_id);
        std::fflush(stdout);
        return nsm;
    } catch (const std::exception& e) {
        gui.on_report(nullptr);  // its NSM client is gone
        fmt::print(stderr, "looprigd: NSM_URL is set but the session manager cannot be used ({}); "
                           "running without it\n", e.what());
        return nullptr;
    }
}

}  // namespace

int main(int argc, char** argv) {
    looprig::EngineOptions options;
    bool use_nsm = true;
    int osc_port = 0;                   // --osc-port: 0 = no OSC server
    std::string osc_host = "127.0.0.1";
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
        } else if (arg == "--session") {
            options.session_dir = value();
            if (options.session_dir.empty()) usage_error("--session needs a folder");
        } else if (arg == "--osc-port") {
            const double port = parse_number(arg, value());
            if (port < 1 || port > 65535 || port != static_cast<int>(port)) usage_error("--osc-port must be 1..65535");
            osc_port = static_cast<int>(port);
        } else if (arg == "--osc-host") {
            osc_host = value();
            if (osc_host.empty()) usage_error("--osc-host needs an address");
        } else if (arg == "--midi-map") {
            options.midi_map = value();
            if (options.midi_map.empty()) usage_error("--midi-map needs a file");
        } else if (arg == "--play") {
            options.session_play = true;
        } else if (arg == "--no-nsm") {
            use_nsm = false;
        } else if (arg == "--no-autosave") {
            options.autosave = false;
        } else if (arg == "--verbose") {
            options.verbose = true;
        } else {
            usage_error("unknown option " + arg);
        }
    }
    const bool managed = use_nsm && !looprig::NsmClient::url_from_environment().empty();
    if ((options.session_play || !options.autosave) && options.session_dir.empty() && !managed)
        usage_error("--play and --no-autosave go with --session DIR");
    looprig::install_fatal_signal_report();
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
    std::signal(SIGPIPE, SIG_IGN);
    // The GUI under the session manager: declared before the NSM client, whose
    // thread calls it, so that it outlives that thread; its destructor ends a
    // GUI still running (every way out of main()).
    looprig::GuiProcess gui;
    std::unique_ptr<looprig::NsmClient> nsm;
    if (use_nsm) nsm = join_session_manager(argv[0], options, gui);
    // The manager's saves run on its thread: they may use the engine only while it runs.
    std::mutex engine_mutex;
    looprig::Engine* running = nullptr;
    try {
        looprig::Engine engine(options);
        if (nsm) {
            running = &engine;
            nsm->on_save([&engine_mutex, &running] {
                std::lock_guard lock(engine_mutex);
                if (!running) return looprig::NsmResult{looprig::kNsmNotNow, "looprig is stopping"};
                const looprig::SessionResult r = running->sessions().save("", std::chrono::seconds(10));
                return looprig::NsmResult{r.code == LR_OK ? looprig::kNsmOk : looprig::kNsmGeneral, r.message};
            });
            nsm->reply_open({looprig::kNsmOk, fmt::format("looprig session {}", options.session_dir)});
        }
        // The OSC server: a child process, like the GUI (same spawn, same ending).
        looprig::GuiProcess osc;
        if (osc_port > 0) {
            looprig::GuiCommandContext ctx = looprig::gui_command_context(options.name);
            const char* override_command = std::getenv("LOOPRIG_OSC_COMMAND");
            ctx.override_command = override_command ? override_command : "";
            looprig::GuiCommand cmd = looprig::resolve_gui_command(ctx);
            cmd.argv.back() = "osc";  // `--name NAME gui` -> `--name NAME osc --port P --host H`
            cmd.argv.insert(cmd.argv.end(), {"--port", std::to_string(osc_port), "--host", osc_host});
            osc.set_command(cmd);
            osc.on_report([](bool shown, const std::string& problem) {
                if (!problem.empty()) fmt::print(stderr, "looprigd: OSC server: {}\n", problem);
                else if (!shown) fmt::print(stderr, "looprigd: OSC server ended\n");
            });
            osc.show();
        }
        const int code = engine.run();
        osc.on_report(nullptr);
        osc.stop();
        gui.stop();  // the GUI ends with the engine (and the manager hears it hidden)
        std::lock_guard lock(engine_mutex);  // waits for a save in progress
        running = nullptr;
        return code;
    } catch (const looprig::SessionStartFailure& e) {
        if (nsm) nsm->reply_open({e.had_document ? looprig::kNsmBadProject : looprig::kNsmCreateFailed, e.what()});
        fmt::print(stderr, "looprigd: error: {}\n", e.what());
        return 1;
    } catch (const std::exception& e) {
        if (nsm) nsm->reply_open({looprig::kNsmGeneral, e.what()});
        fmt::print(stderr, "looprigd: error: {}\n", e.what());
        return 1;
    }
}
