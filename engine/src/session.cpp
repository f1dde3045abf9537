// Sessions on disk (session.hpp). Not RT safe.
#include "session.hpp"

#include "midi_map.hpp"

#include "loader.hpp"
#include "looprig/shm_client.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <sndfile.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <ctime>
#include <dirent.h>
#include <fcntl.h>
#include <filesystem>
#include <future>
#include <set>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

namespace looprig::session {

namespace fs = std::filesystem;
using nlohmann::ordered_json;

namespace {

const char* transport_name(uint32_t mode) {
    return mode == LR_TRANSPORT_FOLLOW ? "follow" : mode == LR_TRANSPORT_MASTER ? "master" : "off";
}

std::string now_iso8601() {
    const std::time_t t = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

std::string errno_text(int e) { return std::strerror(e); }

/// Every param of a target, in table order.
std::vector<const lr_param_desc*> params_of(uint32_t target) {
    uint32_t count = 0;
    const lr_param_desc* table = lr_param_table(&count);
    std::vector<const lr_param_desc*> out;
    for (uint32_t k = 0; k < count; ++k)
        if (table[k].target == target) out.push_back(&table[k]);
    return out;
}

/// A whole-number param is written as an integer (readable: "mute": 1).
ordered_json value_json(const lr_param_desc& p, double v) {
    if (p.kind != LR_KIND_CONTINUOUS && v == std::floor(v) && std::fabs(v) < 1e9) return static_cast<int64_t>(v);
    return v;
}

bool slot_is_default(const SlotEntry& s) {
    for (const lr_param_desc* p : params_of(LR_TARGET_SLOT))
        if (s.params[p->id] != p->def) return false;
    return true;
}

// --- reading, with messages that name the field --------------------------------

[[noreturn]] void bad(int code, const std::string& where, const std::string& what) {
    (void)where;  // the worker names the session folder after the reason
    throw Failure(code, what);
}

double number_at(const ordered_json& j, const std::string& field, const std::string& where) {
    if (!j.is_number()) bad(LR_E_FORMAT, where, field + " must be a number");
    const double v = j.get<double>();
    if (!std::isfinite(v)) bad(LR_E_BAD_VALUE, where, field + " must be finite");
    return v;
}

void check_param(const lr_param_desc& p, double v, const std::string& field, const std::string& where) {
    char why[LR_MESSAGE_MAX] = {};
    if (lr_param_check(p.id, v, why, sizeof why) != LR_OK) bad(LR_E_BAD_VALUE, where, field + ": " + why);
}

void check_keys(const ordered_json& obj, const std::set<std::string>& known, const std::string& what,
                const std::string& where) {
    for (auto it = obj.begin(); it != obj.end(); ++it)
        if (!known.count(it.key())) bad(LR_E_FORMAT, where, fmt::format("{}: unknown key \"{}\"", what, it.key()));
}

/// A relative path inside the session folder: no absolute path, no "..", no NUL.
bool inside_folder(const std::string& rel) {
    if (rel.empty() || rel[0] == '/' || rel.find('\0') != std::string::npos) return false;
    for (const auto& part : fs::path(rel))
        if (part == "..") return false;
    return true;
}

// --- writing files -------------------------------------------------------------

struct Fd {
    int fd = -1;
    ~Fd() {
        if (fd >= 0) ::close(fd);
    }
};

void fsync_folder(const std::string& dir) {
    Fd d{::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
    if (d.fd >= 0) ::fsync(d.fd);
}

/// Write `bytes` to `path` through a temporary file beside it, synced, then renamed.
void write_atomically(const std::string& path, const std::string& bytes) {
    const std::string tmp = fmt::format("{}/.{}.tmp-{}", fs::path(path).parent_path().string(),
                                        fs::path(path).filename().string(), ::getpid());
    {
        Fd f{::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)};
        if (f.fd < 0) throw Failure(LR_E_FILE, fmt::format("cannot write {}: {}", tmp, errno_text(errno)));
        std::size_t done = 0;
        while (done < bytes.size()) {
            const ssize_t n = ::write(f.fd, bytes.data() + done, bytes.size() - done);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) {
                const int e = errno;
                ::unlink(tmp.c_str());
                throw Failure(LR_E_FILE, fmt::format("cannot write {}: {}", tmp, errno_text(e)));
            }
            done += static_cast<std::size_t>(n);
        }
        if (::fsync(f.fd) != 0) {
            const int e = errno;
            ::unlink(tmp.c_str());
            throw Failure(LR_E_FILE, fmt::format("cannot write {}: {}", tmp, errno_text(e)));
        }
    }
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
        const int e = errno;
        ::unlink(tmp.c_str());
        throw Failure(LR_E_FILE, fmt::format("cannot write {}: {}", path, errno_text(e)));
    }
}

/// Copy `from` to `to` (through a temporary file, synced, renamed); the copy's identity.
SourceIdentity copy_file(const std::string& from, const std::string& to, uint64_t* bytes) {
    const std::string tmp = fmt::format("{}/.{}.tmp-{}", fs::path(to).parent_path().string(),
                                        fs::path(to).filename().string(), ::getpid());
    Fd in{::open(from.c_str(), O_RDONLY | O_CLOEXEC)};
    if (in.fd < 0) throw Failure(LR_E_FILE, fmt::format("cannot read {}: {}", from, errno_text(errno)));
    Fd out{::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)};
    if (out.fd < 0) throw Failure(LR_E_FILE, fmt::format("cannot write {}: {}", tmp, errno_text(errno)));
    std::vector<char> buf(1 << 20);
    for (;;) {
        const ssize_t n = ::read(in.fd, buf.data(), buf.size());
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            const int e = errno;
            ::unlink(tmp.c_str());
            throw Failure(LR_E_FILE, fmt::format("cannot read {}: {}", from, errno_text(e)));
        }
        if (n == 0) break;
        ssize_t done = 0;
        while (done < n) {
            const ssize_t w = ::write(out.fd, buf.data() + done, static_cast<std::size_t>(n - done));
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) {
                const int e = errno;
                ::unlink(tmp.c_str());
                throw Failure(LR_E_FILE, fmt::format("cannot write {}: {}", tmp, errno_text(e)));
            }
            done += w;
        }
        *bytes += static_cast<uint64_t>(n);
    }
    if (::fsync(out.fd) != 0 || ::rename(tmp.c_str(), to.c_str()) != 0) {
        const int e = errno;
        ::unlink(tmp.c_str());
        throw Failure(LR_E_FILE, fmt::format("cannot write {}: {}", to, errno_text(e)));
    }
    struct stat st {};
    ::stat(to.c_str(), &st);
    return identity_of(st);
}

