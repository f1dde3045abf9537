#include "engine.hpp"
#include "rt/dsp.hpp"

#include "looprig/shm_client.h"
#include "ring.hpp"
#include "rt/client_protocol.hpp"
#include "rt/rt_guard.hpp"

#include <fmt/format.h>
#include <jack/metadata.h>
#include <jack/uuid.h>

#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>
#include <jack/midiport.h>

#include <algorithm>
#include <cerrno>
#include <cctype>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <thread>

namespace looprig {

namespace {
std::atomic<bool> g_stop{false};
std::atomic<Doorbell*> g_housekeeping_bell{nullptr};  // rung by request_stop() (signal handlers)

void log(const std::string& line) { fmt::print(stderr, "looprigd: {}\n", line); }

/// The JACK server the engine connects to: $JACK_DEFAULT_SERVER or "default",
/// as libjack picks it (the engine never passes JackServerName).
std::string jack_server_name() {
    const char* server = std::getenv("JACK_DEFAULT_SERVER");
    return server ? server : "default";
}

/// JACK2 binds each client's socket at the path of a server of the client's
/// name (/dev/shm/jack_<name>_<uid>_0), unlinking that server's socket: the
/// server then accepts no more clients. Refuse such a name before connecting.
void check_client_name(const std::string& name) {
    const std::string server = jack_server_name();
    if (name == server)
        throw std::runtime_error(fmt::format(
            "the engine name '{}' is the JACK server's name: a JACK client named like its server makes "
            "the server unreachable for every other client (JACK2 replaces the server's socket); "
            "choose another --name", name));
    const std::string socket = fmt::format("/dev/shm/jack_{}_{}_0", name, static_cast<unsigned>(getuid()));
    struct stat st{};
    if (::lstat(socket.c_str(), &st) == 0 && S_ISSOCK(st.st_mode))
        throw std::runtime_error(fmt::format(
            "the engine name '{}' is the name of a JACK server running on this machine ({}): a JACK client "
            "of that name would make that server unreachable for every other client; choose another --name",
            name, socket));
}

std::string port_digits(uint32_t index, uint32_t count) {
    const int width = count > 100 ? static_cast<int>(std::to_string(count - 1).size()) : 2;
    return fmt::format("{:0{}}", index, width);
}
}  // namespace

void Engine::request_stop() {
    g_stop.store(true);
    if (Doorbell* bell = g_housekeeping_bell.load()) bell->ring();  // async-signal safe
}

Engine::Engine(const EngineOptions& options) : options_(options) {
    if (options_.slots == 0 || options_.slots > LR_MAX_SLOTS)
        throw std::runtime_error(fmt::format("--slots must be 1..{}", LR_MAX_SLOTS));
    if (!(options_.declick_ms >= 0.0 && options_.declick_ms <= 100.0))
        throw std::runtime_error("--declick-ms must be 0..100");
    check_client_name(options_.name);  // before the segment and the JACK client
    if (!dsp::valid_pan_law(options_.pan_law_db)) throw std::runtime_error("--pan-law must be 0, -3, -4.5 or -6");
    // A bad --midi-map stops us before anything is made.
    MidiMap midi_map = MidiMapOwner::read_file(options_.midi_map, options_.slots);
    segment_ = shm::Segment::create(options_.name, options_.slots);

    open_client(true);

    CoreConfig cfg;
    cfg.slot_count = options_.slots;
    cfg.sample_rate = sample_rate_;
    cfg.max_frames = 8192;  // JACK2's largest period
    cfg.declick_frames = static_cast<uint32_t>(std::lround(options_.declick_ms * sample_rate_ / 1000.0));
    cfg.smooth_frames = static_cast<uint32_t>(std::lround(options_.smooth_ms * sample_rate_ / 1000.0));
    cfg.pan_law_db = options_.pan_law_db;
    core_ = std::make_unique<AudioCore>(*segment_, cfg);
    loader_ = std::make_unique<Loader>(*core_, options_.max_file_bytes, options_.allowed_dirs);
    loudness_ = std::make_unique<LoudnessMeter>(*core_, sample_rate_);
    renderer_ = std::make_unique<RenderWorker>(
        *core_, sample_rate_, options_.finer,
        options_.render_threads ? options_.render_threads : RenderWorker::default_threads());

    // The MIDI map: --midi-map's file (read before JACK runs our periods), or the default.
    midi_map_ = std::make_unique<MidiMapOwner>(core_->midi(), options_.slots, std::move(midi_map),
                                               [this](const std::string& line) { log(line); },
                                               [this] { core_->queues().rig_changes.fetch_add(1); });

    activate();

    SessionSettings settings;
    settings.engine.name = options_.name;
    settings.engine.sample_rate = sample_rate_;
    settings.engine.slot_count = options_.slots;
    settings.engine.slot_outs = options_.slot_outs;
    settings.engine.bus_outs = options_.bus_outs;
    settings.max_bytes = options_.max_file_bytes;
    settings.allowed_dirs = options_.allowed_dirs;
    settings.autosave = !options_.session_dir.empty() && options_.autosave;
    SessionHooks hooks;
    hooks.connections = [this] { return tracked_connections(); };
    hooks.restore_connections = [this](const std::vector<session::Connection>& c) { return make_connections(c); };
    hooks.midi_map = [this] { return midi_map_->json(); };
    hooks.restore_midi_map = [this](const std::string& json) {
        try {
            midi_map_->restore(json);
        } catch (const MidiMapError& e) {
            log(fmt::format("session: MIDI map not restored: {}", e.what()));
        }
    };
    hooks.dirty_changed = options_.session_dirty_changed;
    sessions_ = std::make_unique<SessionWorker>(*core_, segment_->header(), settings, hooks);
    if (!options_.session_dir.empty()) start_session();
}

void Engine::start_session() {
    const std::string dir = session::normalise_folder(options_.session_dir);
    struct stat st {};
    const bool has_document = ::stat((dir + "/" + session::kDocumentName).c_str(), &st) == 0;
    const SessionResult r = has_document ? sessions_->open(dir, options_.session_play) : sessions_->save(dir);
    if (r.code != LR_OK) {
        sessions_.reset();
        for (jack_port_t* p : registered_ports_) jack_remove_properties(client_, jack_port_uuid(p));
        jack_deactivate(client_);  // the destructor does not run: no period may touch what goes with us
        jack_client_close(client_);
        client_ = nullptr;
        throw SessionStartFailure(fmt::format("session {}: {}", dir, r.message), has_document);
    }
    log(has_document ? r.message : fmt::format("new session in {}", dir));
}

std::vector<session::Connection> Engine::tracked_connections() {
    std::lock_guard<std::mutex> lock(connections_mutex_);
    std::vector<session::Connection> out;
    out.reserve(connections_.size());
    for (const auto& [mine, other] : connections_) out.push_back({mine, other});
    return out;
}

std::vector<std::string> Engine::make_connections(const std::vector<session::Connection>& wanted) {
    std::vector<std::string> missing;
    if (!client_ || jack_lost_.load()) {
        for (const auto& c : wanted) missing.push_back(fmt::format("{} -> {} (JACK is away)", c.port, c.other));
        return missing;
    }
    const std::string me = jack_get_client_name(client_);
    for (const auto& c : wanted) {
        const std::string ours = me + ":" + c.port;
        jack_port_t* port = jack_port_by_name(client_, ours.c_str());
        if (!port || !jack_port_is_mine(client_, port)) {
            missing.push_back(fmt::format("{} -> {}: this engine has no port {}", c.port, c.other, c.port));
            continue;
        }
        if (!jack_port_by_name(client_, c.other.c_str())) {
            missing.push_back(fmt::format("{} -> {}: no such port", c.port, c.other));
            continue;
        }
        if (jack_port_connected_to(port, c.other.c_str())) continue;
        const bool output = (jack_port_flags(port) & JackPortIsOutput) != 0;
        const int rc = output ? jack_connect(client_, ours.c_str(), c.other.c_str())
                              : jack_connect(client_, c.other.c_str(), ours.c_str());
        if (rc != 0 && rc != EEXIST) missing.push_back(fmt::format("{} -> {}: JACK refused ({})", c.port, c.other, rc));
    }
    // Wait (briefly) until the notifications of what we made have come back,
    // so the tracked list (and the session's "dirty") is what JACK holds.
    for (int i = 0; i < 50; ++i) {
        const std::vector<session::Connection> now = tracked_connections();
        bool all = true;
        for (const auto& c : wanted) {
            const bool made = std::find(now.begin(), now.end(), c) != now.end();
            const bool failed = std::find_if(missing.begin(), missing.end(), [&](const std::string& m) {
                                    return m.rfind(c.port + " -> " + c.other + ":", 0) == 0;
                                }) != missing.end();
            all = all && (made || failed);
        }
        if (all) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return missing;
}

void Engine::activate() {
    lr_header* h = segment_->header();
    h->sample_rate = sample_rate_;
    h->buffer_size = buffer_size_.load();
    std::snprintf(h->jack_server_name, LR_NAME_MAX, "%s", jack_server_name().c_str());
    std::snprintf(h->jack_client_name, LR_NAME_MAX, "%s", jack_get_client_name(client_));

    register_ports();
    // Names the threads libjack starts for this client (its process thread
    // among them) "lr-jack", for per-thread CPU readings (tools/idle-cpu.py).
    jack_set_thread_init_callback(client_, [](void*) { pthread_setname_np(pthread_self(), "lr-jack"); }, nullptr);
    jack_set_process_callback(client_, &Engine::process_callback, this);
    jack_set_xrun_callback(client_, &Engine::xrun_callback, this);
    jack_set_buffer_size_callback(client_, &Engine::buffer_size_callback, this);
    jack_set_sample_rate_callback(client_, &Engine::sample_rate_callback, this);
    jack_set_port_connect_callback(client_, &Engine::port_connect_callback, this);
    jack_on_info_shutdown(client_, &Engine::shutdown_callback, this);
    if (jack_activate(client_) != 0) throw std::runtime_error("cannot activate the JACK client");
    shm::store_release(h->engine_state, LR_ENGINE_RUNNING);
}

bool Engine::open_client(bool first) {
    jack_status_t status{};
    client_ = jack_client_open(options_.name.c_str(), static_cast<jack_options_t>(JackUseExactName | JackNoStartServer), &status);
    if (!client_) {
        if (!first) return false;
        if (status & JackNameNotUnique)
            throw std::runtime_error(fmt::format("JACK client name '{}' is already taken", options_.name));
        throw std::runtime_error(fmt::format("cannot connect to the JACK server '{}' (status 0x{:x}); is jackd running?",
                                             jack_server_name(), static_cast<unsigned>(status)));
    }
    const uint32_t rate = jack_get_sample_rate(client_);
    if (!first && rate != sample_rate_) {
        log(fmt::format("the JACK server now runs at {} Hz, not {} Hz: new loads are converted to {} Hz; "
                        "loops loaded before play {:.4f}x fast until reloaded", rate, sample_rate_, rate,
                        static_cast<double>(rate) / sample_rate_));
        core_->set_sample_rate(rate);
    }
    sample_rate_ = rate;
    buffer_size_.store(jack_get_buffer_size(client_));
    return true;
}

bool Engine::connect_jack(bool first) {
    if (!open_client(first)) return false;
    try {
        activate();
    } catch (const std::exception& e) {
        if (first) throw;
        log(fmt::format("reconnection failed: {}", e.what()));
        drop_jack();
        return false;
    }
    return true;
}

Engine::~Engine() {
    sessions_.reset();  // before the core it hands jobs to, and the JACK client its hooks use
    if (client_) {
        if (!jack_lost_.load()) {
            // jackd 1.9.21 can deadlock unregistering many ports that still carry
            // metadata (it blocks writing property-change notifications), so
            // drop our properties first.
            for (jack_port_t* p : registered_ports_) jack_remove_properties(client_, jack_port_uuid(p));
            jack_deactivate(client_);
        }
        jack_client_close(client_);
    }
    midi_map_.reset();  // it hands tables to the core's MIDI unit: before the core
    renderer_.reset();
    loudness_.reset();
    loader_.reset();
    core_.reset();
}

void Engine::drop_jack() {
    if (client_) jack_client_close(client_);  // the server is gone: nothing to deactivate
    client_ = nullptr;
    registered_ports_.clear();
    master_[0] = master_[1] = nullptr;
    midi_in_ = midi_out_ = midi_clock_out_ = nullptr;
    for (auto& v : slot_ports_) v.clear();
    for (auto& g : group_ports_) g[0] = g[1] = nullptr;
    for (auto& k : send_ports_) k[0] = k[1] = nullptr;
    for (auto& k : return_ports_) k[0] = k[1] = nullptr;
    timebase_registered_ = false;
    timebase_refused_ = false;
}

void Engine::port_connect_callback(jack_port_id_t a, jack_port_id_t b, int connect, void* arg) {
    // JACK's notification thread (not the audio thread): only client-side
    // lookups here, no request to the server. The list's mutex is taken by
    // this thread and the main thread only.
    auto* self = static_cast<Engine*>(arg);
    // A dying server's clients get its disconnections after the shutdown
    // notice (same thread): they are what the engine restores, keep them.
    if (self->jack_lost_.load()) return;
    jack_client_t* client = self->client_;
    jack_port_t* pa = jack_port_by_id(client, a);
    jack_port_t* pb = jack_port_by_id(client, b);
    if (!pa || !pb) return;
    const bool a_mine = jack_port_is_mine(client, pa) != 0;
    const bool b_mine = jack_port_is_mine(client, pb) != 0;
    if (a_mine == b_mine) return;  // not ours (our ports are all outputs: never both)
    jack_port_t* mine = a_mine ? pa : pb;
    jack_port_t* other = a_mine ? pb : pa;
    if (connect && (mine == self->midi_out_ || mine == self->midi_clock_out_)) {
        // A controller or device came: all LEDs again, and the clock's song position.
        if (mine == self->midi_out_) self->core_->midi().request_refresh();
        self->core_->midi().request_clock_sync();
    }
    std::pair<std::string, std::string> link{jack_port_short_name(mine), jack_port_name(other)};
    std::lock_guard<std::mutex> lock(self->connections_mutex_);
    auto& list = self->connections_;
    const auto it = std::find(list.begin(), list.end(), link);
    if (connect && it == list.end())
        list.push_back(std::move(link));
    else if (!connect && it != list.end())
        list.erase(it);
}

void Engine::restore_connections() {
    if (!client_ || restore_tries_ <= 0) return;
    --restore_tries_;
    const std::string me = jack_get_client_name(client_);
    std::vector<std::pair<std::string, std::string>> wanted;
    {
        // A copy: no lock held across JACK calls (jack_connect notifies this
        // client, whose notification thread takes the lock).
        std::lock_guard<std::mutex> lock(connections_mutex_);
        wanted = connections_;
    }
    std::size_t missing = 0;
    for (const auto& [mine, other] : wanted) {
        const std::string from = me + ":" + mine;
        jack_port_t* port = jack_port_by_name(client_, from.c_str());
        if (port && jack_port_connected_to(port, other.c_str())) continue;
        const bool input = port && (jack_port_flags(port) & JackPortIsInput);  // midi_in
        const int rc = input ? jack_connect(client_, other.c_str(), from.c_str())
                             : jack_connect(client_, from.c_str(), other.c_str());
        if (rc != 0 && rc != EEXIST) ++missing;  // the other client may not be back yet: retried each second
    }
    if (missing == 0) {
        if (!wanted.empty()) log(fmt::format("restored {} connections", wanted.size()));
        restore_tries_ = 0;
    } else if (restore_tries_ == 0) {
        log(fmt::format("{} of {} connections could not be restored (their ports are gone)", missing,
                        wanted.size()));
    }
}

void Engine::register_ports() {
    registered_ports_.clear();
    for (auto& v : slot_ports_) v.clear();
    auto add = [&](const std::string& short_name, const std::string& pretty) {
        jack_port_t* p = jack_port_register(client_, short_name.c_str(), JACK_DEFAULT_AUDIO_TYPE, JackPortIsOutput, 0);
        if (!p) throw std::runtime_error(fmt::format("cannot register JACK port {}", short_name));
        const jack_uuid_t uuid = jack_port_uuid(p);
        if (!jack_uuid_empty(uuid)) jack_set_property(client_, uuid, JACK_METADATA_PRETTY_NAME, pretty.c_str(), "text/plain");
        registered_ports_.push_back(p);
        return p;
    };
    master_[0] = add("out_L", "Master L");
    master_[1] = add("out_R", "Master R");
    auto add_midi = [&](const char* short_name, const char* pretty, unsigned long flags) {
        jack_port_t* p = jack_port_register(client_, short_name, JACK_DEFAULT_MIDI_TYPE, flags, 0);
        if (!p) throw std::runtime_error(fmt::format("cannot register JACK port {}", short_name));
        const jack_uuid_t uuid = jack_port_uuid(p);
        if (!jack_uuid_empty(uuid)) jack_set_property(client_, uuid, JACK_METADATA_PRETTY_NAME, pretty, "text/plain");
        registered_ports_.push_back(p);
        return p;
    };
    midi_in_ = add_midi("midi_in", "MIDI in (controllers)", JackPortIsInput);
    midi_out_ = add_midi("midi_out", "MIDI out (LEDs, clock)", JackPortIsOutput);
    midi_clock_out_ = add_midi("midi_clock_out", "MIDI clock out", JackPortIsOutput);
    if (options_.slot_outs) {
        for (uint32_t i = 0; i < options_.slots; ++i) {
            const std::string n = port_digits(i, options_.slots);
            slot_ports_[0].push_back(add("slot" + n + "_L", fmt::format("Slot {} L", i)));
            slot_ports_[1].push_back(add("slot" + n + "_R", fmt::format("Slot {} R", i)));
        }
        slot_buffers_[0].resize(options_.slots);
        slot_buffers_[1].resize(options_.slots);
    }
    if (options_.bus_outs) {
        for (uint32_t g = 0; g < LR_GROUPS; ++g) {
            group_ports_[g][0] = add(fmt::format("group{}_L", g), fmt::format("Group {} L", g));
            group_ports_[g][1] = add(fmt::format("group{}_R", g), fmt::format("Group {} R", g));
        }
        for (uint32_t k = 0; k < LR_SENDS; ++k) {
            const std::string name = lr_send_name(k);  // "delay", "reverb"
            std::string pretty = name;
            pretty[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(pretty[0])));
            send_ports_[k][0] = add(fmt::format("{}_send_L", name), fmt::format("{} send L", pretty));
            send_ports_[k][1] = add(fmt::format("{}_send_R", name), fmt::format("{} send R", pretty));
            return_ports_[k][0] = add(fmt::format("{}_return_L", name), fmt::format("{} return L", pretty));
            return_ports_[k][1] = add(fmt::format("{}_return_R", name), fmt::format("{} return R", pretty));
        }
    }
}

int Engine::process_callback(jack_nframes_t nframes, void* arg) {
    auto* self = static_cast<Engine*>(arg);
    rt_guard::enter();
    CoreOutputs out;
    out.master[0] = static_cast<float*>(jack_port_get_buffer(self->master_[0], nframes));
    out.master[1] = static_cast<float*>(jack_port_get_buffer(self->master_[1], nframes));
    if (!self->slot_ports_[0].empty()) {
        for (std::size_t i = 0; i < self->slot_ports_[0].size(); ++i) {
            self->slot_buffers_[0][i] = static_cast<float*>(jack_port_get_buffer(self->slot_ports_[0][i], nframes));
            self->slot_buffers_[1][i] = static_cast<float*>(jack_port_get_buffer(self->slot_ports_[1][i], nframes));
        }
        out.slot_left = self->slot_buffers_[0].data();
        out.slot_right = self->slot_buffers_[1].data();
    }
    auto buffer = [nframes](jack_port_t* p) { return p ? static_cast<float*>(jack_port_get_buffer(p, nframes)) : nullptr; };
    for (uint32_t c = 0; c < 2; ++c) {
        for (uint32_t g = 0; g < LR_GROUPS; ++g) out.group[g][c] = buffer(self->group_ports_[g][c]);
        for (uint32_t k = 0; k < LR_SENDS; ++k) {
            out.send[k][c] = buffer(self->send_ports_[k][c]);
            out.fx_return[k][c] = buffer(self->return_ports_[k][c]);
        }
    }
    if (self->core_->transport_mode() != LR_TRANSPORT_OFF) {
        jack_position_t pos;
        TransportInfo t;
        t.rolling = jack_transport_query(self->client_, &pos) == JackTransportRolling;  // RT safe
        t.frame = pos.frame;
        t.bbt_valid = (pos.valid & JackPositionBBT) && pos.beats_per_minute > 0 && pos.beats_per_bar > 0 &&
                      pos.ticks_per_beat > 0 && pos.bar >= 1 && pos.beat >= 1;
        if (t.bbt_valid) {
            t.bpm = pos.beats_per_minute;
            t.beats_per_bar = pos.beats_per_bar;
            t.beat = (pos.bar - 1) * static_cast<double>(pos.beats_per_bar) + (pos.beat - 1) +
                     pos.tick / pos.ticks_per_beat;
        }
        self->core_->set_transport(t);
    }
    // MIDI in: this period's events (JACK's, in time order) as plain data for the core.
    if (void* in = self->midi_in_ ? jack_port_get_buffer(self->midi_in_, nframes) : nullptr) {
        const uint32_t n = std::min<uint32_t>(jack_midi_get_event_count(in), kMaxMidiIn);
        uint32_t used = 0;
        for (uint32_t i = 0; i < n; ++i) {
            jack_midi_event_t ev;
            if (jack_midi_event_get(&ev, in, i) != 0 || ev.size == 0) continue;
            rt::MidiInEvent& e = self->midi_in_events_[used++];
            e.offset = ev.time;
            e.size = static_cast<uint8_t>(std::min<size_t>(ev.size, 3));
            std::memcpy(e.data, ev.buffer, e.size);
        }
        out.midi_in = self->midi_in_events_;
        out.midi_in_count = used;
    }
    const uint64_t frame_time = self->clock_.extend(jack_last_frame_time(self->client_));
    // Changes only on the first period after a reconnection; stored before
    // process() publishes that period's frame time.
    shm::store_release64(self->segment_->header()->jack_frame_offset, self->clock_.offset());
    self->core_->process(nframes, frame_time, out);
    // MIDI out: LEDs and clock (midi_out), clock only (midi_clock_out).
    void* mo = self->midi_out_ ? jack_port_get_buffer(self->midi_out_, nframes) : nullptr;
    void* mc = self->midi_clock_out_ ? jack_port_get_buffer(self->midi_clock_out_, nframes) : nullptr;
    if (mo) jack_midi_clear_buffer(mo);
    if (mc) jack_midi_clear_buffer(mc);
    const rt::MidiControl& midi = self->core_->midi();
    for (uint32_t i = 0; i < midi.out_count(); ++i) {
        const rt::MidiOutEvent& e = midi.out_events()[i];
        const jack_nframes_t t = std::min<jack_nframes_t>(e.offset, nframes - 1);
        if (mo && (e.ports & 1)) jack_midi_event_write(mo, t, e.data, e.size);
        if (mc && (e.ports & 2)) jack_midi_event_write(mc, t, e.data, e.size);
    }
    rt_guard::leave();
    return 0;
}

int Engine::xrun_callback(void* arg) {
    static_cast<Engine*>(arg)->core_->count_xrun();
    return 0;
}

int Engine::buffer_size_callback(jack_nframes_t nframes, void* arg) {
    auto* self = static_cast<Engine*>(arg);
    self->buffer_size_.store(nframes);
    self->segment_->header()->buffer_size = nframes;
    return 0;
}

int Engine::sample_rate_callback(jack_nframes_t rate, void* arg) {
    auto* self = static_cast<Engine*>(arg);
    if (rate != self->sample_rate_ && self->sample_rate_ != 0) {
        self->core_->set_sample_rate(rate);
        self->segment_->header()->sample_rate = rate;
    }
    return 0;
}

void Engine::timebase_callback(jack_transport_state_t, jack_nframes_t, jack_position_t* pos, int, void* arg) {
    // Runs on the audio thread, after process(): BBT of looprig's grid for the next cycle. RT safe.
    auto* self = static_cast<Engine*>(arg);
    double bpm = 120, bpb = 4, beat = 0;
    self->core_->timebase(&bpm, &bpb, &beat);
    constexpr double kTicks = 1920.0;
    const double whole = std::floor(beat);
    const auto bar_index = static_cast<int64_t>(std::floor(beat / bpb));
    pos->valid = JackPositionBBT;
    pos->bar = static_cast<int32_t>(bar_index + 1);
    pos->beat = static_cast<int32_t>(whole - static_cast<double>(bar_index) * bpb) + 1;
    pos->tick = static_cast<int32_t>((beat - whole) * kTicks);
    pos->bar_start_tick = static_cast<double>(bar_index) * bpb * kTicks;
    pos->beats_per_bar = static_cast<float>(bpb);
    pos->beat_type = 4.0f;
    pos->ticks_per_beat = kTicks;
    pos->beats_per_minute = bpm;
}

void Engine::update_timebase() {
    if (!client_) return;
    const bool want = core_->transport_mode() == LR_TRANSPORT_MASTER;
    if (!want) timebase_refused_ = false;
    if (want == timebase_registered_ || (want && timebase_refused_)) return;
    if (want) {
        if (jack_set_timebase_callback(client_, 0, &Engine::timebase_callback, this) == 0) {
            timebase_registered_ = true;
            log("timebase master: other JACK clients follow looprig's tempo and bars");
        } else {
            timebase_refused_ = true;  // asked again when the mode is set anew
            log("could not become JACK timebase master (another client holds it)");
        }
    } else {
        jack_release_timebase(client_);
        timebase_registered_ = false;
    }
}

void Engine::shutdown_callback(jack_status_t, const char* reason, void* arg) {
    auto* self = static_cast<Engine*>(arg);
    std::snprintf(self->jack_lost_reason_, sizeof self->jack_lost_reason_, "%s", reason ? reason : "unknown");
    self->jack_lost_.store(true);
    self->core_->housekeeping_bell().ring();
}

void Engine::reap_dead_clients() {
    for (uint32_t i = 0; i < LR_MAX_CLIENTS; ++i) {
        lr_client_place* c = segment_->client(i);
        const uint32_t pid = shm::load_acquire(c->owner_pid);
        const uint32_t state = shm::load_acquire(c->state);
        const bool valid = state == LR_CLIENT_FREE || state == LR_CLIENT_ACTIVE || state == LR_CLIENT_CLOSING;
        if (!valid && (pid == 0 || shm::process_exited(static_cast<int32_t>(pid)))) {
            // Scribbled to a state no one uses, and no live owner: the audio thread frees it.
            shm::compare_exchange(c->state, state, LR_CLIENT_CLOSING);
            continue;
        }
        if (pid == 0) continue;
        if (!shm::process_exited(static_cast<int32_t>(pid))) continue;  // zombies count as gone
        // Its owner is gone: the audio thread frees an ACTIVE place after
        // discarding its commands; a place claimed but never activated is ours to free.
        if (shm::compare_exchange(c->state, LR_CLIENT_ACTIVE, LR_CLIENT_CLOSING)) {
            if (options_.verbose) log(fmt::format("client {} (pid {}) died; reclaiming its place", i, pid));
        } else if (shm::load_acquire(c->state) == LR_CLIENT_FREE) {
            shm::compare_exchange(c->owner_pid, pid, 0);
        }
    }
}

void Engine::free_garbage() {
    Sample* s = nullptr;
    while (core_->garbage().pop_into(&s)) delete s;
}

int Engine::run() {
    using namespace std::chrono_literals;
    const lr_header* h = segment_->header();
    fmt::print("looprigd: ready: JACK client '{}' on server '{}', {} Hz, {} frames, {} slots{}, segment /dev/shm{}\n",
               h->jack_client_name, h->jack_server_name, sample_rate_, buffer_size_.load(), options_.slots,
               options_.slot_outs ? " with per-slot outs" : "", segment_->name());
    std::fflush(stdout);
    uint64_t reported_violations = 0;
    bool lost = false;
    auto next_try = std::chrono::steady_clock::now();
    auto next_restore = next_try + 1s;
    // Housekeeping sleeps until the audio thread rings (garbage, a change of
    // transport mode), JACK goes away, a signal comes, or 100 ms have passed:
    // dead clients are reaped and RT-trap hits reported at least that often.
    Doorbell& bell = core_->housekeeping_bell();
    g_housekeeping_bell.store(&bell);
    while (!g_stop.load()) {
        bell.wait_for(100ms);
        free_garbage();
        midi_map_->serve();
        for (rt::ControllerRefusal r; core_->controller_refusals().pop_into(&r);) log(fmt::format("midi: refused: {}", r.message));
        update_timebase();
        reap_dead_clients();
        if (const auto now = std::chrono::steady_clock::now(); now >= next_restore) {
            next_restore = now + 1s;
            restore_connections();
        }
        if (rt_guard::armed_build()) {
            const uint64_t v = rt_guard::violations();
            segment_->header()->rt_violations = v;
            if (v != reported_violations) {
                log(fmt::format("RT VIOLATION on the audio thread: {} so far (first: {})", v, rt_guard::first_violation()));
                reported_violations = v;
            }
        }
        if (jack_lost_.load()) {
            lr_header* h = segment_->header();
            if (options_.exit_on_jack_loss) {
                shm::store_release(h->engine_state, LR_ENGINE_JACK_LOST);
                log(fmt::format("the JACK server went away ({}); exiting", jack_lost_reason_));
                g_housekeeping_bell.store(nullptr);
                return 2;
            }
            log(fmt::format("the JACK server went away ({}); keeping every loop and setting, "
                            "reconnecting when it is back", jack_lost_reason_));
            drop_jack();  // no period runs from here on
            // Said only now that the old server's segments are unmapped: a
            // server restarted on this word reuses their names (jack-UID-N)
            // and may truncate them under a client still holding them.
            shm::store_release(h->engine_state, LR_ENGINE_JACK_LOST);
            // The timeline continues right after the last period, whatever the
            // new server's frame counter says (see FrameClock).
            clock_.resume_at(shm::load_acquire64(h->frame_time) + segment_->meter_header()->nframes);
            jack_lost_.store(false);
            lost = true;
            next_try = std::chrono::steady_clock::now();
        }
        if (lost && std::chrono::steady_clock::now() >= next_try) {
            if (connect_jack(false)) {
                lost = false;
                restore_tries_ = 60;
                const lr_header* h2 = segment_->header();
                log(fmt::format("reconnected: JACK client '{}' on server '{}', {} Hz, {} frames", h2->jack_client_name,
                                h2->jack_server_name, sample_rate_, buffer_size_.load()));
            } else {
                next_try = std::chrono::steady_clock::now() + 500ms;
            }
        }
    }
    g_housekeeping_bell.store(nullptr);
    if (!options_.session_dir.empty() && options_.save_on_exit && sessions_->dirty()) {
        // SIGTERM/SIGINT: the last changes into the session before going.
        const SessionResult r = sessions_->save("", std::chrono::seconds(2));
        log(r.code == LR_OK ? r.message : fmt::format("could not save the session on the way out: {}", r.message));
    }
    shm::store_release(segment_->header()->engine_state, LR_ENGINE_STOPPING);
    log("stopping");
    return 0;
}

}  // namespace looprig
