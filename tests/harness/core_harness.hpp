// Drives an AudioCore directly (no JACK): a segment, one client place, and
// output captured by absolute frame. For unit tests only (built on
// core_rig.hpp, which the benchmark shares).
#pragma once

#include "core_rig.hpp"

#include <memory>
#include <string>
#include <unistd.h>
#include <vector>

namespace looprig::test {

/// The rig (segment, core, client place 0: core_rig.hpp) and the outputs of
/// every period run so far.
struct CoreHarness : CoreRig {
    uint64_t frame = 0;
    uint32_t period = 64;
    uint32_t next_id = 1;
    std::vector<float> out_l, out_r;            // indexed by absolute frame
    std::vector<std::vector<float>> slot_l, slot_r;
    /// Bus outs by absolute frame: groups 0..7, then sends (kSend + k), then returns (kReturn + k).
    static constexpr int kSend = LR_GROUPS, kReturn = LR_GROUPS + LR_SENDS, kBuses = LR_GROUPS + 2 * LR_SENDS;
    std::vector<float> bus[kBuses][2];

    explicit CoreHarness(uint32_t slots = 8, uint32_t declick = 0, uint64_t start_frame = 1000,
                         uint32_t smooth = 960, double pan_law_db = -3.0)
        : CoreRig(next_segment_name(), config(slots, declick, smooth, pan_law_db)), frame(start_frame) {
        slot_l.resize(slots);
        slot_r.resize(slots);
    }

    static std::string next_segment_name() {
        static int counter = 0;
        return "unit-core-" + std::to_string(getpid()) + "-" + std::to_string(counter++);
    }
    static CoreConfig config(uint32_t slots, uint32_t declick, uint32_t smooth, double pan_law_db) {
        CoreConfig cfg;
        cfg.slot_count = slots;
        cfg.declick_frames = declick;
        cfg.smooth_frames = smooth;
        cfg.pan_law_db = pan_law_db;
        return cfg;
    }

    /// Hand a sample to the core as if the loader had made it.
    void install(int slot, Sample* s) { core->load_results().push(load_result(slot, s, next_id++)); }

    uint32_t send(uint16_t type, int32_t slot = 0, double value = 0.0, bool at = false, uint64_t at_frame = 0,
                  uint32_t quantize = LR_Q_NONE, uint64_t quantize_arg = 0) {
        lr_command c = make_command(type, slot, value, at, at_frame, quantize, quantize_arg);
        c.id = next_id++;
        push(c);
        return c.id;
    }

    /// LR_CMD_PARAM `id` = v for slot/group `target` (ignored for global params).
    uint32_t param(uint32_t id, int32_t target, double v, bool at = false, uint64_t at_frame = 0) {
        lr_command c = make_param(id, target, v, at, at_frame);
        c.id = next_id++;
        push(c);
        return c.id;
    }

    /// Queue a command; when the ring is full, let the core run a period first.
    void push(const lr_command& c) {
        while (!commands.push(c)) run(1);
    }

    /// Run `n` periods, appending the outputs.
    void run(uint32_t n) {
        std::vector<float> l(period), r(period);
        std::vector<std::vector<float>> sl(slot_l.size(), std::vector<float>(period)),
            sr(slot_l.size(), std::vector<float>(period));
        std::vector<float*> slp, srp;
        for (std::size_t i = 0; i < sl.size(); ++i) {
            slp.push_back(sl[i].data());
            srp.push_back(sr[i].data());
        }
        std::vector<float> bus_period[kBuses][2];
        for (auto& b : bus_period)
            for (auto& c : b) c.assign(period, 0.0f);
        for (uint32_t p = 0; p < n; ++p) {
            CoreOutputs o;
            o.master[0] = l.data();
            o.master[1] = r.data();
            o.slot_left = slp.data();
            o.slot_right = srp.data();
            for (int c = 0; c < 2; ++c) {
                for (int g = 0; g < LR_GROUPS; ++g) o.group[g][c] = bus_period[g][c].data();
                for (int k = 0; k < LR_SENDS; ++k) {
                    o.send[k][c] = bus_period[kSend + k][c].data();
                    o.fx_return[k][c] = bus_period[kReturn + k][c].data();
                }
            }
            if (out_l.size() < frame) {
                out_l.resize(frame, 0.0f);
                out_r.resize(frame, 0.0f);
                for (auto& v : slot_l) v.resize(frame, 0.0f);
                for (auto& v : slot_r) v.resize(frame, 0.0f);
                for (auto& b : bus)
                    for (auto& c : b) c.resize(frame, 0.0f);
            }
            core->process(period, frame, o);
            for (int b = 0; b < kBuses; ++b)
                for (int c = 0; c < 2; ++c) bus[b][c].insert(bus[b][c].end(), bus_period[b][c].begin(), bus_period[b][c].end());
            out_l.insert(out_l.end(), l.begin(), l.end());
            out_r.insert(out_r.end(), r.begin(), r.end());
            for (std::size_t i = 0; i < sl.size(); ++i) {
                slot_l[i].insert(slot_l[i].end(), sl[i].begin(), sl[i].end());
                slot_r[i].insert(slot_r[i].end(), sr[i].begin(), sr[i].end());
            }
            frame += period;
        }
    }

    /// All events so far.
    std::vector<lr_event> drain() {
        std::vector<lr_event> all;
        lr_event e{};
        while (events.pop_into(&e)) all.push_back(e);
        return all;
    }
    lr_event event_for(uint32_t id) {
        for (const auto& e : drain())
            if (e.id == id) return e;
        return lr_event{};
    }
};

}  // namespace looprig::test
