// libFuzzer target for the command path: rt::validate_command() and a real
// AudioCore (the unit-test harness: a segment, client places, process()
// periods), so decode -> validate -> handle -> schedule -> apply -> render runs
// on every input. Built twice: with clang -fsanitize=fuzzer,address,undefined
// (the fuzzer) and with g++ plus replay_main.cpp (replays tests/fuzz/corpus in
// CI). How to run it: tests/fuzz/README.md.
//
// Input: byte 0 chooses the mode.
//  even: COMMANDS. Records of [ctrl][128 bytes = lr_command up to `text`]
//        [if ctrl & 0x80: n, n bytes of text]; the id is replaced by a unique
//        one (or 0 when ctrl & 0x40). Each command goes through
//        validate_command() and then through client 0's ring into the core;
//        after each record (ctrl & 3) periods run. Checked: every command gets
//        exactly one answer with its id; an accepted command passes the
//        validator's own rules (slot in range, finite values, ...); rejected
//        ones come with a message; published params stay inside the table's
//        ranges; the output stays finite.
//  odd:  MEMORY. A hostile client (place 0) scribbles over its own place:
//        ops [op][...] write bytes anywhere in the place (indices, state,
//        owner, generation, command bodies), set ring indices, push raw
//        commands, run periods, mark the place closing. Meanwhile a
//        well-behaved client (place 1) sends pings; every one of them must be
//        answered, in order, and the engine must never touch memory outside
//        the segment (ASan) nor hit undefined behaviour (UBSan).
// A violated check calls abort() with a message, which libFuzzer reports.
#include "command.hpp"
#include "audio_core.hpp"
#include "ring.hpp"
#include "segment.hpp"
#include "../harness/core_harness.hpp"

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <unistd.h>
#include <vector>

using namespace looprig;

namespace {

constexpr uint32_t kSlots = 4;
constexpr std::size_t kFields = offsetof(lr_command, text);  // 128 bytes of fields

[[noreturn]] void fail(const char* what, uint64_t a = 0, uint64_t b = 0) {
    std::fprintf(stderr, "fuzz_commands: check failed: %s (%llu, %llu)\n", what, static_cast<unsigned long long>(a),
                 static_cast<unsigned long long>(b));
    std::abort();
}

/// Reads bytes off the input; past the end it yields zeros.
struct Reader {
    const uint8_t* p;
    std::size_t n;
    std::size_t pos = 0;
    bool more() const { return pos < n; }
    uint8_t u8() { return pos < n ? p[pos++] : 0; }
    uint32_t u32() {
        uint32_t v = 0;
        for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(u8()) << (8 * i);
        return v;
    }
    void bytes(void* dst, std::size_t len) {
        auto* d = static_cast<uint8_t*>(dst);
        for (std::size_t i = 0; i < len; ++i) d[i] = u8();
    }
};

using test::make_sample;  // the shared harness's (tests/harness/core_rig.hpp)

/// The unit-test harness pattern (tests/harness/core_harness.hpp) made lean for
/// fuzzing: a segment, client place 0 attached, a core with small buffers
/// (max period 256, 0.5 s delay line), outputs checked instead of recorded.
struct Harness {
    std::unique_ptr<shm::Segment> segment;
    std::unique_ptr<AudioCore> core;
    shm::RingProducer<lr_command> commands;
    shm::RingConsumer<lr_event> events;
    uint64_t frame;
    uint32_t period = 64;
    uint32_t next_id = 1;
    std::vector<float> out[2], slots[2][kSlots], bus[2 * (LR_GROUPS + 2 * LR_SENDS)];

    explicit Harness(uint64_t start_frame) : frame(start_frame) {
        static int counter = 0;
        segment = shm::Segment::create("fuzz-" + std::to_string(getpid()) + "-" + std::to_string(counter++), kSlots);
        CoreConfig cfg;
        cfg.slot_count = kSlots;
        cfg.max_frames = 256;
        cfg.declick_frames = 0;
        cfg.smooth_frames = 64;
        cfg.max_delay_seconds = 0.5;
        core = std::make_unique<AudioCore>(*segment, cfg);
        lr_client_place* c = segment->client(0);
        c->owner_pid = static_cast<uint32_t>(getpid());
        c->state = LR_CLIENT_ACTIVE;
        commands = shm::RingProducer<lr_command>(&c->cmd, c->commands, LR_CMD_RING_SIZE);
        events = shm::RingConsumer<lr_event>(&c->evt, c->events, LR_EVT_RING_SIZE);
        for (auto& v : out) v.assign(256, 0.0f);
        for (auto& side : slots)
            for (auto& v : side) v.assign(256, 0.0f);
        for (auto& v : bus) v.assign(256, 0.0f);
    }

