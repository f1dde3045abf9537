// lr-inspect: print what an engine's shared-memory segment says, read-only.
// Maps /dev/shm/looprig-<uid>-NAME with PROT_READ (it can never disturb the
// engine or its clients), checks magic, ABI and geometry, and prints the
// header, every client place, the meters and the non-empty slots.
// Nothing here is RT safe; it never runs on an audio thread.
#include "ring.hpp"
#include "segment.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <ctime>
#include <dirent.h>
#include <fcntl.h>
#include <fstream>
#include <limits>
#include <string>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace {

using looprig::shm::load_acquire;
using looprig::shm::load_acquire64;

const char* kUsage = R"(usage: lr-inspect [--json] [--all] NAME
       lr-inspect --list
Prints an engine's shared-memory segment (/dev/shm/looprig-<uid>-NAME), mapped
read-only: header, client places, meters, and the slots that hold a loop.
  --json   machine-readable output
  --all    also list empty slots
  --list   list the segments of this user in /dev/shm
Exit status: 0 ok, 1 no such engine or an invalid segment, 2 usage.
)";

struct Failure {
    std::string what;
};

/// A read-only mapping of a whole segment.
class Mapping {
public:
    explicit Mapping(const std::string& engine_name) {
        try {
            posix_name_ = looprig::shm::segment_name(engine_name);
        } catch (const std::exception& e) {
            throw Failure{e.what()};
        }
        const int fd = ::shm_open(posix_name_.c_str(), O_RDONLY, 0);
        if (fd < 0) {
            if (errno == ENOENT) throw Failure{fmt::format("no engine named '{}' (no /dev/shm{})", engine_name, posix_name_)};
            throw Failure{fmt::format("cannot open /dev/shm{}: {}", posix_name_, std::strerror(errno))};
        }
        struct stat st {};
        if (::fstat(fd, &st) != 0) {
            const int e = errno;
            ::close(fd);
            throw Failure{fmt::format("cannot stat /dev/shm{}: {}", posix_name_, std::strerror(e))};
        }
        size_ = static_cast<std::size_t>(st.st_size);
        if (size_ < sizeof(lr_header)) {
            ::close(fd);
            throw Failure{fmt::format("/dev/shm{} is {} bytes, smaller than a header: not a looprig segment (or still "
                                      "being created)", posix_name_, size_)};
        }
        void* p = ::mmap(nullptr, size_, PROT_READ, MAP_SHARED, fd, 0);
        const int e = errno;
        ::close(fd);
        if (p == MAP_FAILED) throw Failure{fmt::format("cannot map /dev/shm{}: {}", posix_name_, std::strerror(e))};
        base_ = static_cast<const uint8_t*>(p);
    }
    ~Mapping() {
        if (base_) ::munmap(const_cast<uint8_t*>(base_), size_);
    }
    Mapping(const Mapping&) = delete;
    Mapping& operator=(const Mapping&) = delete;

    const lr_header* header() const { return reinterpret_cast<const lr_header*>(base_); }
    const uint8_t* base() const { return base_; }
    std::size_t size() const { return size_; }
    const std::string& posix_name() const { return posix_name_; }

    /// Check magic, ABI and that every area lies inside the mapping.
    void validate() const {
        const lr_header* h = header();
        if (load_acquire(h->magic) != LR_MAGIC)
            throw Failure{fmt::format("/dev/shm{}: bad magic 0x{:08x} (expected 0x{:08x}): not a looprig segment, or "
                                      "the engine is still creating it", posix_name_, load_acquire(h->magic),
                                      static_cast<uint32_t>(LR_MAGIC))};
        if (h->abi_version != LR_ABI_VERSION)
            throw Failure{fmt::format("/dev/shm{}: ABI version {}, this lr-inspect reads version {}", posix_name_,
                                      h->abi_version, LR_ABI_VERSION)};
        if (h->slot_count == 0 || h->slot_count > LR_MAX_SLOTS)
            throw Failure{fmt::format("/dev/shm{}: slot count {} out of range", posix_name_, h->slot_count)};
        const looprig::shm::Geometry g = looprig::shm::compute_geometry(h->slot_count);
        if (h->segment_size != g.segment_size || size_ < g.segment_size || h->clients_offset != g.clients_offset ||
            h->meters_offset != g.meters_offset || h->slot_meters_offset != g.slot_meters_offset ||
            h->slot_infos_offset != g.slot_infos_offset || h->max_clients != LR_MAX_CLIENTS ||
            h->client_slot_size != sizeof(lr_client_place) || h->header_size != sizeof(lr_header))
            throw Failure{fmt::format("/dev/shm{}: unexpected layout (segment_size {}, mapped {}, expected {} for {} "
                                      "slots)", posix_name_, h->segment_size, size_, g.segment_size, h->slot_count)};
    }