/// Write a sample's decoded audio (engine rate, 32-bit float WAV); its identity.
SourceIdentity write_sample(const Sample& s, uint32_t rate, const std::string& to, uint64_t* bytes) {
    const std::string tmp = fmt::format("{}/.{}.tmp-{}", fs::path(to).parent_path().string(),
                                        fs::path(to).filename().string(), ::getpid());
    SF_INFO info{};
    info.samplerate = static_cast<int>(rate);
    info.channels = s.right.empty() ? 1 : 2;
    info.format = SF_FORMAT_WAV | SF_FORMAT_FLOAT;
    SNDFILE* f = sf_open(tmp.c_str(), SFM_WRITE, &info);
    if (!f) throw Failure(LR_E_FILE, fmt::format("cannot write {}: {}", tmp, sf_strerror(nullptr)));
    const uint64_t frames = s.frames;
    std::vector<float> block;
    const uint64_t chunk = 65536;
    bool ok = true;
    for (uint64_t at = 0; at < frames && ok; at += chunk) {
        const uint64_t n = std::min(chunk, frames - at);
        block.resize(static_cast<std::size_t>(n) * static_cast<std::size_t>(info.channels));
        for (uint64_t i = 0; i < n; ++i) {
            if (info.channels == 1) {
                block[i] = s.left[at + i];
            } else {
                block[2 * i] = s.left[at + i];
                block[2 * i + 1] = s.right[at + i];
            }
        }
        ok = sf_writef_float(f, block.data(), static_cast<sf_count_t>(n)) == static_cast<sf_count_t>(n);
    }
    sf_write_sync(f);
    sf_close(f);
    if (ok) {
        Fd sync{::open(tmp.c_str(), O_RDONLY | O_CLOEXEC)};
        if (sync.fd >= 0) ::fsync(sync.fd);
    }
    if (!ok || ::rename(tmp.c_str(), to.c_str()) != 0) {
        ::unlink(tmp.c_str());
        throw Failure(LR_E_FILE, fmt::format("cannot write {}", to));
    }
    struct stat st {};
    ::stat(to.c_str(), &st);
    *bytes += static_cast<uint64_t>(st.st_size);
    return identity_of(st);
}

/// Length of the valid UTF-8 sequence at s[i] (0: not one).
std::size_t utf8_length(const std::string& s, std::size_t i) {
    const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
    const unsigned char c = b(i);
    const std::size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    if (n == 0 || i + n > s.size()) return 0;
    for (std::size_t k = 1; k < n; ++k)
        if ((b(i + k) & 0xC0) != 0x80) return 0;
    return n;
}