    void install(int slot, Sample* s) {
        LoadResult r;
        r.slot = slot;
        r.sample = s;
        r.id = next_id++;
        if (!core->load_results().push(r)) delete s;
    }

    /// One period; the output must be finite (every param in range keeps it so).
    void run() {
        float* sl[kSlots];
        float* sr[kSlots];
        for (uint32_t i = 0; i < kSlots; ++i) {
            sl[i] = slots[0][i].data();
            sr[i] = slots[1][i].data();
        }
        CoreOutputs o;
        o.master[0] = out[0].data();
        o.master[1] = out[1].data();
        o.slot_left = sl;
        o.slot_right = sr;
        int b = 0;
        for (int c = 0; c < 2; ++c) {
            for (int g = 0; g < LR_GROUPS; ++g) o.group[g][c] = bus[b++].data();
            for (int k = 0; k < LR_SENDS; ++k) {
                o.send[k][c] = bus[b++].data();
                o.fx_return[k][c] = bus[b++].data();
            }
        }
        core->process(period, frame, o);
        for (int c = 0; c < 2; ++c)
            for (uint32_t i = 0; i < period; ++i)
                if (!std::isfinite(out[c][i])) fail("non-finite master output", frame + i, static_cast<uint64_t>(c));
        frame += period;
    }

