// Loads: a slot's loaded audio and the traffic with the loader thread. Owns
// LoadedSample (the sample a slot holds and the lr_slot_info published about
// it) and Loads: LR_CMD_LOAD (a LoadRequest for the loader, or "busy"),
// installing the loader's results (the new sample swapped in on the slot's
// grid, the client answered if it is still there) and LR_CMD_UNLOAD. Every
// function but the constructor runs on the audio thread and is RT safe (no
// allocation, locks, blocking, I/O); each says so.
#pragma once

#include "../worker_queues.hpp"
#include "looprig/shm_layout.h"

#include <atomic>
#include <cstdint>
#include <vector>

namespace looprig::shm {
class Segment;
}

namespace looprig::rt {

class ClientProtocol;
class SampleRefs;
class SlotMixer;
class SteadyRenders;
class Voices;
struct Slot;

/// What a slot has loaded.
struct LoadedSample {
    Sample* sample = nullptr;
    bool info_dirty = true;  // `info` to be published
    lr_slot_info info{};
};

class Loads {
public:
    /// The units a load touches when it is installed. Not RT safe.
    Loads(shm::Segment& segment, WorkerQueues& queues, ClientProtocol& protocol, SampleRefs& refs, Voices& voices,
          SteadyRenders& renders, SlotMixer& mixer, const std::atomic<uint32_t>& sample_rate);

    /// LR_CMD_LOAD (validated) of the client at `place`: queue it for the
    /// loader (answered when its result is installed), or answer LR_E_BUSY. RT safe.
    void request_load(uint32_t place, const lr_command& cmd, uint64_t frame0);
    /// Install the loader's results at frame0 and answer their clients (if
    /// still there: same place, same generation). RT safe.
    void install_loads(std::vector<Slot>& slots, uint64_t frame0);
    /// LR_CMD_UNLOAD (validated): fade out, drop the sample, answer. RT safe.
    void unload(std::vector<Slot>& slots, uint32_t place, const lr_command& cmd, uint64_t frame0);
    /// A session being opened: the slot stops (fading out) and holds `fresh`
    /// (adopted: referenced here), or nothing if null. RT safe.
    void replace_stopped(std::vector<Slot>& slots, int32_t slot, Sample* fresh, uint64_t frame0);
    /// A session saved the slot's loop at `path`: the slot shows that path
    /// (and its file name), as it will after the session is opened. RT safe.
    static void show_saved_path(Slot& s, const char* path);

private:
    /// `fresh` becomes what slot `s` holds and publishes (the old one is
    /// released by the caller). RT safe.
    void hold(std::vector<Slot>& slots, Slot& s, Sample* fresh);

    shm::Segment& segment_;
    WorkerQueues& queues_;
    ClientProtocol& protocol_;
    SampleRefs& refs_;
    Voices& voices_;
    SteadyRenders& renders_;
    SlotMixer& mixer_;
    const std::atomic<uint32_t>& sample_rate_;
    char message_[LR_MESSAGE_MAX] = {};
};

}  // namespace looprig::rt
