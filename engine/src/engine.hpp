// looprigd's non-RT side: the JACK client, the shared-memory segment, the
// loader and housekeeping threads. The process callback only calls
// AudioCore::process(). Nothing here is RT safe except process_callback().
#pragma once

#include "loader.hpp"
#include "loudness.hpp"
#include "midi_map.hpp"
#include "rt/midi_control.hpp"
#include "render_worker.hpp"
#include "rt/audio_core.hpp"
#include "rt/frame_clock.hpp"
#include "segment.hpp"
#include "session_worker.hpp"

#include <jack/jack.h>
#include <jack/transport.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

namespace looprig {

struct EngineOptions {
    std::string name = "looprig";
    uint32_t slots = 32;
    bool slot_outs = false;
    double declick_ms = 2.0;
    double pan_law_db = -3.0;   // --pan-law: mono sources' gain at centre (0, -3, -4.5, -6)
    uint64_t max_file_bytes = uint64_t{1} << 30;  // decoded size cap per file
    bool verbose = false;
    std::vector<std::string> allowed_dirs;  // --allow-dir: where loads may read (empty = anywhere)
    bool exit_on_jack_loss = false;  // --exit-on-jack-loss: exit 2 instead of reconnecting
    bool bus_outs = false;       // JACK outs for group buses, sends and effect returns (--bus-outs)
    double smooth_ms = 20.0;     // ramp of mixer/effect param changes
    uint32_t render_threads = 0;  // 0: RenderWorker::default_threads()
    bool finer = true;  // renders with Rubber Band R3 (cleaner on tonal material) rather than R2
    /// --session DIR: open DIR at start (a new session if it holds none),
    /// save to it a short while after each change and on SIGTERM.
    std::string session_dir;
    bool session_play = false;  // --play: start the slots that were playing
    bool autosave = true;       // with session_dir (--no-autosave: only on request and SIGTERM)
    bool save_on_exit = true;   // with session_dir: save a dirty rig on SIGTERM/SIGINT (not under NSM)
    std::string midi_map;       // --midi-map FILE (empty: the default map, docs/MIDI.md)
    /// The session became dirty (true) or clean (false); called on the session worker's thread.
    std::function<void(bool)> session_dirty_changed;
};

/// looprigd could not open or create its session folder (--session, NSM):
/// `had_document` tells a session that would not open from a folder that
/// could not be made one.
struct SessionStartFailure : std::runtime_error {
    SessionStartFailure(const std::string& what, bool had_document)
        : std::runtime_error(what), had_document(had_document) {}
    bool had_document;
};

class Engine {
public:
    explicit Engine(const EngineOptions& options);  // throws std::runtime_error with a clear message
    ~Engine();
    /// Housekeeping until SIGINT/SIGTERM or until JACK goes away. Returns the exit code.
    int run();
    /// Ask run() to return (async-signal safe).
    static void request_stop();
    /// Session saves and opens (also for NSM). Not RT safe.
    SessionWorker& sessions() { return *sessions_; }

private:
    static int process_callback(jack_nframes_t nframes, void* self);
    static int xrun_callback(void* self);
    static int buffer_size_callback(jack_nframes_t nframes, void* self);
    static int sample_rate_callback(jack_nframes_t rate, void* self);
    static void shutdown_callback(jack_status_t code, const char* reason, void* self);
    static void port_connect_callback(jack_port_id_t a, jack_port_id_t b, int connect, void* self);
    static void timebase_callback(jack_transport_state_t state, jack_nframes_t nframes, jack_position_t* pos,
                                  int new_pos, void* self);
    void update_timebase();
    /// Open the JACK client, register ports and callbacks, activate. First
    /// time: throws with a clear message; on reconnection returns false. Not RT safe.
    bool connect_jack(bool first);
    bool open_client(bool first);   // jack_client_open + rate and buffer size
    void activate();                // ports, callbacks, jack_activate; throws
    /// After the server went away: close what is left of the client.
    void drop_jack();
    /// Restore our ports' connections after a reconnection (each second, up to
    /// a minute). They are tracked as they change by port_connect_callback().
    void restore_connections();
    void register_ports();
    /// --session: open the folder, or make it a new session. Throws with a clear message.
    void start_session();
    /// Our ports' connections as tracked, and making them as a session says
    /// (session worker thread). Returns the ones that could not be made.
    std::vector<session::Connection> tracked_connections();
    std::vector<std::string> make_connections(const std::vector<session::Connection>& wanted);
    void reap_dead_clients();
    void free_garbage();

    EngineOptions options_;
    std::unique_ptr<shm::Segment> segment_;
    jack_client_t* client_ = nullptr;
    jack_port_t* master_[2] = {nullptr, nullptr};
    std::vector<jack_port_t*> slot_ports_[2];
    jack_port_t* group_ports_[LR_GROUPS][2] = {};
    jack_port_t* send_ports_[LR_SENDS][2] = {};
    jack_port_t* return_ports_[LR_SENDS][2] = {};
    std::vector<float*> slot_buffers_[2];
    std::vector<jack_port_t*> registered_ports_;
    std::unique_ptr<AudioCore> core_;
    rt::FrameClock clock_;  // audio thread only
    std::unique_ptr<Loader> loader_;
    std::unique_ptr<RenderWorker> renderer_;
    std::unique_ptr<LoudnessMeter> loudness_;
    std::unique_ptr<SessionWorker> sessions_;
    std::unique_ptr<MidiMapOwner> midi_map_;
    jack_port_t* midi_in_ = nullptr;
    jack_port_t* midi_out_ = nullptr;
    jack_port_t* midi_clock_out_ = nullptr;
    static constexpr uint32_t kMaxMidiIn = 512;  // midi_in events read per period (more are dropped)
    rt::MidiInEvent midi_in_events_[kMaxMidiIn];
    uint32_t sample_rate_ = 0;
    std::atomic<bool> jack_lost_{false};
    char jack_lost_reason_[256] = {};
    std::atomic<uint32_t> buffer_size_{0};
    std::mutex connections_mutex_;  // JACK notification thread and main thread only, never the audio thread
    std::vector<std::pair<std::string, std::string>> connections_;  // (our short port name, other port)
    int restore_tries_ = 0;             // seconds left to restore connections after a reconnection
    bool timebase_registered_ = false;  // main thread only
    bool timebase_refused_ = false;
};

}  // namespace looprig