    std::vector<lr_event> drain() {
        std::vector<lr_event> all;
        lr_event e{};
        while (events.pop_into(&e)) all.push_back(e);
        return all;
    }
};

/// The threads around the core, played synchronously between periods: the
/// loader answers (an error or a short loop), the renderer (a short render or
/// a refusal), the housekeeping that frees samples.
void service(AudioCore& core, uint32_t& counter) {
    LoadRequest req;
    while (core.load_requests().pop_into(&req)) {
        LoadResult r;
        r.client = req.client;
        r.generation = req.generation;
        r.id = req.id;
        r.slot = req.slot;
        const std::size_t len = std::strlen(req.path);
        if (len % 3 == 0) {
            r.code = LR_E_FILE;
            std::snprintf(r.message, sizeof r.message, "cannot open %.100s", req.path);
        } else {
            const uint32_t frames = 17 + static_cast<uint32_t>(len % 500);
            std::vector<float> l(frames);
            for (uint32_t i = 0; i < frames; ++i) l[i] = 0.5f * std::sin(0.1f * static_cast<float>(i));
            r.sample = make_sample(std::move(l));
            std::snprintf(r.message, sizeof r.message, "loaded");
        }
        if (!core.load_results().push(r)) delete r.sample;
    }
    RenderRequest q;
    while (core.render_requests().pop_into(&q)) {
        RenderAnswer a;
        a.slot = q.slot;
        a.generation = q.generation;
        a.source = q.source;
        a.target_frames = q.target_frames;
        a.pitch_scale = q.pitch_scale;
        if (q.target_frames > 0 && q.target_frames <= (1u << 15) && (++counter & 1)) {
            std::vector<float> l(q.target_frames, 0.25f);
            a.render = make_sample(std::move(l));
        }
        if (!core.render_answers().push(a)) fail("render answer queue full");
    }
    // The session worker: a save is answered done (after the audio thread
    // snapshot the rig), an open refused, as if its folder were unreadable.
    SessionJob& job = core.queues().session;
    if (job.stage.load(std::memory_order_acquire) == SessionJob::kRequested) {
        job.stage.store(SessionJob::kWorking, std::memory_order_release);
        const bool save = job.type == LR_CMD_SESSION_SAVE;
        job.code = save ? LR_OK : LR_E_FILE;
        std::snprintf(job.message, sizeof job.message, "%s", save ? "saved" : "cannot open the session");
        job.stage.store(SessionJob::kAnswerReady, std::memory_order_release);
    }
    Sample* g = nullptr;
    while (core.garbage().pop_into(&g)) delete g;
}

/// Published state must stay inside what the validator allows.
void check_published(Harness& h) {
    uint32_t count = 0;
    const lr_param_desc* table = lr_param_table(&count);
    const lr_slot_params* sp = h.segment->slot_params();
    const lr_mix_meter* mm = h.segment->mix_meter();
    const lr_slot_meter* sm = h.segment->slot_meters();
    for (uint32_t k = 0; k < count; ++k) {
        const lr_param_desc& p = table[k];
        auto in_range = [&](float v) {
            if ((p.flags & LR_PARAM_F_ZERO_OFF) && v == 0.0f) return true;  // 0 = off / not set
            return std::isfinite(v) && v >= static_cast<float>(p.min) - 1e-3f * std::fabs(static_cast<float>(p.min)) - 1e-6f &&
                   v <= static_cast<float>(p.max) + 1e-3f * std::fabs(static_cast<float>(p.max)) + 1e-6f;
        };
        if (p.target == LR_TARGET_SLOT) {
            for (uint32_t s = 0; s < kSlots; ++s)
                if (!in_range(sp[s].value[p.id])) fail("published slot param out of its range", p.id, s);
        } else if (p.target == LR_TARGET_GROUP) {
            for (uint32_t g = 0; g < LR_GROUPS; ++g)
                if (!in_range(mm->group_params[g][p.id - LR_P_GROUP_BASE])) fail("published group param out of range", p.id, g);
        } else if (!in_range(mm->global_params[p.id - LR_P_GLOBAL_BASE])) {
            fail("published global param out of range", p.id);
        }
    }
    for (uint32_t s = 0; s < kSlots; ++s) {
        if (!(sm[s].gain_db >= -144.0f && sm[s].gain_db <= 24.0f)) fail("published gain out of range", s);
        if (!(sm[s].pan >= -1.0f && sm[s].pan <= 1.0f)) fail("published pan out of range", s);
        if (sm[s].state > LR_SLOT_PLAYING) fail("published slot state", s, sm[s].state);
    }
    const lr_meter_header* m = h.segment->meter_header();
    if (!(m->tempo_bpm >= 20.0 && m->tempo_bpm <= 400.0)) fail("published tempo out of range");
    if (m->beats_per_bar < 1 || m->beats_per_bar > 32) fail("published meter out of range", m->beats_per_bar);
}

/// What validate_command() promises about a command it accepts.
void check_accepted(const lr_command& c) {
    const uint32_t t = c.type;
    if (t == LR_CMD_NOP || t >= LR_CMD_TYPE_COUNT) fail("accepted an unknown type", t);
    if (c.id == 0) fail("accepted id 0");
    if (c.flags & ~uint32_t{LR_CMD_F_AT | LR_CMD_F_BATCH}) fail("accepted unknown flags", c.flags);
    if (c.text_len > LR_TEXT_MAX) fail("accepted a text length beyond the buffer", c.text_len);
    if (rt::command_takes_slot(t) && (c.slot < 0 || static_cast<uint32_t>(c.slot) >= kSlots)) fail("accepted a bad slot", t);
    const double v = c.value[0];
    switch (t) {
        case LR_CMD_GAIN: case LR_CMD_PAN: case LR_CMD_TEMPO: case LR_CMD_TIME_SIGNATURE: case LR_CMD_PITCH:
        case LR_CMD_DECLICK: case LR_CMD_PARAM: case LR_CMD_MUTE: case LR_CMD_SOLO: case LR_CMD_MODE:
        case LR_CMD_TRANSPORT:
            if (!std::isfinite(v)) fail("accepted a non-finite value", t);
            break;
        case LR_CMD_LOOP_TEMPO:
            if (!std::isfinite(v) || !std::isfinite(c.value[1])) fail("accepted a non-finite loop tempo");
            break;
        default: break;
    }
    if (t == LR_CMD_PARAM) {
        const lr_param_desc* p = lr_param_info(c.param);
        if (!p) fail("accepted an unknown param", c.param);
        if (v < p->min || v > p->max) fail("accepted a param value out of range", c.param);
        if (p->target == LR_TARGET_GROUP && (c.slot < 0 || c.slot >= LR_GROUPS)) fail("accepted a bad group", c.param);
        if (p->target == LR_TARGET_SLOT && (c.slot < 0 || static_cast<uint32_t>(c.slot) >= kSlots)) fail("accepted a bad slot (param)");
    }
    if (t == LR_CMD_LOAD && (c.text_len == 0 || c.text_len >= LR_TEXT_MAX)) fail("accepted a load without a path");
    if (c.quantize == LR_Q_SLOT && c.quantize_arg >= kSlots) fail("accepted a bad quantize slot");
    if (c.quantize > LR_Q_BAR) fail("accepted an unknown quantize mode", c.quantize);
}

/// Validates one command standalone (message always terminated, deterministic).
int validate(const lr_command& c) {
    char msg[LR_MESSAGE_MAX];
    std::memset(msg, 'x', sizeof msg);
    rt::Text why(msg, sizeof msg);
    const int code = rt::validate_command(c, kSlots, why);
    if (std::memchr(msg, '\0', sizeof msg) == nullptr) fail("validator message not terminated");
    if (code == LR_OK) {
        check_accepted(c);
    } else {
        if (code < LR_E_UNKNOWN_COMMAND || code > LR_E_INTERNAL) fail("unknown error code", static_cast<uint64_t>(code));
        if (std::strlen(msg) < 4) fail("rejected without a message", static_cast<uint64_t>(code));
    }
    char msg2[LR_MESSAGE_MAX];
    rt::Text why2(msg2, sizeof msg2);
    if (rt::validate_command(c, kSlots, why2) != code || std::strcmp(msg, msg2) != 0) fail("validator not deterministic");
    return code;
}

struct Pending {
    uint32_t id;
    int code;  // validator's verdict
};

void run_commands(Reader& in) {
    Harness h(1000 + uint64_t{in.u8()} * 4096);
    std::vector<float> loop(97);
    for (std::size_t i = 0; i < loop.size(); ++i) loop[i] = 0.3f * std::cos(0.2f * static_cast<float>(i));
    h.install(0, make_sample(loop));
    h.install(1, make_sample(loop, loop));
    uint32_t counter = 0;
    h.run();
    service(*h.core, counter);
    h.drain();  // nothing for client 0 (installs answer the harness's own ids only if its place is active)

    std::vector<Pending> sent;
    std::vector<lr_event> got;
    auto collect = [&] {
        for (const auto& e : h.drain()) got.push_back(e);
    };
    auto period = [&](uint32_t n) {
        for (uint32_t i = 0; i < n; ++i) {
            h.run();
            service(*h.core, counter);
            collect();
        }
    };
    uint32_t commands = 0;
    while (in.more() && commands < 256) {
        const uint8_t ctrl = in.u8();
        lr_command c{};
        in.bytes(&c, kFields);
        if (ctrl & 0x80) in.bytes(c.text, in.u8());
        // Ids are the harness's, unique (repeats are legal but make answers ambiguous); 0x40 sends id 0.
        c.id = (ctrl & 0x40) ? 0 : 0x10000 + commands;
        ++commands;
        const int code = validate(c);
        if (c.id != 0) {
            // Id 0 is answered with an error event whose id is 0, like the engine's unsolicited ones.
            sent.push_back({c.id, code});
        }
        while (!h.commands.push(c)) period(1);
        period(ctrl & 3);
        if (ctrl & 0x20) period(20);  // let scheduled actions come due
    }
    // Let everything be answered (loads by the stand-in loader one period later).
    for (int i = 0; i < 8; ++i) period(1);
    check_published(h);

    // Exactly one answer per command, in order for each id, with the validator's verdict.
    std::size_t answered = 0;
    for (const auto& p : sent) {
        const lr_event* match = nullptr;
        for (auto& e : got)
            if (e.id == p.id && e.id != 0 && e.type != 0) {
                match = &e;
                break;
            }
        if (!match) fail("command never answered", p.id);
        if (p.code != LR_OK && (match->type != LR_EVT_ERROR || match->code != p.code))
            fail("engine's verdict differs from the validator's", p.id, static_cast<uint64_t>(match->code));
        if (match->type != LR_EVT_ACK && match->type != LR_EVT_ERROR) fail("answer is neither ack nor error", p.id);
        if (std::memchr(match->message, '\0', LR_MESSAGE_MAX) == nullptr) fail("event message not terminated");
        const_cast<lr_event*>(match)->type = 0;  // consumed (ids may repeat)
        ++answered;
    }
    if (answered != sent.size()) fail("answer count", answered, sent.size());
}

void run_memory(Reader& in) {
    Harness h(5000);
    std::vector<float> loop(131, 0.25f);
    h.install(0, make_sample(loop));
    uint32_t counter = 0;
    // Place 1: the well-behaved client.
    lr_client_place* good = h.segment->client(1);
    good->owner_pid = 1;
    good->state = LR_CLIENT_ACTIVE;
    shm::RingProducer<lr_command> good_cmd(&good->cmd, good->commands, LR_CMD_RING_SIZE);
    shm::RingConsumer<lr_event> good_evt(&good->evt, good->events, LR_EVT_RING_SIZE);
    uint32_t good_next = 1, good_answered = 0;
    auto good_drain = [&] {
        lr_event e{};
        while (good_evt.pop_into(&e)) {
            if (e.id != good_answered + 1 || e.type != LR_EVT_ACK) fail("good client: wrong answer", e.id, good_answered + 1);
            ++good_answered;
        }
    };
    auto good_ping = [&] {
        lr_command c{};
        c.id = good_next;
        c.type = LR_CMD_PING;
        if (good_cmd.push(c)) ++good_next;
    };
    lr_client_place* bad = h.segment->client(0);
    auto* bad_bytes = reinterpret_cast<uint8_t*>(bad);
    auto period = [&](uint32_t n) {
        for (uint32_t i = 0; i < n; ++i) {
            h.run();
            service(*h.core, counter);
            lr_event e{};
            while (h.events.pop_into(&e)) {
                if (std::memchr(e.message, '\0', LR_MESSAGE_MAX) == nullptr) fail("event message not terminated");
            }
            good_drain();
        }
    };
    uint32_t ops = 0;
    while (in.more() && ops < 512) {
        ++ops;
        const uint8_t op = in.u8();
        switch (op % 8) {
            case 0: {  // write bytes anywhere in the hostile place
                const uint32_t off = in.u32() % sizeof(lr_client_place);
                const uint32_t len = std::min<uint32_t>(in.u8(), sizeof(lr_client_place) - off);
                in.bytes(bad_bytes + off, len);
                break;
            }
            case 1: {  // write bytes into the header and ring indices (most interesting part)
                const uint32_t off = in.u8() % offsetof(lr_client_place, commands);
                const uint32_t len = std::min<uint32_t>(1 + in.u8() % 16, offsetof(lr_client_place, commands) - off);
                in.bytes(bad_bytes + off, len);
                break;
            }
            case 2:  // command ring write index (what the engine trusts least)
                shm::store_release(bad->cmd.write, in.u32());
                break;
            case 3:  // the indices the engine publishes
                if (in.u8() & 1) shm::store_release(bad->cmd.read, in.u32());
                else shm::store_release(bad->evt.read, in.u32());
                if (in.u8() & 1) shm::store_release(bad->evt.write, in.u32());
                break;
            case 4: {  // a command body written in place, then published
                lr_command* slot_cmd = &bad->commands[in.u8() % LR_CMD_RING_SIZE];
                in.bytes(slot_cmd, kFields);
                if (in.u8() & 1) shm::store_release(bad->cmd.write, shm::load_acquire(bad->cmd.write) + 1);
                break;
            }
            case 5: {  // state changes: active / closing / nonsense, owner, generation
                const uint8_t what = in.u8();
                if (what % 3 == 0) shm::store_release(bad->state, what / 3 % 4);
                else if (what % 3 == 1) shm::store_release(bad->owner_pid, in.u32());
                else bad->generation = in.u32();
                break;
            }
            case 6:  // the good client sends
                good_ping();
                if (op & 0x80) good_ping();
                break;
            default:  // time passes
                period(1 + (op >> 3) % 4);
                break;
        }
    }
    // The good client must get every answer.
    for (int i = 0; i < 4; ++i) good_ping();
    for (int i = 0; i < 16 && good_answered + 1 < good_next; ++i) period(1);
    if (good_answered + 1 != good_next) fail("good client lost answers", good_answered, good_next - 1);
    // The hostile place is reclaimed once it says it is closing; a fresh client then works.
    shm::store_release(bad->state, LR_CLIENT_CLOSING);
    period(1);
    if (shm::load_acquire(bad->state) != LR_CLIENT_FREE) fail("closing place not freed");
    shm::RingProducer<lr_command> fresh_cmd(&bad->cmd, bad->commands, LR_CMD_RING_SIZE);
    shm::RingConsumer<lr_event> fresh_evt(&bad->evt, bad->events, LR_EVT_RING_SIZE);
    fresh_evt.discard_all();
    bad->owner_pid = 2;
    shm::store_release(bad->state, LR_CLIENT_ACTIVE);
    lr_command c{};
    c.id = 777;
    c.type = LR_CMD_PING;
    if (!fresh_cmd.push(c)) fail("fresh client cannot send");
    bool ok = false;
    for (int i = 0; i < 4 && !ok; ++i) {
        h.run();
        service(*h.core, counter);
        lr_event e{};
        for (;;) {
            const lr_event* ev = nullptr;
            const auto r = fresh_evt.peek(&ev);
            if (r == shm::RingConsumer<lr_event>::Peek::empty) break;
            if (r == shm::RingConsumer<lr_event>::Peek::corrupt) {  // what lr_client_poll does
                fresh_evt.discard_all();
                break;
            }
            e = *ev;
            fresh_evt.pop();
            if (e.id == 777 && e.type == LR_EVT_ACK) ok = true;
        }
    }
    if (!ok) fail("fresh client on a reclaimed place got no answer");
    check_published(h);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    Reader in{data, size, 1};
    if (data[0] & 1) run_memory(in);
    else run_commands(in);
    return 0;
}
