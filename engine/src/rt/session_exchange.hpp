// Sessions, the audio thread's side: LR_CMD_SESSION_SAVE / OPEN become the
// session job (worker_queues.hpp: SessionJob) for the session worker, which
// writes and reads the files. Once per period serve() does what the job's
// stage asks of the audio thread: snapshot the rig for a save (values and
// references to the slots' samples), install an opened rig in one period
// (loops, every param, tempo, the playing slots started on one frame), and
// post the worker's answer to the client. Every function but the constructor
// runs on the audio thread and is RT safe (no allocation, locks, blocking,
// I/O); each says so.
#pragma once

#include "../worker_queues.hpp"
#include "looprig/shm_layout.h"

#include <cstdint>
#include <vector>

namespace looprig::shm {
class Segment;
}

namespace looprig::rt {

class Actions;
class ClientProtocol;
class Loads;
class MusicalGrid;
class SampleRefs;
struct Slot;

class SessionExchange {
public:
    /// Not RT safe.
    SessionExchange(shm::Segment& segment, WorkerQueues& queues, ClientProtocol& protocol, Loads& loads,
                    SampleRefs& refs, std::vector<Slot>& slots, const MusicalGrid& grid);

    /// LR_CMD_SESSION_SAVE / OPEN (validated) of the client at `place`: hand
    /// it to the session worker (answered when it is done), or answer
    /// LR_E_BUSY while another save or open runs. RT safe.
    void request(uint32_t place, const lr_command& cmd, uint64_t frame0);
    /// Serve the session job at the start of a period (after the commands
    /// were read): snapshot, install or answer as its stage asks. RT safe.
    void serve(Actions& actions, uint64_t frame0);

private:
    /// Fill the job's rig with the rig now, referencing each slot's sample. RT safe.
    void snapshot(Actions& actions);
    /// Install the job's rig at frame0 (its slots stopped). RT safe.
    void install(Actions& actions, uint64_t frame0);
    /// The playing slots of the installed rig play their renders (none pending). RT safe.
    bool renders_in() const;
    /// Start the installed rig's playing slots together on the next bar. RT safe.
    void start_playing(Actions& actions, uint64_t frame0);
    /// Release the samples a job holds (a save's references). RT safe.
    void release_samples();

    shm::Segment& segment_;
    WorkerQueues& queues_;
    SessionJob& job_;
    ClientProtocol& protocol_;
    Loads& loads_;
    SampleRefs& refs_;
    std::vector<Slot>& slots_;
    const MusicalGrid& grid_;
    char message_[LR_MESSAGE_MAX] = {};
};

}  // namespace looprig::rt
