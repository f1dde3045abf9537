// The audio thread's side of the client protocol: each client's place in the
// segment (its command ring, read here; its event ring, written here),
// reading commands (a fair share per period, batches whole, never more than
// the client has room to be answered in), answers and notices (staged, made
// visible at the end of the period after its meters), and freeing the place
// of a client that closed. What a command does is the CommandSink's business
// (Actions). Every function but the constructor runs on the audio thread and
// is RT safe (no allocation, locks, blocking, I/O); each says so.
#pragma once

#include "../spsc_queue.hpp"

#include "ring.hpp"
#include "looprig/shm_layout.h"

#include <cstdint>

namespace looprig::shm {
class Segment;
}

namespace looprig::rt {

/// Commands read per period at most (a batch may go past it): bounds the time spent on commands.
constexpr uint32_t kCommandsPerPeriod = 64;

/// The place of commands made inside the engine (MIDI controllers,
/// rt/midi_control.hpp): no client answers them; refusals go to the log.
constexpr uint32_t kControllerPlace = 0xFFFFFFFFu;

/// A refusal of a controller's command, for the log.
struct ControllerRefusal {
    char message[LR_MESSAGE_MAX] = {};
};

/// Where the commands that were read go.
class CommandSink {
public:
    /// Handle one command of the client at `place`; it must be answered (the
    /// event ring has room for one answer). RT safe.
    virtual void handle(uint32_t place, const lr_command& cmd) = 0;

protected:
    ~CommandSink() = default;
};

/// The engine's ends of one place's rings.
struct ClientView {
    shm::RingConsumer<lr_command> commands;
    shm::RingProducer<lr_event> events;
    uint64_t event_seq = 0;
};

class ClientProtocol {
public:
    /// Not RT safe.
    explicit ClientProtocol(shm::Segment& segment);

    /// Read the active clients' commands (up to kCommandsPerPeriod, starting
    /// one place further each period; a batch whole) into `sink`; free the
    /// places of clients that closed. `frame0`: this period's first frame. RT safe.
    void read_commands(uint64_t frame0, CommandSink& sink);

    /// Answer `cmd` of the client at `place` (staged). RT safe.
    void reply(uint32_t place, const lr_command& cmd, int type, int code, uint64_t frame, const char* text,
               double v0 = 0.0, double v1 = 0.0);
    /// Stage an event for the client at `place`; false (and its
    /// events_dropped counted) if its event ring is full. RT safe.
    bool send_event(uint32_t place, uint32_t id, uint16_t type, uint16_t command, int32_t slot, int32_t code,
                    uint64_t frame, const char* text, double v0, double v1);
    /// Make this period's answers and notices visible: after the meters, so a
    /// client that sees an answer then reads meters that include its effect. RT safe.
    void publish_events();
    /// Give a closed client's place back (nothing staged or pending reaches
    /// its next owner; generation bumped). RT safe.
    void free_place(uint32_t place);
    /// Refusals of controllers' commands (kControllerPlace): audio thread -> housekeeping.
    SpscQueue<ControllerRefusal>& controller_refusals() { return controller_refusals_; }

private:
    shm::Segment& segment_;
    ClientView views_[LR_MAX_CLIENTS];
    SpscQueue<ControllerRefusal> controller_refusals_{64};
    uint32_t cursor_ = 0;  // the place read first
    lr_command command_{};  // the command being handled, copied out of its ring
};

}  // namespace looprig::rt
