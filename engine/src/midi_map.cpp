#include "midi_map.hpp"

#include "rt/midi_control.hpp"
#include "looprig/shm_client.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

namespace looprig {

using nlohmann::ordered_json;

namespace {

constexpr int kFirstPadNote = 36;  // C1 (C2 in some manuals): the first pad of most pad controllers

std::vector<std::string> words(const std::string& text) {
    std::istringstream in(text);
    std::vector<std::string> out;
    for (std::string w; in >> w;) out.push_back(w);
    return out;
}

double number(const std::string& word, const std::string& target) {
    char* end = nullptr;
    const double v = std::strtod(word.c_str(), &end);
    if (word.empty() || *end || !std::isfinite(v))
        throw MidiMapError(fmt::format("target '{}': '{}' is not a number", target, word));
    return v;
}

int32_t index_word(const std::string& word, const std::string& target, const char* what, int32_t count) {
    const double v = number(word, target);
    if (v != std::floor(v) || v < 0 || v >= count)
        throw MidiMapError(fmt::format("target '{}': {} {} does not exist (0..{})", target, what, word, count - 1));
    return static_cast<int32_t>(v);
}

const lr_param_desc* param_named(const std::string& name) {
    uint32_t count = 0;
    const lr_param_desc* table = lr_param_table(&count);
    for (uint32_t k = 0; k < count; ++k)
        if (name == table[k].name) return &table[k];
    return nullptr;
}

}  // namespace

MidiBinding parse_midi_target(const std::string& target, uint32_t slot_count, MidiShow* shows, bool* has_feedback) {
    const std::vector<std::string> w = words(target);
    if (w.empty()) throw MidiMapError("empty target");
    const auto slots = static_cast<int32_t>(slot_count);
    MidiBinding b;
    bool feedback = false;
    MidiShow show = MidiShow::slot_state;
    const std::string& verb = w[0];
    auto need = [&](std::size_t lo, std::size_t hi, const char* usage) {
        if (w.size() < lo || w.size() > hi) throw MidiMapError(fmt::format("target '{}': usage: {}", target, usage));
    };
    if (verb == "toggle" || verb == "play" || verb == "stop" || verb == "mute" || verb == "solo") {
        need(2, 2, (verb + " SLOT").c_str());
        b.action = verb == "toggle" ? MidiAction::toggle
                   : verb == "play" ? MidiAction::play
                   : verb == "stop" ? MidiAction::stop
                   : verb == "mute" ? MidiAction::mute
                                    : MidiAction::solo;
        b.index = index_word(w[1], target, "slot", slots);
        feedback = true;
        show = verb == "mute" ? MidiShow::mute : verb == "solo" ? MidiShow::solo : MidiShow::slot_state;
    } else if (verb == "scene") {
        need(2, 2, "scene ROW (a launcher row of 8 slots)");
        b.action = MidiAction::scene;
        b.index = index_word(w[1], target, "scene", std::max<int32_t>(1, (slots + 7) / 8));
    } else if (verb == "stop-all") {
        need(1, 1, "stop-all");
        b.action = MidiAction::stop_all;
    } else if (verb == "transport") {
        need(2, 2, "transport off|follow|master");
        b.action = MidiAction::transport;
        if (w[1] == "off") b.index = LR_TRANSPORT_OFF;
        else if (w[1] == "follow") b.index = LR_TRANSPORT_FOLLOW;
        else if (w[1] == "master") b.index = LR_TRANSPORT_MASTER;
        else throw MidiMapError(fmt::format("target '{}': transport off, follow or master", target));
    } else if (verb == "tap") {
        need(1, 1, "tap");
        b.action = MidiAction::tap;
    } else if (verb == "tempo") {
        need(1, 3, "tempo [LO HI] (BPM, default 60 180)");
        b.action = MidiAction::tempo;
        b.lo = 60.0f;
        b.hi = 180.0f;
        if (w.size() == 2) throw MidiMapError(fmt::format("target '{}': give both ends of the range", target));
        if (w.size() == 3) {
            b.lo = static_cast<float>(number(w[1], target));
            b.hi = static_cast<float>(number(w[2], target));
        }
        if (std::min(b.lo, b.hi) < 20.0f || std::max(b.lo, b.hi) > 400.0f)
            throw MidiMapError(fmt::format("target '{}': tempo range must be within 20..400 BPM", target));
    } else if (const lr_param_desc* p = param_named(verb)) {
        // PARAM [INDEX] [LO HI]: the index is a slot or group; global params take none.
        b.action = MidiAction::param;
        b.param = p->id;
        std::size_t next = 1;
        if (p->target != LR_TARGET_GLOBAL) {
            if (w.size() < 2)
                throw MidiMapError(fmt::format("target '{}': {} needs a {}", target, verb,
                                               p->target == LR_TARGET_SLOT ? "slot" : "group"));
            b.index = p->target == LR_TARGET_SLOT ? index_word(w[1], target, "slot", slots)
                                                  : index_word(w[1], target, "group", LR_GROUPS);
            next = 2;
        }
        b.lo = static_cast<float>(p->min);
        b.hi = static_cast<float>(p->max);
        if (p->id == LR_P_GAIN || p->id == LR_P_MASTER_GAIN) {
            b.lo = -60.0f;  // a fader's useful travel, not the table's -144
            b.hi = 6.0f;
        }
        if (w.size() == next + 2) {
            b.lo = static_cast<float>(number(w[next], target));
            b.hi = static_cast<float>(number(w[next + 1], target));
            for (double v : {static_cast<double>(b.lo), static_cast<double>(b.hi)}) {
                char why[256];
                if (lr_param_check(p->id, v, why, sizeof why) != 0)
                    throw MidiMapError(fmt::format("target '{}': {}", target, why));
            }
        } else if (w.size() != next) {
            throw MidiMapError(fmt::format("target '{}': usage: {}{} [LO HI]", target, verb,
                                           p->target == LR_TARGET_GLOBAL ? "" : " INDEX"));
        }
    } else {
        throw MidiMapError(fmt::format(
            "unknown target '{}': one of toggle/play/stop/mute/solo SLOT, scene ROW, stop-all, tap, tempo [LO HI], "
            "transport off|follow|master, "
            "or a param name (looprig params) with its slot or group and an optional range",
            target));
    }
    if (shows) *shows = show;
    if (has_feedback) *has_feedback = feedback;
    return b;
}

std::string describe_control(const MidiMapEntry& e) {
    return fmt::format("{} {} {}", e.is_cc ? "CC" : "note", e.number,
                       e.channel < 0 ? std::string("any channel") : fmt::format("ch {}", e.channel + 1));
}

MidiMap MidiMap::defaults(uint32_t slot_count) {
    MidiMap m;
    for (uint32_t k = 0; k < slot_count && kFirstPadNote + k <= 127; ++k)
        m.entries.push_back({false, -1, static_cast<int>(kFirstPadNote + k), fmt::format("toggle {}", k)});
    return m;
}

void MidiMap::bind(const MidiMapEntry& e, uint32_t slot_count) {
    parse_midi_target(e.target, slot_count);  // throws for a bad one
    std::erase_if(entries, [&](const MidiMapEntry& o) { return o.same_control(e); });
    entries.push_back(e);
}

std::unique_ptr<MidiTable> MidiMap::compile(uint32_t slot_count) const {
    auto t = std::make_unique<MidiTable>();
    t->colors = colors;
    t->clock = clock;
    for (const MidiMapEntry& e : entries) {
        MidiShow show{};
        bool has_feedback = false;
        MidiBinding b = parse_midi_target(e.target, slot_count, &show, &has_feedback);
        b.relative = e.relative ? 1 : 0;
        b.step = static_cast<float>(e.step > 0.0 ? e.step : (b.hi - b.lo) / 100.0);
        for (int ch = 0; ch < 16; ++ch)
            if (e.channel < 0 || e.channel == ch) (e.is_cc ? t->cc : t->note)[ch][e.number] = b;
        if (has_feedback && e.feedback && t->feedback_count < MidiTable::kMaxFeedback) {
            MidiFeedback& f = t->feedback[t->feedback_count++];
            f.is_cc = e.is_cc ? 1 : 0;
            f.channel = static_cast<uint8_t>(e.channel < 0 ? 0 : e.channel);
            f.number = static_cast<uint8_t>(e.number);
            f.show = show;
            f.index = b.index;
        }
    }
    return t;
}

MidiMap MidiMap::from_json(const std::string& text, uint32_t slot_count) {
    ordered_json j;
    try {
        j = ordered_json::parse(text);
    } catch (const std::exception& e) {
        throw MidiMapError(fmt::format("not JSON: {}", e.what()));
    }
    if (!j.is_object() || !j.contains("looprig_midi_map"))
        throw MidiMapError("not a looprig MIDI map (no \"looprig_midi_map\": 1)");
    if (j["looprig_midi_map"] != 1)
        throw MidiMapError(fmt::format("MIDI map version {} is not known (this engine reads 1)", j["looprig_midi_map"].dump()));
    MidiMap m;
    if (j.contains("clock")) {
        if (!j["clock"].is_boolean()) throw MidiMapError("\"clock\" must be true or false");
        m.clock = j["clock"].get<bool>();
    }
    if (j.contains("colors")) {
        const auto& c = j["colors"];
        if (!c.is_object()) throw MidiMapError("\"colors\" must be an object");
        for (auto it = c.begin(); it != c.end(); ++it) {
            if (!it.value().is_number_integer() || it.value().get<int>() < 0 || it.value().get<int>() > 127)
                throw MidiMapError(fmt::format("colors.{} must be 0..127", it.key()));
            const auto v = static_cast<uint8_t>(it.value().get<int>());
            const std::string& k = it.key();
            if (k == "empty") m.colors.empty = v;
            else if (k == "loaded") m.colors.loaded = v;
            else if (k == "queued") m.colors.queued = v;
            else if (k == "playing") m.colors.playing = v;
            else if (k == "on") m.colors.on = v;
            else if (k == "off") m.colors.off = v;
            else throw MidiMapError(fmt::format("unknown color '{}' (empty, loaded, queued, playing, on, off)", k));
        }
    }
    if (j.contains("bindings")) {
        const auto& bs = j["bindings"];
        if (!bs.is_array()) throw MidiMapError("\"bindings\" must be a list");
        for (std::size_t k = 0; k < bs.size(); ++k) {
            const auto& b = bs[k];
            const std::string where = fmt::format("bindings[{}]", k);
            if (!b.is_object()) throw MidiMapError(where + " must be an object");
            MidiMapEntry e;
            if (b.contains("note") == b.contains("cc")) throw MidiMapError(where + " needs \"note\" or \"cc\" (one of them)");
            e.is_cc = b.contains("cc");
            const auto& n = b[e.is_cc ? "cc" : "note"];
            if (!n.is_number_integer() || n.get<int>() < 0 || n.get<int>() > 127)
                throw MidiMapError(where + (e.is_cc ? ".cc" : ".note") + " must be 0..127");
            e.number = n.get<int>();
            if (b.contains("channel")) {
                const auto& c = b["channel"];
                if (c.is_string() && c.get<std::string>() == "any") e.channel = -1;
                else if (c.is_number_integer() && c.get<int>() >= 1 && c.get<int>() <= 16) e.channel = c.get<int>() - 1;
                else throw MidiMapError(where + ".channel must be 1..16 or \"any\"");
            }
            if (!b.contains("do") || !b["do"].is_string()) throw MidiMapError(where + " needs \"do\": the target text");
            e.target = b["do"].get<std::string>();
            if (b.contains("relative")) {
                if (!b["relative"].is_boolean()) throw MidiMapError(where + ".relative must be true or false");
                e.relative = b["relative"].get<bool>();
            }
            if (b.contains("step")) {
                if (!b["step"].is_number() || !(b["step"].get<double>() > 0.0)) throw MidiMapError(where + ".step must be > 0");
                e.step = b["step"].get<double>();
            }
            if (b.contains("feedback")) {
                if (!b["feedback"].is_boolean()) throw MidiMapError(where + ".feedback must be true or false");
                e.feedback = b["feedback"].get<bool>();
            }
            try {
                parse_midi_target(e.target, slot_count);
            } catch (const MidiMapError& err) {
                throw MidiMapError(fmt::format("{}: {}", where, err.what()));
            }
            m.entries.push_back(e);
        }
    }
    return m;
}

std::string MidiMap::to_json() const {
    ordered_json j;
    j["looprig_midi_map"] = 1;
    j["clock"] = clock;
    j["colors"] = {{"empty", colors.empty}, {"loaded", colors.loaded}, {"queued", colors.queued},
                   {"playing", colors.playing}, {"on", colors.on},       {"off", colors.off}};
    ordered_json bs = ordered_json::array();
    for (const MidiMapEntry& e : entries) {
        ordered_json b;
        b[e.is_cc ? "cc" : "note"] = e.number;
        if (e.channel < 0) b["channel"] = "any";
        else b["channel"] = e.channel + 1;
        b["do"] = e.target;
        if (e.relative) b["relative"] = true;
        if (e.step > 0.0) b["step"] = e.step;
        if (!e.feedback) b["feedback"] = false;
        bs.push_back(b);
    }
    j["bindings"] = bs;
    return j.dump(2) + "\n";
}

MidiMapOwner::MidiMapOwner(rt::MidiControl& control, uint32_t slot_count, MidiMap initial,
                           std::function<void(const std::string&)> log, std::function<void()> changed)
    : control_(control),
      slot_count_(slot_count),
      log_(std::move(log)),
      changed_(std::move(changed)),
      map_(std::move(initial)) {
    install(map_);
}

void MidiMapOwner::set_map(MidiMap m, bool is_change) {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        map_ = std::move(m);
        ++changes_;
    }
    if (is_change && changed_) changed_();
}