    const lr_client_place* client(uint32_t i) const {
        return reinterpret_cast<const lr_client_place*>(base_ + header()->clients_offset) + i;
    }
    const lr_meter_header* meter_header() const {
        return reinterpret_cast<const lr_meter_header*>(base_ + header()->meters_offset);
    }
    const lr_slot_meter* slot_meters() const {
        return reinterpret_cast<const lr_slot_meter*>(base_ + header()->slot_meters_offset);
    }
    const lr_slot_info* slot_infos() const {
        return reinterpret_cast<const lr_slot_info*>(base_ + header()->slot_infos_offset);
    }

private:
    std::string posix_name_;
    const uint8_t* base_ = nullptr;
    std::size_t size_ = 0;
};

/// A consistent copy of the meter area, read under its sequence lock.
struct MeterSnapshot {
    lr_meter_header header{};
    std::vector<lr_slot_meter> slots;
    std::vector<lr_slot_info> infos;
    bool consistent = false;  // false: the engine kept writing; values may be torn
};

MeterSnapshot read_meters(const Mapping& m) {
    MeterSnapshot s;
    const uint32_t n = m.header()->slot_count;
    s.slots.resize(n);
    s.infos.resize(n);
    for (int attempt = 0; attempt < 1000; ++attempt) {
        const uint32_t seq0 = load_acquire(m.meter_header()->seq);
        if (seq0 & 1u) continue;
        std::memcpy(&s.header, m.meter_header(), sizeof s.header);
        std::memcpy(s.slots.data(), m.slot_meters(), n * sizeof(lr_slot_meter));
        std::memcpy(s.infos.data(), m.slot_infos(), n * sizeof(lr_slot_info));
        std::atomic_thread_fence(std::memory_order_acquire);
        if (load_acquire(m.meter_header()->seq) == seq0) {
            s.consistent = true;
            return s;
        }
    }
    return s;
}

// ---- facts about processes ----

bool pid_alive(int64_t pid) {
    if (pid <= 0) return false;
    return ::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM;
}

std::string process_name(int64_t pid) {
    if (pid <= 0) return "";
    std::ifstream comm("/proc/" + std::to_string(pid) + "/comm");
    std::string name;
    std::getline(comm, name);
    return name;
}

uint64_t monotonic_usecs() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1000000ull + static_cast<uint64_t>(ts.tv_nsec) / 1000;
}

// ---- names ----

const char* engine_state_name(uint32_t s) {
    switch (s) {
        case LR_ENGINE_STARTING: return "starting";
        case LR_ENGINE_RUNNING: return "running";
        case LR_ENGINE_STOPPING: return "stopping";
        case LR_ENGINE_JACK_LOST: return "jack-lost";
        default: return "unknown";
    }
}
const char* client_state_name(uint32_t s) {
    switch (s) {
        case LR_CLIENT_FREE: return "free";
        case LR_CLIENT_ACTIVE: return "active";
        case LR_CLIENT_CLOSING: return "closing";
        default: return "unknown";
    }
}
const char* slot_state_name(uint32_t s) {
    switch (s) {
        case LR_SLOT_EMPTY: return "empty";
        case LR_SLOT_STOPPED: return "stopped";
        case LR_SLOT_PLAYING: return "playing";
        default: return "unknown";
    }
}
std::string slot_flags_text(uint32_t f) {
    std::string out;
    auto add = [&](uint32_t bit, const char* name) {
        if (f & bit) out += out.empty() ? name : std::string(",") + name;
    };
    add(LR_SLOT_F_MUTED, "muted");
    add(LR_SLOT_F_SOLOED, "soloed");
    add(LR_SLOT_F_START_PENDING, "start-pending");
    add(LR_SLOT_F_STOP_PENDING, "stop-pending");
    add(LR_SLOT_F_AUDIBLE, "audible");
    return out.empty() ? "-" : out;
}

