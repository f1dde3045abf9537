// The session worker: a thread that carries out session saves and opens for
// clients (LR_CMD_SESSION_SAVE / OPEN, through the audio thread's session
// job) and for the engine itself (looprigd --session, NSM, SIGTERM), keeps
// track of whether the rig differs from the session in use ("dirty",
// published in lr_header.session_state), and saves by itself a short while
// after each change when autosave is on. It never blocks the audio thread:
// the audio thread only copies values and references samples for a save,
// and installs an opened rig (decoded here) in one period. Nothing here is
// RT safe.
#pragma once

#include "rt/audio_core.hpp"
#include "session.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace looprig {

struct SessionSettings {
    session::EngineFacts engine;
    uint64_t max_bytes = uint64_t{1} << 30;  // per decoded file (looprigd --max-file-mb)
    std::vector<std::string> allowed_dirs;    // looprigd --allow-dir
    /// Save on its own after changes: once the rig has been quiet for
    /// `quiet`, or at the latest `longest` after the first unsaved change.
    bool autosave = false;
    std::chrono::milliseconds quiet{500}, longest{2000};
};

/// The JACK side, given by the engine (called on the worker's thread).
struct SessionHooks {
    /// Our ports' connections now.
    std::function<std::vector<session::Connection>()> connections;
    /// Make these connections of our ports (others are left alone); returns the ones
    /// that could not be made ("out_L -> system:playback_9: no such port").
    std::function<std::vector<std::string>(const std::vector<session::Connection>&)> restore_connections;
    /// The MIDI map in use (its JSON), and installing a session's ("": the default).
    std::function<std::string()> midi_map;
    std::function<void(const std::string&)> restore_midi_map;
    /// The rig became dirty (true) or clean (false) (NSM's is_dirty/is_clean).
    std::function<void(bool)> dirty_changed;
};

/// What a save or open did: code LR_OK and a message, or an lr_error and why.
struct SessionResult {
    int code = LR_OK;
    std::string message;
    double value[2] = {0.0, 0.0};
    uint64_t frame = 0;
};

class SessionWorker {
public:
    SessionWorker(AudioCore& core, lr_header* header, SessionSettings settings, SessionHooks hooks);
    ~SessionWorker();
    SessionWorker(const SessionWorker&) = delete;
    SessionWorker& operator=(const SessionWorker&) = delete;

    /// Save to `dir` ("" = the session in use) / open `dir`, waiting for the
    /// result. Any thread but the worker's and the audio thread. A save needs
    /// the audio thread running (it snapshots the rig); without it, it gives
    /// up after `wait` with LR_E_BUSY.
    SessionResult save(const std::string& dir, std::chrono::milliseconds wait = std::chrono::seconds(5));
    SessionResult open(const std::string& dir, bool play);
    /// The session folder in use ("" = none yet).
    std::string folder() const;
    /// Use `dir` as the session in use without opening it (a new session).
    void set_folder(const std::string& dir);
    /// The rig differs from the session in use.
    bool dirty() const { return dirty_.load(std::memory_order_acquire); }
    /// Something a session holds changed outside the audio thread (our JACK
    /// connections). Any thread, also JACK's notification thread (lock-free).
    void note_change();

private:
    struct Request {
        bool open = false;
        bool play = false;
        std::string dir;
        bool done = false;
        SessionResult result;
    };
    void run();
    /// The job is ours (stage Working/Requested): carry it out and answer.
    void carry_out();
    SessionResult do_save(const std::string& dir);
    SessionResult do_open(const std::string& dir, bool play);
    void serve_request(Request& r);
    void update_state();
    bool wait_stage(uint32_t stage, std::chrono::milliseconds limit);

    AudioCore& core_;
    lr_header* header_;
    SessionSettings settings_;
    SessionHooks hooks_;
    SessionJob& job_;
    session::Store store_;
    mutable std::mutex mutex_;           // requests_, folder_ (never the audio thread)
    std::condition_variable answered_;
    std::vector<Request*> requests_;
    std::string folder_;
    // Worker thread only, from here on.
    uint64_t saved_changes_ = 0;         // rig changes counted at the last save/open
    std::vector<session::Connection> saved_connections_, seen_connections_;
    bool have_session_ = false;
    std::atomic<bool> dirty_{false};
    bool dirty_reported_ = false, reported_once_ = false, in_autosave_ = false;
    std::string last_autosave_error_;
    uint64_t seen_changes_ = 0;
    std::chrono::steady_clock::time_point first_unsaved_{}, last_change_{};
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

}  // namespace looprig
