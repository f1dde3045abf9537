// The session worker (session_worker.hpp). Not RT safe.
#include "session_worker.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <pthread.h>

namespace looprig {

using Stage = SessionJob::Stage;
using Clock = std::chrono::steady_clock;

namespace {

/// open --play: the playing slots wait at most this long for their renders
/// (Rubber Band, about 0.35 s per slot and core) before they start anyway.
constexpr std::chrono::seconds kStartWait{30};

void copy_message(char* to, const std::string& text) {
    // Messages are cut at LR_MESSAGE_MAX - 1 bytes, on a UTF-8 character boundary.
    std::size_t n = std::min<std::size_t>(text.size(), LR_MESSAGE_MAX - 1);
    while (n > 0 && n < text.size() && (static_cast<unsigned char>(text[n]) & 0xC0) == 0x80) --n;
    std::memcpy(to, text.data(), n);
    to[n] = '\0';
}

std::vector<session::Connection> sorted(std::vector<session::Connection> v) {
    std::sort(v.begin(), v.end());
    return v;
}

std::string megabytes(uint64_t bytes) { return fmt::format("{:.1f} MB", static_cast<double>(bytes) / 1e6); }

}  // namespace

SessionWorker::SessionWorker(AudioCore& core, lr_header* header, SessionSettings settings, SessionHooks hooks)
    : core_(core), header_(header), settings_(std::move(settings)), hooks_(std::move(hooks)),
      job_(core.queues().session) {
    thread_ = std::thread([this] { run(); });
    pthread_setname_np(thread_.native_handle(), "lr-session");
}

SessionWorker::~SessionWorker() {
    stop_.store(true);
    core_.queues().session_bell.ring();
    if (thread_.joinable()) thread_.join();
}

std::string SessionWorker::folder() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return folder_;
}

void SessionWorker::set_folder(const std::string& dir) {
    std::lock_guard<std::mutex> lock(mutex_);
    folder_ = session::normalise_folder(dir);
}

void SessionWorker::note_change() { core_.queues().session_bell.ring(); }

SessionResult SessionWorker::save(const std::string& dir, std::chrono::milliseconds wait) {
    Request r;
    r.dir = dir;
    (void)wait;
    {
        std::unique_lock<std::mutex> lock(mutex_);
        requests_.push_back(&r);
        core_.queues().session_bell.ring();
        answered_.wait(lock, [&] { return r.done; });
    }
    return r.result;
}

SessionResult SessionWorker::open(const std::string& dir, bool play) {
    Request r;
    r.open = true;
    r.play = play;
    r.dir = dir;
    {
        std::unique_lock<std::mutex> lock(mutex_);
        requests_.push_back(&r);
        core_.queues().session_bell.ring();
        answered_.wait(lock, [&] { return r.done; });
    }
    return r.result;
}

bool SessionWorker::wait_stage(uint32_t stage, std::chrono::milliseconds limit) {
    const auto until = Clock::now() + limit;
    while (job_.stage.load(std::memory_order_acquire) != stage) {
        if (Clock::now() >= until) return false;
        if (stop_.load() && limit > std::chrono::milliseconds(2000)) return false;
        core_.queues().session_bell.wait_for(std::chrono::milliseconds(20));
    }
    return true;
}

void SessionWorker::run() {
    while (!stop_.load()) {
        core_.queues().session_bell.wait_for(std::chrono::milliseconds(100));
        if (stop_.load()) break;
        if (job_.stage.load(std::memory_order_acquire) == Stage::kRequested && job_.from_client) carry_out();
        std::vector<Request*> todo;
        {
            std::lock_guard<std::mutex> lock(mutex_);
            todo.swap(requests_);
        }
        for (Request* r : todo) {
            serve_request(*r);
            std::lock_guard<std::mutex> lock(mutex_);
            r->done = true;
        }
        if (!todo.empty()) answered_.notify_all();
        update_state();
    }
    // Requests left when stopping: answered, not carried out.
    std::lock_guard<std::mutex> lock(mutex_);
    for (Request* r : requests_) {
        r->result.code = LR_E_BUSY;
        r->result.message = "the engine is stopping";
        r->done = true;
    }
    requests_.clear();
    answered_.notify_all();
}

void SessionWorker::carry_out() {
    job_.stage.store(Stage::kWorking, std::memory_order_release);
    const std::string dir = job_.path;
    const SessionResult r = job_.type == LR_CMD_SESSION_OPEN ? do_open(dir, job_.play) : do_save(dir);
    job_.code = r.code;
    job_.value[0] = r.value[0];
    job_.value[1] = r.value[1];
    if (r.frame) job_.frame = r.frame;
    copy_message(job_.message, r.message);
    job_.stage.store(Stage::kAnswerReady, std::memory_order_release);
}