/// `s` with every byte that is not part of valid UTF-8 replaced by '_'.
std::string valid_utf8(const std::string& s) {
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size();) {
        const std::size_t n = utf8_length(s, i);
        if (n == 0) {
            out += '_';
            ++i;
        } else {
            out.append(s, i, n);
            i += n;
        }
    }
    return out;
}

/// `s` for a message: control characters (a NUL would end it) shown as \xNN.
std::string printable(const std::string& s) {
    std::string out;
    for (const char c : s) {
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) out += fmt::format("\\x{:02x}", static_cast<unsigned char>(c));
        else out += c;
    }
    return out;
}

bool same_file_as(const std::string& path, const SourceIdentity& id) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && identity_of(st) == id;
}

/// A file name for `base` in `audio_dir` that no file has yet (and none of `taken`).
std::string unique_name(const std::string& audio_dir, std::string base, const std::set<std::string>& taken) {
    base = valid_utf8(base);  // the document is UTF-8 JSON: the name must be too
    for (char& c : base)
        if (c == '/' || static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '_';
    if (base.empty() || base[0] == '.') base = "loop" + base;
    const fs::path p(base);
    const std::string stem = p.stem().string(), ext = p.extension().string();
    for (int k = 1;; ++k) {
        const std::string name = k == 1 ? base : fmt::format("{}-{}{}", stem, k, ext);
        struct stat st {};
        if (!taken.count(name) && ::lstat((audio_dir + "/" + name).c_str(), &st) != 0) return name;
    }
}

}  // namespace

std::string shorten(const std::string& path, std::size_t room) {
    if (path.size() <= room || room < 24) return path;
    const std::size_t keep = room - 3;
    // Cut on UTF-8 character boundaries (continuation bytes are 10xxxxxx).
    const auto continuation = [&](std::size_t k) { return (static_cast<unsigned char>(path[k]) & 0xC0) == 0x80; };
    std::size_t head = keep / 3, tail = path.size() - (keep - keep / 3);
    while (head > 0 && continuation(head)) --head;
    while (tail < path.size() && continuation(tail)) ++tail;
    return path.substr(0, head) + "..." + path.substr(tail);
}

std::string normalise_folder(const std::string& path) {
    fs::path p(path);
    if (p.is_relative()) p = fs::current_path() / p;
    std::string s = p.lexically_normal().string();
    while (s.size() > 1 && s.back() == '/') s.pop_back();
    return s;
}

// --- the document ----------------------------------------------------------------

Document document_of(const SessionRig& rig, uint32_t sample_rate) {
    Document doc;
    doc.tempo_bpm = rig.tempo_bpm;
    doc.beats_per_bar = rig.beats_per_bar;
    doc.transport_mode = rig.transport_mode;
    // (frames rounded at some rates come back a hair above --declick-ms's 100 ms cap)
    doc.declick_ms = sample_rate ? std::min(100.0, 1000.0 * rig.declick_frames / sample_rate) : 0.0;
    std::memcpy(doc.group_params, rig.group_params, sizeof doc.group_params);
    std::memcpy(doc.global_params, rig.global_params, sizeof doc.global_params);
    for (uint32_t i = 0; i < rig.slots.size(); ++i) {
        const SessionSlot& s = rig.slots[i];
        SlotEntry e;
        e.index = static_cast<int32_t>(i);
        e.playing = s.playing && s.sample;
        std::memcpy(e.params, s.params, sizeof e.params);
        if (s.sample) e.source = s.sample->path;
        if (s.sample || !slot_is_default(e)) doc.slots.push_back(e);
    }
    return doc;
}

void rig_values_of(const Document& doc, uint32_t sample_rate, SessionRig& rig) {
    rig.tempo_bpm = doc.tempo_bpm;
    rig.beats_per_bar = doc.beats_per_bar;
    rig.transport_mode = doc.transport_mode;
    rig.declick_frames = static_cast<uint32_t>(std::lround(doc.declick_ms * sample_rate / 1000.0));
    std::memcpy(rig.group_params, doc.group_params, sizeof rig.group_params);
    std::memcpy(rig.global_params, doc.global_params, sizeof rig.global_params);
    // Slots the document does not name are empty, every param at its default.
    for (SessionSlot& s : rig.slots) {
        s.playing = false;
        for (const lr_param_desc* p : params_of(LR_TARGET_SLOT)) s.params[p->id] = p->def;
    }
    for (const SlotEntry& e : doc.slots) {
        SessionSlot& s = rig.slots[static_cast<uint32_t>(e.index)];
        s.playing = e.playing;
        std::memcpy(s.params, e.params, sizeof s.params);
    }
}