void MidiMapOwner::restore(const std::string& json) {
    MidiMap m = json.empty() ? MidiMap::defaults(slot_count_) : MidiMap::from_json(json, slot_count_);
    if (!install(m)) throw MidiMapError("the audio thread did not take the session's MIDI map");
    set_map(std::move(m), false);
}

MidiMap MidiMapOwner::read_file(const std::string& path, uint32_t slot_count) {
    if (path.empty()) return MidiMap::defaults(slot_count);
    std::ifstream in(path, std::ios::binary);
    if (!in) throw MidiMapError(fmt::format("cannot read MIDI map {}: {}", path, std::strerror(errno)));
    std::stringstream text;
    text << in.rdbuf();
    try {
        return MidiMap::from_json(text.str(), slot_count);
    } catch (const MidiMapError& e) {
        throw MidiMapError(fmt::format("MIDI map {}: {}", path, e.what()));
    }
}

MidiMapOwner::~MidiMapOwner() { free_retired(); }

void MidiMapOwner::free_retired() { delete control_.take_retired(); }

bool MidiMapOwner::install(const MidiMap& map) {
    std::unique_ptr<MidiTable> table = map.compile(slot_count_);
    // The audio thread takes an offer only once its last retired table was
    // taken back here, and one offer at a time: wait a few periods for both.
    for (int i = 0; i < 200; ++i) {
        free_retired();
        if (control_.offer(table.get())) {
            table.release();
            return true;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return false;
}

void MidiMapOwner::load_file(const std::string& path) {
    MidiMap m = read_file(path, slot_count_);
    if (!install(m)) throw MidiMapError("the audio thread did not take the new MIDI map (is JACK running?)");
    set_map(std::move(m), true);
}

std::string MidiMapOwner::json() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return map_.to_json();
}

uint64_t MidiMapOwner::changes() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return changes_;
}