void SessionWorker::serve_request(Request& r) {
    // The job must be free: a client's save or open may be running.
    while (job_.stage.load(std::memory_order_acquire) != Stage::kIdle) {
        if (job_.stage.load(std::memory_order_acquire) == Stage::kRequested && job_.from_client) {
            carry_out();
            continue;
        }
        if (!wait_stage(Stage::kIdle, std::chrono::milliseconds(3000))) {
            r.result.code = LR_E_BUSY;
            r.result.message = "another session save or open did not finish (is JACK running?)";
            return;
        }
    }
    uint32_t idle = Stage::kIdle;
    if (!job_.stage.compare_exchange_strong(idle, Stage::kClaimed, std::memory_order_acquire)) {
        r.result.code = LR_E_BUSY;
        r.result.message = "a session save or open is in progress; try again";
        return;
    }
    job_.from_client = false;
    job_.type = r.open ? LR_CMD_SESSION_OPEN : LR_CMD_SESSION_SAVE;
    job_.play = r.play;
    if (r.open) {
        job_.stage.store(Stage::kWorking, std::memory_order_release);
        r.result = do_open(r.dir, r.play);
    } else {
        job_.stage.store(Stage::kSnapshotWanted, std::memory_order_release);
        if (!wait_stage(Stage::kRequested, std::chrono::milliseconds(2000))) {
            uint32_t wanted = Stage::kSnapshotWanted;
            if (job_.stage.compare_exchange_strong(wanted, Stage::kIdle)) {
                r.result.code = LR_E_BUSY;
                r.result.message = "the engine is not running periods (JACK away?): nothing saved";
                return;
            }
            wait_stage(Stage::kRequested, std::chrono::milliseconds(60000));  // the audio thread took it
        }
        job_.stage.store(Stage::kWorking, std::memory_order_release);
        r.result = do_save(r.dir);
    }
    job_.stage.store(Stage::kAnswerReady, std::memory_order_release);
    // The audio thread releases the snapshot's references and frees the job.
    wait_stage(Stage::kIdle, std::chrono::milliseconds(1000));
}

SessionResult SessionWorker::do_save(const std::string& requested) {
    SessionResult r;
    for (SessionSlot& s : job_.rig.slots) s.saved_path[0] = '\0';
    const std::string dir = requested.empty() ? folder() : session::normalise_folder(requested);
    if (dir.empty()) {
        r.code = LR_E_FILE;
        r.message = "no session in use: give the folder to save to";
        return r;
    }
    std::vector<session::Connection> connections = hooks_.connections ? sorted(hooks_.connections()) : std::vector<session::Connection>{};
    try {
        const session::SaveReport report =
            store_.save(dir, job_.rig, connections, settings_.engine, hooks_.midi_map ? hooks_.midi_map() : std::string());
        for (std::size_t i = 0; i < job_.rig.slots.size(); ++i)
            std::snprintf(job_.rig.slots[i].saved_path, LR_TEXT_MAX, "%s", report.audio_paths[i].c_str());
        {
            std::lock_guard<std::mutex> lock(mutex_);
            folder_ = dir;
        }
        have_session_ = true;
        saved_changes_ = job_.changes;
        saved_connections_ = connections;
        header_->session_saves = header_->session_saves + 1;
        r.value[0] = report.slots;
        r.value[1] = report.files_written;
        r.message = fmt::format("saved {}: {} slot{}", dir, report.slots, report.slots == 1 ? "" : "s");
        if (report.files_written)
            r.message += fmt::format(", {} audio file{} written ({})", report.files_written,
                                     report.files_written == 1 ? "" : "s", megabytes(report.bytes_written));
        if (!report.document_written) r.message += " (unchanged)";
    } catch (const session::Failure& f) {
        r.code = f.code;
        r.message = fmt::format("{}; the previous session is untouched", f.what());
    } catch (const std::exception& e) {
        r.code = LR_E_INTERNAL;
        r.message = fmt::format("save failed ({}); the previous session is untouched", e.what());
    }
    update_state();
    return r;
}

