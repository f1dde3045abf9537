// The MIDI map (docs/MIDI.md): which note or CC does what, read from and
// written to a JSON file users can edit, compiled into the table the audio
// thread reads (midi_table.hpp). MidiMapOwner keeps the map in use, hands its
// tables to the audio thread and serves midi-learn and midi-map requests.
// Nothing here is RT code.
#pragma once

#include "midi_table.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

namespace looprig {

namespace rt {
class MidiControl;
struct MidiRequest;
}

/// A map file or target that cannot be used; what() says why.
class MidiMapError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// One binding as written: a note or CC (channel 0..15, or -1 for any) and
/// the target text ("toggle 3", "gain 2 -60 6", ...).
struct MidiMapEntry {
    bool is_cc = false;
    int channel = -1;
    int number = 0;
    std::string target;
    bool relative = false;
    double step = 0.0;      // relative CCs: change per tick (0: 1/100 of the range)
    bool feedback = true;   // light it with its target's state (slot targets)

    bool same_control(const MidiMapEntry& o) const {
        return is_cc == o.is_cc && number == o.number && (channel == o.channel || channel < 0 || o.channel < 0);
    }
};

class MidiMap {
public:
    /// The map a new engine has: note 36 + k (any channel) toggles slot k.
    static MidiMap defaults(uint32_t slot_count);
    /// From a map file's text; throws MidiMapError naming the problem.
    static MidiMap from_json(const std::string& text, uint32_t slot_count);
    std::string to_json() const;

    /// Add (replacing what the same note/CC did). Throws MidiMapError for a bad target.
    void bind(const MidiMapEntry& e, uint32_t slot_count);
    /// The table the audio thread reads; throws MidiMapError for a bad target.
    std::unique_ptr<MidiTable> compile(uint32_t slot_count) const;

    std::vector<MidiMapEntry> entries;
    MidiColors colors;
    bool clock = true;
};

/// A target's binding; throws MidiMapError ("unknown target 'x': ...").
MidiBinding parse_midi_target(const std::string& target, uint32_t slot_count, MidiShow* shows = nullptr,
                              bool* has_feedback = nullptr);
/// "note 36 ch 1" / "CC 7 any channel".
std::string describe_control(const MidiMapEntry& e);

class MidiMapOwner {
public:
    /// Starts with `initial` (offered to the audio thread at once); `log`
    /// writes one line to the engine's log.
    MidiMapOwner(rt::MidiControl& control, uint32_t slot_count, MidiMap initial,
                 std::function<void(const std::string&)> log, std::function<void()> changed = {});
    /// A session's map (its JSON, validated; "": the default), without
    /// counting it as a change. Throws MidiMapError.
    void restore(const std::string& json);
    /// The map file at `path` (empty: the default map); throws MidiMapError.
    static MidiMap read_file(const std::string& path, uint32_t slot_count);
    ~MidiMapOwner();

    /// Use `map` from the next period on (waits up to ~1 s for the audio
    /// thread to take the previous one; false if it did not).
    bool install(const MidiMap& map);
    /// Load the map file at `path` (empty: the default map) and install it.
    /// Throws MidiMapError.
    void load_file(const std::string& path);
    /// Serve learn results and map requests, free retired tables. Call
    /// often (the housekeeping loop).
    void serve();
    /// The map in use, as its file's JSON text (sessions save it).
    std::string json() const;
    /// Bumped by every change of the map (the session's "dirty").
    uint64_t changes() const;

private:
    void free_retired();
    std::string handle_request(const rt::MidiRequest& r, int* code);

    rt::MidiControl& control_;
    uint32_t slot_count_;
    std::function<void(const std::string&)> log_;
    std::function<void()> changed_;  // the map changed (the session's "dirty")
    void set_map(MidiMap m, bool is_change);
    mutable std::mutex mutex_;  // map_ and changes_: the housekeeping and the session worker read them
    MidiMap map_;
    uint64_t changes_ = 0;
};

}  // namespace looprig
