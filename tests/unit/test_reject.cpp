// Table-driven rejection (issue 5, item 2): for EVERY command type and EVERY
// row of lr_param_table(), the values a client can get wrong — NaN, +inf,
// -inf, just below the minimum, just above the maximum, and for what
// addresses a slot or group, -1 and one past the last — plus malformed
// messages (id 0, unknown flags, AT where it is not allowed, bad quantize,
// text lengths) are rejected by the engine with the documented code and a
// readable message, the validator (a pure function) agrees, and nothing the
// engine publishes changes (lr_slot_params, lr_mix_meter params, slot meters'
// settings, tempo/meter/transport, declick) — not at once and not later for
// commands that asked for a future frame. Meanwhile the loop that plays stays
// sample-exact.
#include "command.hpp"
#include "core_harness.hpp"
#include "looprig/shm_client.h"

#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <map>
#include <string>
#include <vector>

using namespace looprig;
using looprig::test::CoreHarness;
using looprig::test::make_sample;

namespace {

constexpr uint32_t kSlots = 4;
const double kNaN = std::numeric_limits<double>::quiet_NaN();
const double kInf = std::numeric_limits<double>::infinity();
double below(double v) { return std::nextafter(v, -kInf); }
double above(double v) { return std::nextafter(v, kInf); }

/// Everything a command could change that the engine publishes (not audio
/// measurements: peaks, RMS, playheads and loudness move by themselves).
struct Published {
    std::vector<float> slot_params;
    std::vector<float> group_params;
    std::vector<float> global_params;
    uint32_t delay_frames = 0;
    struct SlotSettings {
        uint64_t length, start_frame;
        uint32_t state, flags;
        float gain_db, pan, loop_bpm, loop_beats, pitch;
        uint32_t mode, render;
        int32_t group;
        uint64_t load_count;
        bool operator==(const SlotSettings&) const = default;
    };
    std::vector<SlotSettings> slots;
    double tempo_bpm = 0;
    uint32_t beats_per_bar = 0, transport_mode = 0, declick_frames = 0, smooth_frames = 0;
    bool operator==(const Published&) const = default;
};

Published snapshot(CoreHarness& h) {
    Published p;
    const lr_slot_params* sp = h.segment->slot_params();
    for (uint32_t s = 0; s < kSlots; ++s) p.slot_params.insert(p.slot_params.end(), sp[s].value, sp[s].value + LR_SLOT_PARAMS);
    const lr_mix_meter* mm = h.segment->mix_meter();
    for (const auto& g : mm->group_params) p.group_params.insert(p.group_params.end(), g, g + LR_GROUP_PARAMS);
    p.global_params.assign(mm->global_params, mm->global_params + LR_GLOBAL_PARAMS);
    p.delay_frames = mm->delay_frames;
    const lr_slot_meter* sm = h.segment->slot_meters();
    const lr_slot_info* si = h.segment->slot_infos();
    for (uint32_t s = 0; s < kSlots; ++s)
        p.slots.push_back({sm[s].length, sm[s].start_frame, sm[s].state, sm[s].flags, sm[s].gain_db, sm[s].pan,
                           sm[s].loop_bpm, sm[s].loop_beats, sm[s].pitch, sm[s].mode, sm[s].render, sm[s].group,
                           si[s].load_count});
    const lr_meter_header* m = h.segment->meter_header();
    p.tempo_bpm = m->tempo_bpm;
    p.beats_per_bar = m->beats_per_bar;
    p.transport_mode = m->transport_mode;
    p.declick_frames = h.segment->header()->declick_frames;
    p.smooth_frames = h.segment->header()->smooth_frames;
    return p;
}

/// What differs, for the failure message.
std::string diff(const Published& a, const Published& b) {
    std::string out;
    for (std::size_t i = 0; i < a.slot_params.size(); ++i)
        if (std::memcmp(&a.slot_params[i], &b.slot_params[i], sizeof(float)) != 0)
            out += " slot " + std::to_string(i / LR_SLOT_PARAMS) + " param " + std::to_string(i % LR_SLOT_PARAMS) + ": " +
                   std::to_string(a.slot_params[i]) + " -> " + std::to_string(b.slot_params[i]) + ";";
    for (std::size_t i = 0; i < a.group_params.size(); ++i)
        if (a.group_params[i] != b.group_params[i]) out += " group param " + std::to_string(i) + ";";
    for (std::size_t i = 0; i < a.global_params.size(); ++i)
        if (a.global_params[i] != b.global_params[i]) out += " global param " + std::to_string(64 + i) + ";";
    for (std::size_t s = 0; s < a.slots.size(); ++s)
        if (!(a.slots[s] == b.slots[s])) out += " slot meter " + std::to_string(s) + " settings;";
    if (a.tempo_bpm != b.tempo_bpm) out += " tempo;";
    if (a.beats_per_bar != b.beats_per_bar) out += " meter;";
    if (a.transport_mode != b.transport_mode) out += " transport;";
    if (a.declick_frames != b.declick_frames) out += " declick;";
    if (a.delay_frames != b.delay_frames) out += " delay_frames;";
    return out.empty() ? " (nothing)" : out;
}

struct Row {
    std::string what;
    lr_command cmd;
    int code;
};

lr_command make(uint16_t type, int32_t slot = 0, double v0 = 0.0, double v1 = 0.0) {
    lr_command c{};
    c.id = 1;
    c.type = type;
    c.slot = slot;
    c.value[0] = v0;
    c.value[1] = v1;
    return c;
}

std::string fmt(double v) {
    char b[48];
    std::snprintf(b, sizeof b, "%.17g", v);
    return b;
}

/// A command's value range (valid settings that are already in force are not
/// what this test is about; only rejections).
struct ValueRange {
    uint16_t type;
    double min, max;
    int which = 0;      // value[0] or value[1]
    double other = 0;   // the other value
};

std::vector<Row> build_rows() {
    std::vector<Row> rows;
    auto add = [&](std::string what, lr_command c, int code) { rows.push_back({std::move(what), c, code}); };
    // Every valued command: NaN, +inf, -inf, just below min, just above max.
    const ValueRange ranges[] = {
        {LR_CMD_GAIN, -144.0, 24.0},
        {LR_CMD_PAN, -1.0, 1.0},
        {LR_CMD_MUTE, 0.0, 1.0},
        {LR_CMD_SOLO, 0.0, 1.0},
        {LR_CMD_DECLICK, 0.0, rt::kMaxDeclickMs},
        {LR_CMD_TEMPO, 20.0, 400.0},
        {LR_CMD_TIME_SIGNATURE, 1.0, 32.0},
        {LR_CMD_LOOP_TEMPO, 20.0, 400.0, 0, 0.0},    // loop BPM (beats 0)
        {LR_CMD_LOOP_TEMPO, 0.25, 1024.0, 1, 0.0},   // loop beats (BPM 0)
        {LR_CMD_PITCH, -24.0, 24.0},
        {LR_CMD_MODE, LR_MODE_STRETCH, LR_MODE_VARISPEED},
        {LR_CMD_TRANSPORT, LR_TRANSPORT_OFF, LR_TRANSPORT_MASTER},
    };
    for (const auto& r : ranges) {
        const bool slotted = rt::command_takes_slot(r.type);
        const int32_t slot = slotted ? 1 : 0;
        for (double v : {kNaN, kInf, -kInf, below(r.min), above(r.max)}) {
            lr_command c = make(r.type, slot);
            c.value[r.which] = v;
            c.value[1 - r.which] = r.other;
            add(std::string(rt::command_name(r.type)) + " value[" + std::to_string(r.which) + "] = " + fmt(v), c,
                LR_E_BAD_VALUE);
        }
    }
    // Non-whole or between-the-choices values of discrete commands.
    for (auto [type, v] : {std::pair<uint16_t, double>{LR_CMD_MUTE, 0.5}, {LR_CMD_SOLO, 0.5}, {LR_CMD_TIME_SIGNATURE, 2.5},
                           {LR_CMD_MODE, 0.5}, {LR_CMD_TRANSPORT, 1.5}})
        add(std::string(rt::command_name(type)) + " = " + fmt(v), make(type, 1, v), LR_E_BAD_VALUE);
    // Every slot-addressed command: slot -1, slot_count and the extremes (valid values otherwise).
    for (uint16_t t = 1; t < LR_CMD_TYPE_COUNT; ++t) {
        if (!rt::command_takes_slot(t)) continue;
        for (int32_t s : {-1, static_cast<int32_t>(kSlots), std::numeric_limits<int32_t>::min(),
                          std::numeric_limits<int32_t>::max()}) {
            lr_command c = make(t, s, t == LR_CMD_LOOP_TEMPO ? 120.0 : 0.0);
            if (t == LR_CMD_LOAD) {
                std::memcpy(c.text, "/tmp/x.wav", 10);
                c.text_len = 10;
            }
            add(std::string(rt::command_name(t)) + " slot " + std::to_string(s), c, LR_E_BAD_SLOT);
        }
    }
    // MIDI: a learn needs a target; a map op is 0..2, save needs an absolute file.
    {
        add("midi-learn without a target", make(LR_CMD_MIDI_LEARN, 0, 0.0), LR_E_BAD_VALUE);
        add("midi-map op 3", make(LR_CMD_MIDI_MAP, 0, 3.0), LR_E_BAD_VALUE);
        add("midi-map op NaN", make(LR_CMD_MIDI_MAP, 0, std::nan("")), LR_E_BAD_VALUE);
        add("midi-map save without a file", make(LR_CMD_MIDI_MAP, 0, 1.0), LR_E_BAD_VALUE);
        lr_command k = make(LR_CMD_MIDI_MAP, 0, 0.0);
        std::memcpy(k.text, "map.json", 8);
        k.text_len = 8;
        add("midi-map load of a relative path", k, LR_E_BAD_VALUE);
    }
    // Every command type: malformed messages.
    for (uint16_t t = 1; t < LR_CMD_TYPE_COUNT; ++t) {
        const std::string n = rt::command_name(t);
        lr_command c = make(t, 1, t == LR_CMD_TEMPO ? 120.0 : t == LR_CMD_TIME_SIGNATURE ? 4.0 : 0.0);
        if (t == LR_CMD_LOAD) {
            std::memcpy(c.text, "/tmp/x.wav", 10);
            c.text_len = 10;
        }
        if (t == LR_CMD_MIDI_LEARN) {
            std::memcpy(c.text, "toggle 0", 8);
            c.text_len = 8;
        }
        lr_command k = c;
        k.id = 0;
        add(n + " id 0", k, LR_E_BAD_MESSAGE);
        for (uint16_t f : {uint16_t{4}, uint16_t{0x8000}, uint16_t{0xFFFF}}) {
            k = c;
            k.flags = f;
            add(n + " flags " + std::to_string(f), k, LR_E_BAD_MESSAGE);
        }
        k = c;
        k.text_len = LR_TEXT_MAX + 1;
        add(n + " text_len " + std::to_string(k.text_len), k, LR_E_BAD_MESSAGE);
        k = c;
        k.text_len = 0xFFFFFFFFu;
        add(n + " text_len 2^32-1", k, LR_E_BAD_MESSAGE);
        const bool quantizable = t == LR_CMD_PLAY || t == LR_CMD_STOP || t == LR_CMD_TEMPO || t == LR_CMD_PARAM;
        if (t == LR_CMD_PARAM) continue;  // PARAM's rows below (it needs a param)
        k = c;
        k.quantize = quantizable ? 9 : LR_Q_FRAMES;
        k.quantize_arg = 64;
        add(n + (quantizable ? " unknown quantize mode" : " quantized"), k, LR_E_QUANTIZE);
        const bool may_be_at = quantizable || t == LR_CMD_GAIN || t == LR_CMD_PAN || t == LR_CMD_MUTE || t == LR_CMD_SOLO;
        if (!may_be_at) {
            k = c;
            k.flags = LR_CMD_F_AT;
            k.at_frame = 100000;
            add(n + " at a frame", k, LR_E_BAD_MESSAGE);
        }
    }
    // Quantize arguments out of range (PLAY on a loaded slot, STOP, TEMPO).
    for (uint16_t t : {uint16_t{LR_CMD_PLAY}, uint16_t{LR_CMD_STOP}, uint16_t{LR_CMD_TEMPO}}) {
        const double v = t == LR_CMD_TEMPO ? 120.0 : 0.0;
        for (auto [q, arg] : {std::pair<uint32_t, uint64_t>{LR_Q_SLOT, kSlots}, {LR_Q_SLOT, ~uint64_t{0}},
                              {LR_Q_FRAMES, 0}, {LR_Q_FRAMES, rt::kMaxQuantizeFrames + 1}, {LR_Q_BEAT, 1025},
                              {LR_Q_BAR, ~uint64_t{0}}}) {
            lr_command c = make(t, 1, v);
            c.quantize = q;
            c.quantize_arg = arg;
            add(std::string(rt::command_name(t)) + " quantize " + std::to_string(q) + ":" + std::to_string(arg), c,
                LR_E_QUANTIZE);
        }
    }
    // LOAD paths: empty, relative, with a NUL inside, as long as the buffer.
    {
        lr_command c = make(LR_CMD_LOAD, 1);
        add("load with an empty path", c, LR_E_BAD_VALUE);
        std::memcpy(c.text, "rel/x.wav", 9);
        c.text_len = 9;
        add("load with a relative path", c, LR_E_BAD_VALUE);
        std::memcpy(c.text, "/a\0b", 4);
        c.text_len = 4;
        add("load with a NUL in the path", c, LR_E_BAD_VALUE);
        std::memset(c.text, 'a', LR_TEXT_MAX);
        c.text[0] = '/';
        c.text_len = LR_TEXT_MAX;
        add("load with a path of LR_TEXT_MAX bytes", c, LR_E_BAD_VALUE);
    }
    // Unknown command types.
    for (uint16_t t : {uint16_t{LR_CMD_NOP}, uint16_t{LR_CMD_TYPE_COUNT}, uint16_t{200}, uint16_t{0xFFFF}})
        add("type " + std::to_string(t), make(t), LR_E_UNKNOWN_COMMAND);
    // Every param of the table.
    uint32_t count = 0;
    const lr_param_desc* table = lr_param_table(&count);
    for (uint32_t i = 0; i < count; ++i) {
        const lr_param_desc& p = table[i];
        const int32_t target = p.target == LR_TARGET_GLOBAL ? 0 : 1;
        auto param = [&](int32_t slot, double v) {
            lr_command c = make(LR_CMD_PARAM, slot, v);
            c.param = p.id;
            return c;
        };
        for (double v : {kNaN, kInf, -kInf, below(p.min), above(p.max)})
            add(std::string(p.name) + " = " + fmt(v), param(target, v), LR_E_BAD_VALUE);
        if (p.kind == LR_KIND_SWITCH) add(std::string(p.name) + " = 0.5", param(target, 0.5), LR_E_BAD_VALUE);
        if (p.kind == LR_KIND_INDEX) add(std::string(p.name) + " = min + 0.5", param(target, p.min + 0.5), LR_E_BAD_VALUE);
        if (p.target == LR_TARGET_SLOT)
            for (int32_t s : {-1, static_cast<int32_t>(kSlots), std::numeric_limits<int32_t>::min()})
                add(std::string(p.name) + " slot " + std::to_string(s), param(s, p.def), LR_E_BAD_SLOT);
        if (p.target == LR_TARGET_GROUP)
            for (int32_t g : {-1, int32_t{LR_GROUPS}, std::numeric_limits<int32_t>::max()})
                add(std::string(p.name) + " group " + std::to_string(g), param(g, p.def), LR_E_BAD_SLOT);
        lr_command q = param(target, p.def);
        q.quantize = LR_Q_FRAMES;
        q.quantize_arg = 0;
        add(std::string(p.name) + " quantize frames:0", q, LR_E_QUANTIZE);
    }
    // Ids that are not params.
    for (uint32_t id = 0; id < 130; ++id) {
        if (lr_param_info(id)) continue;
        lr_command c = make(LR_CMD_PARAM, 0, 0.0);
        c.param = id;
        add("param id " + std::to_string(id), c, LR_E_BAD_VALUE);
    }
    for (uint32_t id : {1000u, 0x7FFFFFFFu, 0xFFFFFFFFu}) {
        lr_command c = make(LR_CMD_PARAM, 0, 0.0);
        c.param = id;
        add("param id " + std::to_string(id), c, LR_E_BAD_VALUE);
    }
    return rows;
}

}  // namespace