SessionResult SessionWorker::do_open(const std::string& requested, bool play) {
    SessionResult r;
    const std::string dir = requested.empty() ? folder() : session::normalise_folder(requested);
    if (dir.empty()) {
        r.code = LR_E_FILE;
        r.message = "no session in use: give the folder to open";
        return r;
    }
    session::OpenedSession opened;
    try {
        opened = store_.open(dir, static_cast<uint32_t>(job_.rig.slots.size()), settings_.engine.sample_rate,
                             settings_.max_bytes, settings_.allowed_dirs);
    } catch (const session::Failure& f) {
        r.code = f.code;
        r.message = fmt::format("{}; nothing changed", f.what());
        if (r.message.size() + 12 < LR_MESSAGE_MAX - 1)
            r.message += fmt::format(" (session {})", session::shorten(dir, LR_MESSAGE_MAX - 13 - r.message.size()));
        return r;
    } catch (const std::exception& e) {
        r.code = LR_E_INTERNAL;
        r.message = fmt::format("open failed ({}); nothing changed", e.what());
        return r;
    }
    // Hand the rig to the audio thread, which installs it in one period.
    session::rig_values_of(opened.doc, settings_.engine.sample_rate, job_.rig);
    uint32_t loops = 0, playing = 0;
    for (uint32_t i = 0; i < job_.rig.slots.size(); ++i) {
        job_.rig.slots[i].sample = opened.samples[i].release();
        if (job_.rig.slots[i].sample) {
            ++loops;
            if (job_.rig.slots[i].playing) ++playing;
        }
    }
    job_.play = play;
    job_.stage.store(Stage::kInstallReady, std::memory_order_release);
    while (!wait_stage(Stage::kInstalled, std::chrono::milliseconds(500))) {
        if (!stop_.load()) continue;
        uint32_t ready = Stage::kInstallReady;
        if (job_.stage.compare_exchange_strong(ready, Stage::kWorking)) {  // never installed: ours to free
            for (SessionSlot& s : job_.rig.slots) {
                delete s.sample;
                s.sample = nullptr;
            }
            r.code = LR_E_BUSY;
            r.message = "open abandoned: the engine is stopping";
            return r;
        }
    }
    job_.stage.store(Stage::kWorking, std::memory_order_release);
    if (play && playing) {
        // The playing slots start together once their renders are in (at most kStartWait later).
        job_.start_deadline = job_.frame + static_cast<uint64_t>(kStartWait.count()) * settings_.engine.sample_rate;
        job_.stage.store(Stage::kStartReady, std::memory_order_release);
        while (!wait_stage(Stage::kStarted, std::chrono::milliseconds(500))) {
            uint32_t ready = Stage::kStartReady;
            if (stop_.load() && job_.stage.compare_exchange_strong(ready, Stage::kWorking)) {
                play = false;  // the engine is stopping: opened, not started
                break;
            }
        }
        job_.stage.store(Stage::kWorking, std::memory_order_release);
    }
    r.frame = job_.frame;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        folder_ = dir;
    }
    if (hooks_.restore_midi_map) hooks_.restore_midi_map(opened.doc.midi_map);  // validated by parse()
    have_session_ = true;
    saved_changes_ = job_.changes;
    // Connections: ours made as saved; the ones that cannot be made are reported.
    std::vector<std::string> missing;
    if (hooks_.restore_connections) missing = hooks_.restore_connections(opened.doc.connections);
    saved_connections_ = hooks_.connections ? sorted(hooks_.connections()) : std::vector<session::Connection>{};
    // What JACK reports after our requests is what the session holds now.
    r.value[0] = loops;
    r.value[1] = static_cast<double>(missing.size());
    r.message = fmt::format("opened {}: {} slot{}", dir, loops, loops == 1 ? "" : "s");
    if (play && playing) r.message += fmt::format(" ({} playing from frame {})", playing, r.frame);
    else if (playing) r.message += fmt::format(" ({} were playing: stopped, ready)", playing);
    const std::size_t made = opened.doc.connections.size() - std::min(opened.doc.connections.size(), missing.size());
    r.message += fmt::format("; {} connection{} restored", made, made == 1 ? "" : "s");
    if (!missing.empty()) {
        r.message += fmt::format(", {} missing:", missing.size());
        for (const std::string& m : missing) r.message += " " + m + ";";
        r.message.pop_back();
    }
    for (const std::string& m : missing) std::fprintf(stderr, "looprigd: session %s: connection not restored: %s\n", dir.c_str(), m.c_str());
    update_state();
    return r;
}

void SessionWorker::update_state() {
    const uint64_t changes = core_.queues().rig_changes.load(std::memory_order_relaxed);
    const auto now = Clock::now();
    std::vector<session::Connection> connections;
    if (have_session_ && hooks_.connections) connections = sorted(hooks_.connections());
    const bool connections_differ = have_session_ && connections != saved_connections_;
    if (changes != seen_changes_ || connections != seen_connections_) {
        seen_changes_ = changes;
        seen_connections_ = connections;
        last_change_ = now;
    }
    const bool dirty = have_session_ && (changes != saved_changes_ || connections_differ);
    if (dirty && !dirty_.load()) first_unsaved_ = now;
    dirty_.store(dirty, std::memory_order_release);
    header_->session_state = !have_session_ ? LR_SESSION_NONE : dirty ? LR_SESSION_DIRTY : LR_SESSION_CLEAN;
    if (have_session_ && (dirty != dirty_reported_ || !reported_once_)) {
        dirty_reported_ = dirty;
        reported_once_ = true;
        if (hooks_.dirty_changed) hooks_.dirty_changed(dirty);
    }
    if (!settings_.autosave || !dirty || in_autosave_ || folder().empty()) return;
    if (now - last_change_ < settings_.quiet && now - first_unsaved_ < settings_.longest) return;
    in_autosave_ = true;
    Request r;
    serve_request(r);
    in_autosave_ = false;
    if (r.result.code != LR_OK && r.result.message != last_autosave_error_)
        std::fprintf(stderr, "looprigd: autosave: %s\n", r.result.message.c_str());
    last_autosave_error_ = r.result.code == LR_OK ? "" : r.result.message;
    if (r.result.code != LR_OK) first_unsaved_ = now;  // try again after `longest`, not every poll
}

}  // namespace looprig