double to_db(float linear) {
    return linear > 0.0f ? 20.0 * std::log10(static_cast<double>(linear)) : -std::numeric_limits<double>::infinity();
}

std::string json_string(const char* text, std::size_t max) {
    std::string out = "\"";
    for (std::size_t i = 0; i < max && text[i]; ++i) {
        const unsigned char c = static_cast<unsigned char>(text[i]);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c < 0x20) {
            out += fmt::format("\\u{:04x}", c);
        } else {
            out += static_cast<char>(c);
        }
    }
    return out + "\"";
}
std::string bounded(const char* text, std::size_t max) { return std::string(text, strnlen(text, max)); }

// ---- one coherent read of everything ----

struct ClientView {
    uint32_t index = 0;
    uint32_t owner_pid = 0;
    bool owner_alive = false;
    uint32_t state = 0;
    uint32_t generation = 0;
    uint32_t events_dropped = 0;
    uint64_t accepted = 0, rejected = 0;
    uint32_t cmd_fill = 0, evt_fill = 0;  // items published and not yet consumed
};

struct View {
    lr_header header{};
    bool engine_alive = false;
    std::string engine_comm;
    bool engine_is_looprigd = false;
    int64_t heartbeat_age_us = -1;
    std::vector<ClientView> clients;
    MeterSnapshot meters;
};

View read_view(const Mapping& m) {
    View v;
    std::memcpy(&v.header, m.header(), sizeof v.header);
    const lr_header* h = m.header();
    v.header.engine_state = load_acquire(h->engine_state);
    v.header.heartbeat = load_acquire64(h->heartbeat);
    v.header.frame_time = load_acquire64(h->frame_time);
    v.header.heartbeat_usecs = load_acquire64(h->heartbeat_usecs);
    v.engine_alive = pid_alive(v.header.engine_pid);
    v.engine_comm = v.engine_alive ? process_name(v.header.engine_pid) : "";
    v.engine_is_looprigd = v.engine_alive && looprig::shm::engine_process_alive(v.header.engine_pid);
    if (v.header.heartbeat_usecs) {
        const uint64_t now = monotonic_usecs();
        v.heartbeat_age_us = static_cast<int64_t>(now - v.header.heartbeat_usecs);
    }
    for (uint32_t i = 0; i < LR_MAX_CLIENTS; ++i) {
        const lr_client_place* c = m.client(i);
        ClientView cv;
        cv.index = i;
        cv.owner_pid = load_acquire(c->owner_pid);
        cv.owner_alive = pid_alive(cv.owner_pid);
        cv.state = load_acquire(c->state);
        cv.generation = load_acquire(c->generation);
        cv.events_dropped = load_acquire(c->events_dropped);
        cv.accepted = load_acquire64(c->commands_accepted);
        cv.rejected = load_acquire64(c->commands_rejected);
        cv.cmd_fill = load_acquire(c->cmd.write) - load_acquire(c->cmd.read);
        cv.evt_fill = load_acquire(c->evt.write) - load_acquire(c->evt.read);
        v.clients.push_back(cv);
    }
    v.meters = read_meters(m);
    return v;
}

bool client_in_use(const ClientView& c) { return c.owner_pid != 0 || c.state != LR_CLIENT_FREE || c.cmd_fill || c.evt_fill; }

// ---- text ----

