// C ABI for clients: attach/claim a place, send commands, poll events, read meters.
#include "looprig/shm_client.h"

#include "ring.hpp"
#include "segment.hpp"

#include <atomic>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <memory>
#include <new>
#include <string>
#include <unistd.h>

using namespace looprig::shm;

struct lr_client {
    std::unique_ptr<Segment> segment;
    lr_client_place* slot = nullptr;
    int index = -1;
    uint32_t pid = 0;
    uint32_t generation = 0;
    uint32_t next_id = 1;
    RingProducer<lr_command> commands;
    RingConsumer<lr_event> events;
};

namespace {
void write_error(char* err, uint32_t len, const std::string& text) {
    if (err && len > 0) std::snprintf(err, len, "%s", text.c_str());
}

// engine_process_alive() also treats an unreaped (zombie) engine as dead.
bool engine_running(int32_t pid) { return engine_process_alive(pid); }

bool still_ours(const lr_client* c) {
    return load_acquire(c->slot->owner_pid) == c->pid && load_acquire(c->slot->generation) == c->generation &&
           load_acquire(c->slot->state) == LR_CLIENT_ACTIVE;
}
}  // namespace

extern "C" {

int lr_segment_name(const char* engine_name, char* out, uint32_t out_len) {
    try {
        const std::string name = segment_name(engine_name ? engine_name : "");
        if (name.size() + 1 > out_len) return -1;
        std::memcpy(out, name.c_str(), name.size() + 1);
        return static_cast<int>(name.size());
    } catch (const std::exception&) {
        return -1;
    }
}

int lr_client_attach(const char* engine_name, lr_client** out, char* err, uint32_t err_len) {
    *out = nullptr;
    const std::string name = engine_name ? engine_name : "";
    std::unique_ptr<Segment> seg;
    try {
        seg = Segment::open(name);
    } catch (const SegmentError& e) {
        switch (e.kind) {
            case SegmentError::Kind::missing:
                write_error(err, err_len, "no looprig engine named '" + name + "' is running (" + e.what() + ")");
                return LR_ATTACH_NO_ENGINE;
            case SegmentError::Kind::permission:
                write_error(err, err_len, std::string("permission denied: ") + e.what());
                return LR_ATTACH_PERMISSION;
            case SegmentError::Kind::invalid:
                write_error(err, err_len, e.what());
                return LR_ATTACH_BAD_SEGMENT;
            default:
                write_error(err, err_len, e.what());
                return LR_ATTACH_SYSTEM;
        }
    } catch (const std::exception& e) {
        write_error(err, err_len, std::string("cannot attach to '") + name + "': " + e.what());
        return LR_ATTACH_SYSTEM;
    }
    const int32_t engine_pid = seg->header()->engine_pid;
    if (!engine_running(engine_pid)) {
        write_error(err, err_len, "the looprig engine named '" + name + "' (pid " + std::to_string(engine_pid) +
                                      ") is not running; its segment is stale");
        return LR_ATTACH_ENGINE_DEAD;
    }
    auto client = std::make_unique<lr_client>();
    client->pid = static_cast<uint32_t>(::getpid());
    for (uint32_t i = 0; i < LR_MAX_CLIENTS; ++i) {
        lr_client_place* s = seg->client(i);
        if (!compare_exchange(s->owner_pid, 0, client->pid)) continue;
        if (load_acquire(s->state) != LR_CLIENT_FREE) {  // engine has not finished freeing it
            store_release(s->owner_pid, 0);
            continue;
        }
        client->slot = s;
        client->index = static_cast<int>(i);
        client->generation = load_acquire(s->generation);
        // Our ring starts empty where the engine's reading stands: a write index
        // someone scribbled over while the place was free must not make our
        // first commands look corrupt (the engine publishes its read index).
        store_release(s->cmd.write, load_acquire(s->cmd.read));
        client->commands = RingProducer<lr_command>(&s->cmd, s->commands, LR_CMD_RING_SIZE);
        client->events = RingConsumer<lr_event>(&s->evt, s->events, LR_EVT_RING_SIZE);
        client->events.discard_all();  // events of a previous owner are not ours
        store_release(s->state, LR_CLIENT_ACTIVE);
        client->segment = std::move(seg);
        *out = client.release();
        return 0;
    }
    write_error(err, err_len, "all " + std::to_string(LR_MAX_CLIENTS) + " client places of engine '" + name +
                                  "' are taken");
    return LR_ATTACH_NO_CLIENT_SLOT;
}

void lr_client_detach(lr_client* client) {
    if (!client) return;
    if (client->slot && load_acquire(client->slot->owner_pid) == client->pid &&
        load_acquire(client->slot->generation) == client->generation) {
        // The engine discards what is left and frees the place.
        compare_exchange(client->slot->state, LR_CLIENT_ACTIVE, LR_CLIENT_CLOSING);
    }
    delete client;
}

const void* lr_client_base(const lr_client* client) { return client->segment->base(); }
uint64_t lr_client_segment_size(const lr_client* client) { return client->segment->size(); }
int lr_client_index(const lr_client* client) { return client->index; }

int64_t lr_client_send(lr_client* client, lr_command* cmd) {
    if (cmd->text_len > LR_TEXT_MAX) return LR_SEND_TOO_LONG;
    if (!still_ours(client)) return LR_SEND_DETACHED;
    if (cmd->id == 0) {
        cmd->id = client->next_id++;
        if (client->next_id == 0) client->next_id = 1;
    }
    if (!client->commands.push(*cmd)) return LR_SEND_FULL;
    return cmd->id;
}

int64_t lr_client_send_batch(lr_client* client, lr_command* cmds, uint32_t n) {
    if (!cmds || n == 0 || n > LR_CMD_RING_SIZE) return LR_SEND_BAD_BATCH;
    for (uint32_t k = 0; k < n; ++k)
        if (cmds[k].text_len > LR_TEXT_MAX) return LR_SEND_TOO_LONG;
    if (!still_ours(client)) return LR_SEND_DETACHED;
    // All or nothing: the engine must never see part of a batch.
    if (client->commands.space() < n) return LR_SEND_FULL;
    for (uint32_t k = 0; k < n; ++k) {
        lr_command& cmd = cmds[k];
        if (cmd.id == 0) {
            cmd.id = client->next_id++;
            if (client->next_id == 0) client->next_id = 1;
        }
        if (k + 1 < n) cmd.flags |= LR_CMD_F_BATCH;
        else cmd.flags &= ~static_cast<uint32_t>(LR_CMD_F_BATCH);
        lr_command* place = client->commands.claim();  // room was checked above
        std::memcpy(place, &cmd, sizeof(lr_command));
        client->commands.stage();
    }
    client->commands.publish();  // one release-store of the write index: the whole batch at once
    return cmds[0].id;
}

int lr_client_poll(lr_client* client, lr_event* out) {
    for (;;) {
        const lr_event* ev = nullptr;
        switch (client->events.peek(&ev)) {
            case RingConsumer<lr_event>::Peek::empty: return 0;
            case RingConsumer<lr_event>::Peek::corrupt: client->events.discard_all(); return 0;
            case RingConsumer<lr_event>::Peek::item:
                std::memcpy(out, ev, sizeof(lr_event));
                out->message[LR_MESSAGE_MAX - 1] = '\0';
                client->events.pop();
                return 1;
        }
    }
}

int lr_client_read_meters(const lr_client* client, void* dst, uint64_t dst_size) {
    const lr_header* h = client->segment->header();
    const uint64_t size = h->meter_area_size;
    if (dst_size < size) return -1;
    const lr_meter_header* m = client->segment->meter_header();
    for (int attempt = 0; attempt < 10000; ++attempt) {
        const uint32_t before = load_acquire(m->seq);
        if (before & 1u) continue;
        std::memcpy(dst, m, size);
        std::atomic_thread_fence(std::memory_order_acquire);
        if (load_acquire(m->seq) == before) return 0;
    }
    return -1;
}

int lr_client_engine_alive(const lr_client* client) {
    // An engine waiting for its JACK server (LR_ENGINE_JACK_LOST) lives on:
    // it is alive, only its heartbeat stops until the server is back.
    return engine_running(client->segment->header()->engine_pid) ? 1 : 0;
}

uint64_t lr_client_heartbeat_age_usecs(const lr_client* client) {
    const uint64_t last = load_acquire64(client->segment->header()->heartbeat_usecs);
    if (last == 0) return UINT64_MAX;
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    const uint64_t now = static_cast<uint64_t>(ts.tv_sec) * 1000000u + static_cast<uint64_t>(ts.tv_nsec) / 1000u;
    return now > last ? now - last : 0;
}

uint64_t lr_client_frame_time(const lr_client* client) {
    return load_acquire64(client->segment->header()->frame_time);
}

const char* lr_error_name(int code) {
    static const char* const names[] = {"LR_OK",          "LR_E_UNKNOWN_COMMAND", "LR_E_BAD_SLOT",
                                        "LR_E_BAD_VALUE", "LR_E_NOT_LOADED",      "LR_E_FILE",
                                        "LR_E_FORMAT",    "LR_E_EMPTY",           "LR_E_BUSY",
                                        "LR_E_SCHEDULE_FULL", "LR_E_BAD_MESSAGE", "LR_E_QUANTIZE",
                                        "LR_E_TOO_LARGE", "LR_E_INTERNAL"};
    if (code < 0 || code >= static_cast<int>(sizeof(names) / sizeof(names[0]))) return "LR_E_?";
    return names[code];
}

}  // extern "C"
