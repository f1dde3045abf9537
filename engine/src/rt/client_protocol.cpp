// The audio thread's side of the client protocol (client_protocol.hpp).
// Audio thread only, except the constructor; everything else is RT safe.
#include "client_protocol.hpp"

#include "segment.hpp"

#include <algorithm>
#include <cstddef>
#include <cstring>

namespace looprig::rt {

using shm::RingConsumer;
using shm::RingProducer;
using shm::load_acquire;
using shm::store_release;

ClientProtocol::ClientProtocol(shm::Segment& segment) : segment_(segment) {
    for (uint32_t i = 0; i < LR_MAX_CLIENTS; ++i) {
        lr_client_place* c = segment.client(i);
        views_[i].commands = RingConsumer<lr_command>(&c->cmd, c->commands, LR_CMD_RING_SIZE);
        views_[i].events = RingProducer<lr_event>(&c->evt, c->events, LR_EVT_RING_SIZE);
    }
}

void ClientProtocol::reply(uint32_t place, const lr_command& cmd, int type, int code, uint64_t frame,
                           const char* text, double v0, double v1) {
    send_event(place, cmd.id, static_cast<uint16_t>(type), cmd.type, cmd.slot, code, frame, text, v0, v1);
}

bool ClientProtocol::send_event(uint32_t place, uint32_t id, uint16_t type, uint16_t command, int32_t slot,
                                int32_t code, uint64_t frame, const char* text, double v0, double v1) {
    if (place == kControllerPlace) {
        if (type == LR_EVT_ERROR) {
            ControllerRefusal r;
            std::strncpy(r.message, text, LR_MESSAGE_MAX - 1);
            controller_refusals_.push(r);  // full: the log misses one, nothing else does
        }
        return true;
    }
    ClientView& view = views_[place];
    lr_event* ev = view.events.claim();
    if (!ev) {
        lr_client_place* c = segment_.client(place);
        c->events_dropped = c->events_dropped + 1;
        return false;
    }
    std::memset(ev, 0, offsetof(lr_event, message));
    ev->id = id;
    ev->type = type;
    ev->command = command;
    ev->slot = slot;
    ev->code = code;
    ev->frame = frame;
    ev->value[0] = v0;
    ev->value[1] = v1;
    ev->seq = ++view.event_seq;
    const std::size_t n = std::min<std::size_t>(std::strlen(text), LR_MESSAGE_MAX - 1);
    std::memcpy(ev->message, text, n);
    ev->message[n] = '\0';
    view.events.stage();  // visible at the end of the period, after its meters (publish_events)
    return true;
}

void ClientProtocol::read_commands(uint64_t frame0, CommandSink& sink) {
    uint32_t budget = kCommandsPerPeriod;
    for (uint32_t k = 0; k < LR_MAX_CLIENTS && budget > 0; ++k) {
        const uint32_t i = (cursor_ + k) % LR_MAX_CLIENTS;
        lr_client_place* c = segment_.client(i);
        const uint32_t state = load_acquire(c->state);
        if (state == LR_CLIENT_CLOSING) {
            free_place(i);
            continue;
        }
        if (state != LR_CLIENT_ACTIVE) continue;
        ClientView& view = views_[i];
        // A batch (LR_CMD_F_BATCH on all but its last command) is read whole,
        // past the budget, so that its commands share this period's frame;
        // a batch is at most one command ring long.
        bool in_batch = false;
        uint32_t batch_extra = LR_CMD_RING_SIZE;
        while ((budget > 0 || (in_batch && batch_extra-- > 0)) && view.events.space() > 0) {
            const lr_command* item = nullptr;
            const auto peek = view.commands.peek(&item);
            if (peek == RingConsumer<lr_command>::Peek::empty) break;
            if (peek == RingConsumer<lr_command>::Peek::corrupt) {
                view.commands.discard_all();
                send_event(i, 0, LR_EVT_ERROR, LR_CMD_NOP, -1, LR_E_BAD_MESSAGE, frame0,
                           "command ring indices are corrupt; pending commands discarded", 0, 0);
                break;
            }
            std::memcpy(&command_, item, sizeof(lr_command));
            view.commands.pop();
            if (budget > 0) --budget;
            in_batch = (command_.flags & LR_CMD_F_BATCH) != 0;
            sink.handle(i, command_);
        }
    }
    cursor_ = (cursor_ + 1) % LR_MAX_CLIENTS;
}

void ClientProtocol::publish_events() {
    for (auto& view : views_) view.events.publish();
}

void ClientProtocol::free_place(uint32_t place) {
    lr_client_place* c = segment_.client(place);
    views_[place].events.publish();  // nothing staged may reach the place's next owner
    views_[place].commands.discard_all();
    views_[place].event_seq = 0;  // the next owner's events count from 1
    c->generation = c->generation + 1;
    c->events_dropped = 0;
    store_release(c->state, LR_CLIENT_FREE);
    store_release(c->owner_pid, 0);
}

}  // namespace looprig::rt