void print_text(const Mapping& m, const View& v, bool all) {
    const lr_header& h = v.header;
    fmt::print("segment /dev/shm{}  ({} bytes mapped read-only)\n", m.posix_name(), m.size());
    fmt::print("header\n");
    fmt::print("  magic          0x{:08x} (ok)   abi {}   header {} bytes\n", h.magic, h.abi_version, h.header_size);
    fmt::print("  sizes          segment {} B, client place {} B x {}, meter area {} B, {} slots\n", h.segment_size,
               h.client_slot_size, h.max_clients, h.meter_area_size, h.slot_count);
    fmt::print("  offsets        clients {}, meters {}, slot meters {}, slot infos {}\n", h.clients_offset,
               h.meters_offset, h.slot_meters_offset, h.slot_infos_offset);
    fmt::print("  rings          commands {} per client, events {} per client\n", h.cmd_ring_size, h.evt_ring_size);
    std::string alive = v.engine_alive ? fmt::format("alive ({})", v.engine_comm.empty() ? "?" : v.engine_comm)
                                       : "DEAD (stale segment)";
    if (v.engine_alive && !v.engine_is_looprigd) alive += ", not a looprigd process";
    fmt::print("  engine         pid {} {}, state {}\n", h.engine_pid, alive, engine_state_name(h.engine_state));
    fmt::print("  jack           client '{}' on server '{}', {} Hz, {} frames/period, declick {} frames\n",
               bounded(h.jack_client_name, LR_NAME_MAX), bounded(h.jack_server_name, LR_NAME_MAX), h.sample_rate,
               h.buffer_size, h.declick_frames);
    std::string age = v.heartbeat_age_us < 0 ? "never" : fmt::format("{:.1f} ms ago", v.heartbeat_age_us / 1000.0);
    fmt::print("  heartbeat      {} (last period {})   frame time {}\n", h.heartbeat, age, h.frame_time);
    fmt::print("  rt_violations  {}\n", h.rt_violations);

    const auto used = std::count_if(v.clients.begin(), v.clients.end(), client_in_use);
    fmt::print("clients ({} of {} places in use{})\n", used, v.clients.size(), used ? "" : ": none");
    if (used)
        fmt::print("  {:>3} {:>8} {:>5} {:>8} {:>4} {:>7} {:>7} {:>9} {:>9} {:>8}\n", "#", "pid", "alive", "state", "gen",
                   "cmd", "evt", "accepted", "rejected", "dropped");
    for (const ClientView& c : v.clients) {
        if (!client_in_use(c)) continue;
        fmt::print("  {:>3} {:>8} {:>5} {:>8} {:>4} {:>7} {:>7} {:>9} {:>9} {:>8}\n", c.index, c.owner_pid,
                   c.owner_pid ? (c.owner_alive ? "yes" : "NO") : "-", client_state_name(c.state), c.generation,
                   fmt::format("{}/{}", c.cmd_fill, h.cmd_ring_size), fmt::format("{}/{}", c.evt_fill, h.evt_ring_size),
                   c.accepted, c.rejected, c.events_dropped);
    }

    const lr_meter_header& mh = v.meters.header;
    fmt::print("meters{}\n", v.meters.consistent ? "" : " (engine kept writing: values may be torn)");
    fmt::print("  period         {} ({} frames at frame time {})\n", mh.period, mh.nframes, mh.frame_time);
    fmt::print("  master         peak L {:.1f} dBFS R {:.1f} dBFS   rms L {:.1f} dBFS R {:.1f} dBFS\n",
               to_db(mh.master_peak[0]), to_db(mh.master_peak[1]), to_db(mh.master_rms[0]), to_db(mh.master_rms[1]));
    fmt::print("  callback load  {:.4f} of the period (max since start {:.4f})   xruns {}\n", mh.callback_load,
               mh.callback_load_max, mh.xruns);

    uint32_t shown = 0;
    for (uint32_t i = 0; i < h.slot_count; ++i) {
        const lr_slot_meter& s = v.meters.slots[i];
        const lr_slot_info& info = v.meters.infos[i];
        if (!all && s.state == LR_SLOT_EMPTY && info.load_count == 0) continue;
        if (shown++ == 0)
            fmt::print("slots ({})\n  {:>4} {:>8} {:>10} {:>10} {:>6} {:>5} {:>7} {:>7} {:>3} {:>6} {:>9} {:>5}  {}\n",
                       all ? "all" : "non-empty", "#", "state", "length", "playhead", "gain", "pan", "peak", "rms",
                       "ch", "rate", "src-frames", "loads", "flags / name");
        fmt::print("  {:>4} {:>8} {:>10} {:>10} {:>6.1f} {:>5.2f} {:>7.1f} {:>7.1f} {:>3} {:>6} {:>9} {:>5}  {} {}\n", i,
                   slot_state_name(s.state), s.length, s.playhead, s.gain_db, s.pan,
                   to_db(std::max(s.peak[0], s.peak[1])), to_db(std::max(s.rms[0], s.rms[1])), info.channels,
                   info.source_rate, info.source_frames, info.load_count, slot_flags_text(s.flags),
                   bounded(info.name, LR_SLOT_NAME_MAX));
    }
    if (shown == 0) fmt::print("slots: none loaded\n");
}