std::string MidiMapOwner::handle_request(const rt::MidiRequest& r, int* code) {
    const std::string text(r.cmd.text, std::min<std::size_t>(r.cmd.text_len, LR_TEXT_MAX - 1));
    *code = LR_OK;
    try {
        if (r.cmd.type == LR_CMD_MIDI_LEARN) {
            MidiMapEntry e;
            e.is_cc = r.is_cc != 0;
            e.channel = r.channel;
            e.number = r.number;
            e.target = text;
            MidiMap m;
            {
                std::lock_guard<std::mutex> lock(mutex_);
                m = map_;
            }
            m.bind(e, slot_count_);
            if (!install(m)) throw MidiMapError("the audio thread did not take the new MIDI map");
            set_map(std::move(m), true);
            return fmt::format("learned: {} -> {}", describe_control(e), text);
        }
        const auto op = static_cast<int>(r.cmd.value[0]);
        if (op == LR_MIDI_MAP_LOAD) {
            load_file(text);
            return text.empty() ? std::string("MIDI map: the default (note 36 + k toggles slot k)")
                                : fmt::format("MIDI map loaded from {}", text);
        }
        if (op == LR_MIDI_MAP_CLEAR) {
            MidiMap m;
            if (!install(m)) throw MidiMapError("the audio thread did not take the new MIDI map");
            set_map(std::move(m), true);
            return "MIDI map cleared: no bindings";
        }
        const std::string body = json();
        const std::string tmp = text + ".tmp";
        {
            std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
            if (!out) throw MidiMapError(fmt::format("cannot write {}: {}", tmp, std::strerror(errno)));
            out << body;
            out.flush();
            if (!out) throw MidiMapError(fmt::format("cannot write {}: {}", tmp, std::strerror(errno)));
        }
        if (std::rename(tmp.c_str(), text.c_str()) != 0)
            throw MidiMapError(fmt::format("cannot write {}: {}", text, std::strerror(errno)));
        return fmt::format("MIDI map saved to {}", text);
    } catch (const MidiMapError& e) {
        *code = r.cmd.type == LR_CMD_MIDI_LEARN ? LR_E_BAD_VALUE : LR_E_FILE;
        return e.what();
    }
}

void MidiMapOwner::serve() {
    free_retired();
    rt::MidiRequest r;
    while (control_.requests().pop_into(&r)) {
        int code = LR_OK;
        const std::string message = handle_request(r, &code);
        log_(code == LR_OK ? "midi: " + message : "midi: refused: " + message);
        rt::MidiAnswer a;
        a.place = r.place;
        a.cmd = r.cmd;
        a.code = code;
        std::strncpy(a.message, message.c_str(), LR_MESSAGE_MAX - 1);
        // Room comes back each period; without periods (JACK away) the answer is dropped after ~1 s.
        for (int i = 0; i < 500 && !control_.answers().push(a); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
}

}  // namespace looprig