TEST_CASE("every command type and every param: bad values, slots, groups and messages are rejected, nothing changes") {
    CoreHarness h(kSlots, 0, 0, 0);
    std::vector<float> x(61);
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = 0.5f * std::sin(0.37f * static_cast<float>(i)) + 0.1f;
    h.install(0, make_sample(x));
    h.install(1, make_sample(std::vector<float>(40, 0.25f)));  // loaded, stopped
    const uint32_t play = h.send(LR_CMD_PLAY, 0, 0, true, 128);
    h.run(4);
    REQUIRE(h.event_for(play).type == LR_EVT_ACK);
    const Published before = snapshot(h);

    const std::vector<Row> rows = build_rows();
    std::map<std::string, int> per_type;
    std::size_t scheduled = 0, checked = 0;
    uint32_t id = 1000;
    for (const Row& row : rows) {
        CAPTURE(row.what);
        // The validator alone (a pure function of the bytes).
        char msg[LR_MESSAGE_MAX];
        rt::Text why(msg, sizeof msg);
        REQUIRE(rt::validate_command(row.cmd, kSlots, why) == row.code);
        // Through the core: now, and (where a frame may be given) for a frame 2 periods ahead.
        for (int variant = 0; variant < 2; ++variant) {
            lr_command c = row.cmd;
            if (variant == 1) {
                const bool at_ok = c.type == LR_CMD_PLAY || c.type == LR_CMD_STOP || c.type == LR_CMD_TEMPO ||
                                   c.type == LR_CMD_PARAM || c.type == LR_CMD_GAIN || c.type == LR_CMD_PAN ||
                                   c.type == LR_CMD_MUTE || c.type == LR_CMD_SOLO;
                if (!at_ok || c.flags != 0) continue;
                c.flags = LR_CMD_F_AT;
                c.at_frame = h.frame + 2 * h.period;
                ++scheduled;
            }
            if (c.id != 0) c.id = ++id;
            h.push(c);
            h.run(1);
            bool found = false;
            for (const lr_event& e : h.drain()) {
                if (e.id != c.id) continue;
                found = true;
                CHECK(e.type == LR_EVT_ERROR);
                CHECK(e.code == row.code);
                CHECK(std::strlen(e.message) >= 8);
                CHECK(e.command == c.type);
            }
            CHECK(found);
            const Published now = snapshot(h);
            CHECK_MESSAGE(now == before, "changed:" << diff(before, now));
            ++checked;
        }
        ++per_type[row.cmd.type < LR_CMD_TYPE_COUNT && row.cmd.type != 0 ? rt::command_name(row.cmd.type) : "unknown type"];
    }
    // Nothing comes due later either, and the loop played sample-exact all along.
    h.run(8);
    const Published after = snapshot(h);
    CHECK_MESSAGE(after == before, "changed later:" << diff(before, after));
    const double centre = std::sqrt(0.5);
    std::size_t exact = 0;
    for (uint64_t f = 128; f < h.frame; ++f) {
        REQUIRE(h.out_l[f] == doctest::Approx(x[(f - 128) % x.size()] * centre).epsilon(1e-6));
        ++exact;
    }
    uint32_t count = 0;
    lr_param_table(&count);
    std::printf("reject: %zu rows (%zu sent now, %zu for a future frame) over %d command types + unknown types and "
                "all %u params: each rejected with its code and a message, published state unchanged, loop exact for "
                "%zu frames\n", rows.size(), rows.size(), scheduled, LR_CMD_TYPE_COUNT - 1, count, exact);
    for (const auto& [name, n] : per_type) std::printf("  %-12s %d rows\n", name.c_str(), n);
    CHECK(per_type.size() == LR_CMD_TYPE_COUNT);  // 18 types + "unknown type"
}