// ---- JSON ----

void print_json(const Mapping& m, const View& v, bool all) {
    const lr_header& h = v.header;
    fmt::print("{{\n  \"segment\": {}, \"mapped_bytes\": {},\n", json_string(m.posix_name().c_str(), 4096), m.size());
    fmt::print("  \"header\": {{\"magic\": {}, \"abi_version\": {}, \"header_size\": {}, \"segment_size\": {}, "
               "\"slot_count\": {}, \"max_clients\": {}, \"cmd_ring_size\": {}, \"evt_ring_size\": {}, "
               "\"clients_offset\": {}, \"client_slot_size\": {}, \"meters_offset\": {}, \"slot_meters_offset\": {}, "
               "\"slot_infos_offset\": {}, \"meter_area_size\": {}, \"engine_pid\": {}, \"engine_alive\": {}, "
               "\"engine_process\": {}, \"engine_is_looprigd\": {}, \"engine_state\": \"{}\", \"sample_rate\": {}, "
               "\"buffer_size\": {}, \"declick_frames\": {}, \"heartbeat\": {}, \"heartbeat_usecs\": {}, "
               "\"heartbeat_age_us\": {}, \"frame_time\": {}, \"rt_violations\": {}, \"jack_client_name\": {}, "
               "\"jack_server_name\": {}}},\n",
               h.magic, h.abi_version, h.header_size, h.segment_size, h.slot_count, h.max_clients, h.cmd_ring_size,
               h.evt_ring_size, h.clients_offset, h.client_slot_size, h.meters_offset, h.slot_meters_offset,
               h.slot_infos_offset, h.meter_area_size, h.engine_pid, v.engine_alive ? "true" : "false",
               json_string(v.engine_comm.c_str(), 256), v.engine_is_looprigd ? "true" : "false",
               engine_state_name(h.engine_state), h.sample_rate, h.buffer_size, h.declick_frames, h.heartbeat,
               h.heartbeat_usecs, v.heartbeat_age_us, h.frame_time, h.rt_violations,
               json_string(h.jack_client_name, LR_NAME_MAX), json_string(h.jack_server_name, LR_NAME_MAX));
    fmt::print("  \"clients\": [");
    for (std::size_t i = 0; i < v.clients.size(); ++i) {
        const ClientView& c = v.clients[i];
        fmt::print("{}\n    {{\"index\": {}, \"owner_pid\": {}, \"owner_alive\": {}, \"state\": \"{}\", "
                   "\"generation\": {}, \"cmd_fill\": {}, \"evt_fill\": {}, \"commands_accepted\": {}, "
                   "\"commands_rejected\": {}, \"events_dropped\": {}}}",
                   i ? "," : "", c.index, c.owner_pid, c.owner_alive ? "true" : "false", client_state_name(c.state),
                   c.generation, c.cmd_fill, c.evt_fill, c.accepted, c.rejected, c.events_dropped);
    }
    const lr_meter_header& mh = v.meters.header;
    fmt::print("\n  ],\n  \"meters\": {{\"consistent\": {}, \"period\": {}, \"nframes\": {}, \"frame_time\": {}, "
               "\"master_peak\": [{:.6g}, {:.6g}], \"master_rms\": [{:.6g}, {:.6g}], \"callback_load\": {:.6g}, "
               "\"callback_load_max\": {:.6g}, \"xruns\": {}, \"slot_count\": {}}},\n",
               v.meters.consistent ? "true" : "false", mh.period, mh.nframes, mh.frame_time, mh.master_peak[0],
               mh.master_peak[1], mh.master_rms[0], mh.master_rms[1], mh.callback_load, mh.callback_load_max, mh.xruns,
               mh.slot_count);
    fmt::print("  \"slots\": [");
    bool first = true;
    for (uint32_t i = 0; i < h.slot_count; ++i) {
        const lr_slot_meter& s = v.meters.slots[i];
        const lr_slot_info& info = v.meters.infos[i];
        if (!all && s.state == LR_SLOT_EMPTY && info.load_count == 0) continue;
        fmt::print("{}\n    {{\"index\": {}, \"state\": \"{}\", \"flags\": {}, \"length\": {}, \"playhead\": {}, "
                   "\"start_frame\": {}, \"gain_db\": {:.6g}, \"pan\": {:.6g}, \"peak\": [{:.6g}, {:.6g}], "
                   "\"rms\": [{:.6g}, {:.6g}], \"channels\": {}, \"source_rate\": {}, \"source_frames\": {}, "
                   "\"load_count\": {}, \"name\": {}}}",
                   first ? "" : ",", i, slot_state_name(s.state), s.flags, s.length, s.playhead, s.start_frame,
                   s.gain_db, s.pan, s.peak[0], s.peak[1], s.rms[0], s.rms[1], info.channels, info.source_rate,
                   info.source_frames, info.load_count, json_string(info.name, LR_SLOT_NAME_MAX));
        first = false;
    }
    fmt::print("\n  ]\n}}\n");
}