std::string to_json(const Document& doc) {
    ordered_json j;
    j["looprig_session"] = doc.version;
    j["saved_by"] = doc.saved_by;
    j["saved_at"] = doc.saved_at;
    j["engine"] = {{"name", doc.engine.name},
                   {"sample_rate", doc.engine.sample_rate},
                   {"slots", doc.engine.slot_count},
                   {"slot_outs", doc.engine.slot_outs},
                   {"bus_outs", doc.engine.bus_outs}};
    j["master"] = {{"tempo", doc.tempo_bpm},
                   {"time_signature", doc.beats_per_bar},
                   {"transport", transport_name(doc.transport_mode)},
                   {"declick_ms", doc.declick_ms}};
    ordered_json mixer = ordered_json::object();
    for (const lr_param_desc* p : params_of(LR_TARGET_GLOBAL))
        mixer[p->name] = value_json(*p, doc.global_params[p->id - LR_P_GLOBAL_BASE]);
    j["mixer"] = mixer;
    ordered_json groups = ordered_json::array();
    for (int g = 0; g < LR_GROUPS; ++g) {
        ordered_json o = ordered_json::object();
        for (const lr_param_desc* p : params_of(LR_TARGET_GROUP))
            o[p->name] = value_json(*p, doc.group_params[g][p->id - LR_P_GROUP_BASE]);
        groups.push_back(o);
    }
    j["groups"] = groups;
    ordered_json slots = ordered_json::array();
    for (const SlotEntry& s : doc.slots) {
        ordered_json o;
        o["slot"] = s.index;
        o["audio"] = s.audio.empty() ? ordered_json(nullptr) : ordered_json(s.audio);
        if (!s.source.empty()) o["source"] = s.source;
        o["playing"] = s.playing;
        for (const lr_param_desc* p : params_of(LR_TARGET_SLOT)) o[p->name] = value_json(*p, s.params[p->id]);
        slots.push_back(o);
    }
    j["slots"] = slots;
    ordered_json conns = ordered_json::array();
    for (const Connection& c : doc.connections) conns.push_back(ordered_json::array({c.port, c.other}));
    j["connections"] = conns;
    if (!doc.midi_map.empty()) j["midi_map"] = ordered_json::parse(doc.midi_map);
    return j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

Document parse(const std::string& text, const std::string& where, uint32_t slot_count) {
    ordered_json j;
    try {
        j = ordered_json::parse(text);
    } catch (const nlohmann::json::exception& e) {  // parse_error; out_of_range for 1e999
        // e.what() is "[json.exception.parse_error.101] parse error at line 3, column 5: ..."
        std::string what = e.what();
        const auto at = what.find("] ");
        bad(LR_E_FORMAT, where, "not valid JSON (" + (at == std::string::npos ? what : what.substr(at + 2)) + ")");
    }
    if (!j.is_object() || !j.contains("looprig_session"))
        bad(LR_E_FORMAT, where, "not a looprig session (no \"looprig_session\" format version)");
    if (!j["looprig_session"].is_number_integer()) bad(LR_E_FORMAT, where, "\"looprig_session\" must be a whole number");
    Document doc;
    const int64_t version = j["looprig_session"].get<int64_t>();
    doc.version = version > kFormatVersion ? kFormatVersion + 1 : version < 1 ? 0 : static_cast<int>(version);
    if (version != doc.version)
        bad(LR_E_FORMAT, where,
            fmt::format("session format version {} is not one this looprig reads (1..{}); a newer looprig wrote it?",
                        version, kFormatVersion));
    if (doc.version > kFormatVersion || doc.version < 1)
        bad(LR_E_FORMAT, where,
            fmt::format("session format version {} is not one this looprig reads (1..{}); a newer looprig wrote it?",
                        doc.version, kFormatVersion));
    check_keys(j, {"looprig_session", "saved_by", "saved_at", "engine", "master", "mixer", "groups", "slots",
                   "connections", "midi_map"},
               "top level", where);
    if (j.contains("saved_by") && j["saved_by"].is_string()) doc.saved_by = j["saved_by"].get<std::string>();
    if (j.contains("saved_at") && j["saved_at"].is_string()) doc.saved_at = j["saved_at"].get<std::string>();
    if (j.contains("engine")) {
        const auto& e = j["engine"];
        if (!e.is_object()) bad(LR_E_FORMAT, where, "\"engine\" must be an object");
        if (e.contains("name") && e["name"].is_string()) doc.engine.name = e["name"].get<std::string>();
        if (e.contains("sample_rate") && e["sample_rate"].is_number_unsigned())
            doc.engine.sample_rate = e["sample_rate"].get<uint32_t>();
        if (e.contains("slots") && e["slots"].is_number_unsigned()) doc.engine.slot_count = e["slots"].get<uint32_t>();
        if (e.contains("slot_outs") && e["slot_outs"].is_boolean()) doc.engine.slot_outs = e["slot_outs"].get<bool>();
        if (e.contains("bus_outs") && e["bus_outs"].is_boolean()) doc.engine.bus_outs = e["bus_outs"].get<bool>();
    }
    // Defaults for what the document leaves out.
    for (const lr_param_desc* p : params_of(LR_TARGET_GLOBAL)) doc.global_params[p->id - LR_P_GLOBAL_BASE] = p->def;
    for (int g = 0; g < LR_GROUPS; ++g)
        for (const lr_param_desc* p : params_of(LR_TARGET_GROUP)) doc.group_params[g][p->id - LR_P_GROUP_BASE] = p->def;
    if (j.contains("master")) {
        const auto& m = j["master"];
        if (!m.is_object()) bad(LR_E_FORMAT, where, "\"master\" must be an object");
        check_keys(m, {"tempo", "time_signature", "transport", "declick_ms"}, "master", where);
        if (m.contains("tempo")) {
            doc.tempo_bpm = number_at(m["tempo"], "master.tempo", where);
            if (doc.tempo_bpm < 20.0 || doc.tempo_bpm > 400.0)
                bad(LR_E_BAD_VALUE, where, fmt::format("master.tempo {} is out of range (20..400 BPM)", doc.tempo_bpm));
        }
        if (m.contains("time_signature")) {
            const double b = number_at(m["time_signature"], "master.time_signature", where);
            if (b < 1 || b > 32 || b != std::floor(b))
                bad(LR_E_BAD_VALUE, where, fmt::format("master.time_signature {} is out of range (1..32 beats per bar)", b));
            doc.beats_per_bar = static_cast<uint32_t>(b);
        }
        if (m.contains("transport")) {
            const std::string t = m["transport"].is_string() ? m["transport"].get<std::string>() : "";
            if (t == "off") doc.transport_mode = LR_TRANSPORT_OFF;
            else if (t == "follow") doc.transport_mode = LR_TRANSPORT_FOLLOW;
            else if (t == "master") doc.transport_mode = LR_TRANSPORT_MASTER;
            else bad(LR_E_BAD_VALUE, where, "master.transport must be \"off\", \"follow\" or \"master\"");
        }
        if (m.contains("declick_ms")) {
            doc.declick_ms = number_at(m["declick_ms"], "master.declick_ms", where);
            if (doc.declick_ms < 0.0 || doc.declick_ms > 100.0)
                bad(LR_E_BAD_VALUE, where, fmt::format("master.declick_ms {} is out of range (0..100 ms)", doc.declick_ms));
        }
    }
    if (j.contains("mixer")) {
        const auto& m = j["mixer"];
        if (!m.is_object()) bad(LR_E_FORMAT, where, "\"mixer\" must be an object");
        std::set<std::string> known;
        for (const lr_param_desc* p : params_of(LR_TARGET_GLOBAL)) {
            known.insert(p->name);
            if (!m.contains(p->name)) continue;
            const std::string field = std::string("mixer.") + p->name;
            const double v = number_at(m[p->name], field, where);
            check_param(*p, v, field, where);
            doc.global_params[p->id - LR_P_GLOBAL_BASE] = v;
        }
        check_keys(m, known, "mixer", where);
    }
    if (j.contains("groups")) {
        const auto& gs = j["groups"];
        if (!gs.is_array() || gs.size() > LR_GROUPS)
            bad(LR_E_FORMAT, where, fmt::format("\"groups\" must be a list of at most {} groups", int{LR_GROUPS}));
        for (std::size_t g = 0; g < gs.size(); ++g) {
            const auto& o = gs[g];
            if (!o.is_object()) bad(LR_E_FORMAT, where, fmt::format("groups[{}] must be an object", g));
            std::set<std::string> known;
            for (const lr_param_desc* p : params_of(LR_TARGET_GROUP)) {
                known.insert(p->name);
                if (!o.contains(p->name)) continue;
                const std::string field = fmt::format("groups[{}].{}", g, p->name);
                const double v = number_at(o[p->name], field, where);
                check_param(*p, v, field, where);
                doc.group_params[g][p->id - LR_P_GROUP_BASE] = v;
            }
            check_keys(o, known, fmt::format("groups[{}]", g), where);
        }
    }
    if (j.contains("slots")) {
        const auto& ss = j["slots"];
        if (!ss.is_array()) bad(LR_E_FORMAT, where, "\"slots\" must be a list");
        std::set<int32_t> seen;
        for (std::size_t k = 0; k < ss.size(); ++k) {
            const auto& o = ss[k];
            const std::string name = fmt::format("slots[{}]", k);
            if (!o.is_object()) bad(LR_E_FORMAT, where, name + " must be an object");
            if (!o.contains("slot") || !o["slot"].is_number_integer())
                bad(LR_E_FORMAT, where, name + ": \"slot\" (its index) must be a whole number");
            const int64_t index = o["slot"].get<int64_t>();
            if (index < 0 || index >= LR_MAX_SLOTS)
                bad(LR_E_BAD_SLOT, where, fmt::format("{}: slot {} is out of range", name, index));
            if (index >= static_cast<int64_t>(slot_count))
                bad(LR_E_BAD_SLOT, where,
                    fmt::format("the session uses slot {} but this engine has {} slots (start looprigd with "
                                "--slots {} or more)",
                                index, slot_count, index + 1));
            if (!seen.insert(static_cast<int32_t>(index)).second)
                bad(LR_E_FORMAT, where, fmt::format("slot {} appears twice", index));
            SlotEntry e;
            e.index = static_cast<int32_t>(index);
            std::set<std::string> known = {"slot", "audio", "source", "playing"};
            if (o.contains("audio") && !o["audio"].is_null()) {
                if (!o["audio"].is_string()) bad(LR_E_FORMAT, where, name + ".audio must be a file name or null");
                e.audio = o["audio"].get<std::string>();
                if (!inside_folder(e.audio))
                    bad(LR_E_FORMAT, where,
                        fmt::format("slot {}: audio \"{}\" must be a path inside the session folder", index,
                                    printable(e.audio)));
            }
            if (o.contains("source") && o["source"].is_string()) e.source = o["source"].get<std::string>();
            if (o.contains("playing")) {
                if (!o["playing"].is_boolean()) bad(LR_E_FORMAT, where, name + ".playing must be true or false");
                e.playing = o["playing"].get<bool>() && !e.audio.empty();
            }
            for (const lr_param_desc* p : params_of(LR_TARGET_SLOT)) {
                known.insert(p->name);
                e.params[p->id] = p->def;
                if (!o.contains(p->name)) continue;
                const std::string field = fmt::format("slot {}: {}", index, p->name);
                const double v = number_at(o[p->name], field, where);
                check_param(*p, v, field, where);
                e.params[p->id] = v;
            }
            if (e.params[LR_P_LOOP_BPM] != 0.0 && e.params[LR_P_LOOP_BEATS] != 0.0)
                bad(LR_E_BAD_VALUE, where,
                    fmt::format("slot {}: loop-bpm and loop-beats are both set; a loop is declared by one of them",
                                index));
            check_keys(o, known, fmt::format("slot {}", index), where);
            doc.slots.push_back(e);
        }
        std::sort(doc.slots.begin(), doc.slots.end(),
                  [](const SlotEntry& a, const SlotEntry& b) { return a.index < b.index; });
    }
    if (j.contains("connections")) {
        const auto& cs = j["connections"];
        if (!cs.is_array()) bad(LR_E_FORMAT, where, "\"connections\" must be a list of [our port, other port]");
        for (std::size_t k = 0; k < cs.size(); ++k) {
            const auto& c = cs[k];
            if (!c.is_array() || c.size() != 2 || !c[0].is_string() || !c[1].is_string())
                bad(LR_E_FORMAT, where, fmt::format("connections[{}] must be [our port, other port]", k));
            doc.connections.push_back({c[0].get<std::string>(), c[1].get<std::string>()});
        }
    }
    if (j.contains("midi_map")) {
        doc.midi_map = j["midi_map"].dump();
        try {
            MidiMap::from_json(doc.midi_map, slot_count);
        } catch (const MidiMapError& e) {
            bad(LR_E_FORMAT, where, fmt::format("midi_map: {}", e.what()));
        }
    }
    return doc;
}

// --- the folder ------------------------------------------------------------------

SaveReport Store::save(const std::string& dir_in, const SessionRig& rig, const std::vector<Connection>& connections,
                       const EngineFacts& engine, const std::string& midi_map) {
    const std::string dir = normalise_folder(dir_in);
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec || !fs::is_directory(dir))
        throw Failure(LR_E_FILE, fmt::format("cannot create the session folder ({}): {}",
                                             ec ? ec.message() : "a file of that name is in the way", shorten(dir, 100)));
    const std::string audio_dir = dir + "/" + kAudioFolder;
    fs::create_directories(audio_dir, ec);
    if (ec || !fs::is_directory(audio_dir) || ::access(dir.c_str(), W_OK) != 0 || ::access(audio_dir.c_str(), W_OK) != 0)
        throw Failure(LR_E_FILE, fmt::format("cannot write in the session folder ({}): {}",
                                             ec ? ec.message() : errno_text(EACCES), shorten(dir, 100)));
    std::string audio_real;
    {
        char buf[PATH_MAX];
        if (::realpath(audio_dir.c_str(), buf)) audio_real = buf;
    }

    SaveReport report;
    report.audio_paths.resize(rig.slots.size());
    Document doc = document_of(rig, engine.sample_rate);
    doc.saved_by = "looprig " LOOPRIG_VERSION;
    doc.saved_at = now_iso8601();
    doc.engine = engine;
    doc.connections = connections;
    std::sort(doc.connections.begin(), doc.connections.end());
    doc.midi_map = midi_map;

    std::set<std::string> referenced;  // names in audio/
    std::map<uint64_t, std::string> this_save;  // serial -> relative name (a loop in two slots: one file)
    std::map<std::string, std::string> same_source;  // file loaded (path and identity) -> relative name
    for (SlotEntry& e : doc.slots) {
        const Sample* s = rig.slots[static_cast<uint32_t>(e.index)].sample;
        if (!s) continue;
        ++report.slots;
        // The same file loaded into several slots is kept once.
        const std::string source_key = s->source.inode == 0 ? std::string()
            : fmt::format("{}\n{}:{}:{}:{}", s->path, s->source.device, s->source.inode, s->source.size,
                          s->source.mtime_ns);
        if (auto it = same_source.find(source_key); !source_key.empty() && it != same_source.end())
            this_save[s->serial] = it->second;
        if (auto it = this_save.find(s->serial); it != this_save.end()) {
            e.audio = it->second;
            report.audio_paths[static_cast<uint32_t>(e.index)] = dir + "/" + e.audio;
            continue;
        }
        std::string relative;
        // 1. Loaded from this session's own audio folder, and still that file.
        const fs::path src(s->path);
        if (!audio_real.empty() && s->source.inode != 0) {
            char buf[PATH_MAX];
            if (::realpath(src.parent_path().c_str(), buf) && audio_real == buf && same_file_as(s->path, s->source))
                relative = std::string(kAudioFolder) + "/" + src.filename().string();
        }
        // 2. Written into this folder by an earlier save, and still there.
        if (relative.empty()) {
            if (auto it = written_.find(s->serial);
                it != written_.end() && it->second.dir == dir && same_file_as(dir + "/" + it->second.relative, it->second.identity))
                relative = it->second.relative;
        }
        // 3. Copy the file it was loaded from if it is still the same; else write what the engine holds.
        if (relative.empty()) {
            const bool from_file = s->source.inode != 0 && same_file_as(s->path, s->source);
            const std::string base = s->name[0] ? std::string(s->name) : fmt::format("slot{:02}.wav", e.index);
            const std::string name = unique_name(audio_dir, from_file ? base : fs::path(base).stem().string() + ".wav", referenced);
            const std::string to = audio_dir + "/" + name;
            const SourceIdentity id = from_file ? copy_file(s->path, to, &report.bytes_written)
                                                : write_sample(*s, engine.sample_rate, to, &report.bytes_written);
            relative = std::string(kAudioFolder) + "/" + name;
            written_[s->serial] = Written{dir, relative, id};
            ++report.files_written;
        }
        e.audio = relative;
        report.audio_paths[static_cast<uint32_t>(e.index)] = dir + "/" + relative;
        this_save[s->serial] = relative;
        if (!source_key.empty()) same_source[source_key] = relative;
        referenced.insert(fs::path(relative).filename().string());
    }
    if (report.files_written) fsync_folder(audio_dir);

    // The document, swapped in atomically (unless nothing but the time changed).
    const std::string path = dir + "/" + kDocumentName;
    Document same = doc;
    std::string old_text;
    {
        std::error_code rec;
        if (fs::is_regular_file(path, rec)) {
            FILE* f = std::fopen(path.c_str(), "rb");
            if (f) {
                char buf[65536];
                std::size_t n;
                while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) old_text.append(buf, n);
                std::fclose(f);
            }
        }
    }
    bool was_session = false;  // the folder held a session: its audio/ is ours
    try {
        if (!old_text.empty()) {
            Document old = parse(old_text, path, LR_MAX_SLOTS);
            same.saved_at = old.saved_at;
            was_session = true;
        }
    } catch (const Failure&) {
    }
    report.document = to_json(same);
    if (report.document != old_text) {
        report.document = to_json(doc);
        write_atomically(path, report.document);
        fsync_folder(dir);
        report.document_written = true;
    }

    // Audio the document no longer references (a session's audio/ is looprig's),
    // and what killed saves left behind. In a folder that was not a session
    // yet, files someone else put in audio/ are left alone.
    if (DIR* d = ::opendir(audio_dir.c_str())) {
        while (dirent* ent = ::readdir(d)) {
            const std::string name = ent->d_name;
            if (name == "." || name == "..") continue;
            const bool stale_tmp = name[0] == '.' && name.find(".tmp-") != std::string::npos;
            if (stale_tmp || (was_session && !referenced.count(name))) {
                struct stat st {};
                if (::lstat((audio_dir + "/" + name).c_str(), &st) == 0 && S_ISREG(st.st_mode))
                    ::unlink((audio_dir + "/" + name).c_str());
            }
        }
        ::closedir(d);
    }
    if (DIR* d = ::opendir(dir.c_str())) {
        const std::string prefix = std::string(".") + kDocumentName + ".tmp-";
        while (dirent* ent = ::readdir(d)) {
            const std::string name = ent->d_name;
            if (name.rfind(prefix, 0) == 0 && name != prefix + std::to_string(::getpid()))
                ::unlink((dir + "/" + name).c_str());
        }
        ::closedir(d);
    }
    return report;
}

