// Sessions on disk: the session document (looprig-session.json, format
// version 1, docs/SESSIONS.md) and the folder that holds it and the audio it
// needs. Saving writes new audio files beside the old ones, then swaps the
// document in by rename(2), then removes audio no longer referenced: a save
// killed at any point leaves the previous session whole. Opening validates
// the whole document and decodes every loop before anything is handed to the
// audio thread (all or nothing). Nothing here is RT safe; the session worker
// (session_worker.hpp) calls it.
#pragma once

#include "sample.hpp"
#include "worker_queues.hpp"

#include <cstdint>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace looprig::session {

inline constexpr int kFormatVersion = 1;
inline constexpr const char* kDocumentName = "looprig-session.json";
inline constexpr const char* kAudioFolder = "audio";

/// Why a save or open failed: an lr_error code and a message that names the problem.
struct Failure : std::runtime_error {
    Failure(int code, const std::string& message) : std::runtime_error(message), code(code) {}
    int code;
};

/// One JACK connection of a port the engine owns.
struct Connection {
    std::string port;   // our port's short name (out_L, slot03_R, ...)
    std::string other;  // the other port's full name (system:playback_1)
    bool operator==(const Connection&) const = default;
    bool operator<(const Connection& o) const { return port != o.port ? port < o.port : other < o.other; }
};

/// The engine a session was saved by (informative; open does not require the same).
struct EngineFacts {
    std::string name;
    uint32_t sample_rate = 48000;
    uint32_t slot_count = 32;
    bool slot_outs = false;
    bool bus_outs = false;
};

/// A slot as the document holds it.
struct SlotEntry {
    int32_t index = 0;
    std::string audio;   // relative to the session folder ("" = no loop)
    std::string source;  // where the loop was loaded from (informative)
    bool playing = false;
    double params[LR_SLOT_PARAMS] = {};
};

/// The document.
struct Document {
    int version = kFormatVersion;
    std::string saved_by;
    std::string saved_at;  // ISO 8601, UTC
    EngineFacts engine;
    double tempo_bpm = 120.0;
    uint32_t beats_per_bar = 4;
    uint32_t transport_mode = LR_TRANSPORT_OFF;
    double declick_ms = 2.0;
    double group_params[LR_GROUPS][LR_GROUP_PARAMS] = {};
    double global_params[LR_GLOBAL_PARAMS] = {};
    std::vector<SlotEntry> slots;  // by index; only slots with a loop or a setting off its default
    std::vector<Connection> connections;  // sorted
    std::string midi_map;  // the MIDI map's JSON (docs/MIDI.md); empty: none saved (the default map)
};

/// The document as JSON text (stable order, exact doubles, one slot per block).
std::string to_json(const Document& doc);
/// Parse and validate a document: every field's type and range (the params
/// table's rules), slots within `slot_count`, audio paths inside the folder.
/// Throws Failure (LR_E_FORMAT, LR_E_BAD_SLOT, LR_E_BAD_VALUE) naming the field. `where` names the file.
Document parse(const std::string& text, const std::string& where, uint32_t slot_count);

/// The rig's values (not its samples) as a document, and back.
Document document_of(const SessionRig& rig, uint32_t sample_rate);
void rig_values_of(const Document& doc, uint32_t sample_rate, SessionRig& rig);

/// What a save did.
struct SaveReport {
    uint32_t slots = 0;          // slots with a loop
    uint32_t files_written = 0;  // audio files copied or written this time
    uint64_t bytes_written = 0;
    bool document_written = false;  // false: identical to the one on disk
    std::string document;           // the JSON written
    std::vector<std::string> audio_paths;  // by slot: the absolute path of its loop in the session ("" = none)
};

/// An opened session, validated, its loops decoded, ready to install.
struct OpenedSession {
    Document doc;
    std::vector<std::unique_ptr<Sample>> samples;  // by slot index (null = empty)
};

/// A session folder: saves and opens. Remembers the audio files it wrote
/// (by Sample::serial), so saving again writes only loops that are new.
class Store {
public:
    /// Write `rig` (values and the samples it references) and `connections`
    /// to the folder `dir` (absolute; created if absent). Throws Failure.
    SaveReport save(const std::string& dir, const SessionRig& rig, const std::vector<Connection>& connections,
                    const EngineFacts& engine, const std::string& midi_map = {});
    /// Read, validate and decode the session in `dir` for an engine with
    /// `slot_count` slots at `sample_rate`. Throws Failure; nothing is kept.
    OpenedSession open(const std::string& dir, uint32_t slot_count, uint32_t sample_rate, uint64_t max_bytes,
                       const std::vector<std::string>& allowed_dirs);

private:
    struct Written {
        std::string dir;       // the session folder it is in
        std::string relative;  // audio/NAME
        SourceIdentity identity;
    };
    std::map<uint64_t, Written> written_;  // Sample::serial -> the file written for it
};

/// `path` elided in the middle to at most `room` bytes (messages put the reason first).
std::string shorten(const std::string& path, std::size_t room);

/// `path` made absolute and normalised (no trailing slash, "." and ".." resolved lexically).
std::string normalise_folder(const std::string& path);

}  // namespace looprig::session