// ---- --list ----

int list_segments() {
    const std::string prefix = fmt::format("looprig-{}-", ::getuid());
    std::vector<std::string> names;
    if (DIR* d = ::opendir("/dev/shm")) {
        while (const dirent* e = ::readdir(d)) {
            const std::string n = e->d_name;
            if (n.rfind(prefix, 0) == 0) names.push_back(n.substr(prefix.size()));
        }
        ::closedir(d);
    }
    std::sort(names.begin(), names.end());
    for (const auto& n : names) {
        std::string status;
        try {
            Mapping m(n);
            m.validate();
            const int32_t pid = m.header()->engine_pid;
            status = pid_alive(pid) ? fmt::format("pid {} alive ({})", pid, process_name(pid))
                                    : fmt::format("pid {} DEAD (stale)", pid);
        } catch (const Failure& f) {
            status = "invalid: " + f.what;
        }
        fmt::print("{}  {}\n", n, status);
    }
    return 0;
}

std::string available_names() {
    const std::string prefix = fmt::format("looprig-{}-", ::getuid());
    std::string out;
    if (DIR* d = ::opendir("/dev/shm")) {
        while (const dirent* e = ::readdir(d)) {
            const std::string n = e->d_name;
            if (n.rfind(prefix, 0) == 0) out += (out.empty() ? "" : ", ") + n.substr(prefix.size());
        }
        ::closedir(d);
    }
    return out;
}

}  // namespace

int main(int argc, char** argv) {
    bool json = false, all = false, list = false;
    std::string name;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "--help" || arg == "-h") {
            fmt::print("{}", kUsage);
            return 0;
        } else if (arg == "--json") {
            json = true;
        } else if (arg == "--all") {
            all = true;
        } else if (arg == "--list") {
            list = true;
        } else if (!arg.empty() && arg[0] == '-') {
            fmt::print(stderr, "lr-inspect: unknown option {}\n{}", arg, kUsage);
            return 2;
        } else if (name.empty()) {
            name = arg;
        } else {
            fmt::print(stderr, "lr-inspect: one engine name at a time\n{}", kUsage);
            return 2;
        }
    }
    if (list) return list_segments();
    if (name.empty()) {
        fmt::print(stderr, "lr-inspect: which engine? (give its NAME; --list shows them)\n{}", kUsage);
        return 2;
    }
    try {
        Mapping m(name);
        m.validate();
        const View v = read_view(m);
        if (json) print_json(m, v, all);
        else print_text(m, v, all);
    } catch (const Failure& f) {
        const std::string others = available_names();
        fmt::print(stderr, "lr-inspect: {}{}\n", f.what,
                   others.empty() ? "" : fmt::format("; segments here: {}", others));
        return 1;
    }
    return 0;
}