OpenedSession Store::open(const std::string& dir_in, uint32_t slot_count, uint32_t sample_rate, uint64_t max_bytes,
                          const std::vector<std::string>& allowed_dirs) {
    const std::string dir = normalise_folder(dir_in);
    std::error_code ec;
    if (!fs::exists(dir, ec)) throw Failure(LR_E_FILE, fmt::format("no session folder at {}", shorten(dir, 120)));
    if (!fs::is_directory(dir, ec)) throw Failure(LR_E_FILE, fmt::format("not a folder: {}", shorten(dir, 120)));
    const std::string path = dir + "/" + kDocumentName;
    if (!fs::exists(path, ec))
        throw Failure(LR_E_FILE, fmt::format("not a looprig session (no {}): {}", kDocumentName, shorten(dir, 100)));
    std::string text;
    {
        FILE* f = std::fopen(path.c_str(), "rb");
        if (!f) throw Failure(LR_E_FILE, fmt::format("cannot read {}: {}", path, errno_text(errno)));
        char buf[65536];
        std::size_t n;
        while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) {
            text.append(buf, n);
            if (text.size() > (64u << 20)) {
                std::fclose(f);
                throw Failure(LR_E_FORMAT, fmt::format("{} is larger than 64 MB: not a session document", path));
            }
        }
        std::fclose(f);
    }
    OpenedSession out;
    out.doc = parse(text, path, slot_count);
    out.samples.resize(slot_count);

    // Every audio file must be there before any is decoded.
    for (const SlotEntry& e : out.doc.slots) {
        if (e.audio.empty()) continue;
        const std::string file = dir + "/" + e.audio;
        struct stat st {};
        if (::stat(file.c_str(), &st) != 0)
            throw Failure(LR_E_FILE, fmt::format("slot {}: its audio {} is missing from the session folder", e.index,
                                                 shorten(e.audio, 80)));
    }
    // Decode on up to 4 threads (files of one session share nothing).
    std::vector<const SlotEntry*> todo;
    for (const SlotEntry& e : out.doc.slots)
        if (!e.audio.empty()) todo.push_back(&e);
    std::vector<DecodeOutcome> results(todo.size());
    const unsigned threads = std::max(1u, std::min({4u, std::thread::hardware_concurrency(), static_cast<unsigned>(todo.size())}));
    std::atomic<std::size_t> next{0};
    auto work = [&] {
        for (std::size_t k; (k = next.fetch_add(1)) < todo.size();) {
            try {
                results[k] = decode_loop_file(dir + "/" + todo[k]->audio, sample_rate, max_bytes, allowed_dirs);
            } catch (const std::exception& ex) {
                results[k].code = LR_E_INTERNAL;
                results[k].message = ex.what();
            }
        }
    };
    std::vector<std::thread> pool;
    for (unsigned t = 1; t < threads; ++t) pool.emplace_back(work);
    work();
    for (auto& t : pool) t.join();
    for (std::size_t k = 0; k < todo.size(); ++k) {
        if (results[k].code != LR_OK || !results[k].sample)
            throw Failure(results[k].code == LR_OK ? LR_E_INTERNAL : results[k].code,
                          fmt::format("slot {}: {}", todo[k]->index, results[k].message));
        out.samples[static_cast<uint32_t>(todo[k]->index)] = std::move(results[k].sample);
    }
    return out;
}

}  // namespace looprig::session
