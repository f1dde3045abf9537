// --jack: the core inside a real JACK client's process callback, which times
// itself; xruns and JACK's DSP load counted alongside. The client plumbing
// (JackRun and the helpers below) is shared with the stretch scenario's --jack
// runs.
//
// Threads: the process callback (JackRun::process) runs on JACK's RT thread
// and is RT safe; everything else runs on the main thread (or JACK's
// notification thread for the xrun/buffer-size callbacks) and is not.
#pragma once

#include "options.hpp"
#include "report.hpp"
#include "rig.hpp"
#include "timing.hpp"

#include <fmt/format.h>
#include <jack/jack.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace looprig::bench {

/// One run's JACK client, its ports and what its callbacks record.
struct JackRun {
    jack_client_t* client = nullptr;
    jack_port_t* master[2] = {nullptr, nullptr};
    std::vector<jack_port_t*> slot_ports[2];
    std::vector<float*> slot_bufs[2];
    AudioCore* core = nullptr;
    std::vector<uint64_t> times;              // preallocated; written by the RT thread only
    std::atomic<std::size_t> count{0};
    std::atomic<bool> recording{false};
    std::atomic<uint32_t> xruns{0};
    std::atomic<uint32_t> xruns_total{0};
    std::atomic<bool> buffer_size_changed{false};
    std::atomic<float> peak{0.0f};
    uint32_t frames = 0;                      // the period the row was set up for

    /// JACK process callback. RT safe: no allocation, locks, I/O or system
    /// calls (clock_gettime is the vDSO); writes only preallocated memory.
    static int process(jack_nframes_t nframes, void* arg) {
        auto* self = static_cast<JackRun*>(arg);
        const uint64_t t0 = now_ns();
        CoreOutputs out;
        out.master[0] = static_cast<float*>(jack_port_get_buffer(self->master[0], nframes));
        out.master[1] = static_cast<float*>(jack_port_get_buffer(self->master[1], nframes));
        if (!self->slot_ports[0].empty()) {
            for (std::size_t i = 0; i < self->slot_ports[0].size(); ++i) {
                self->slot_bufs[0][i] = static_cast<float*>(jack_port_get_buffer(self->slot_ports[0][i], nframes));
                self->slot_bufs[1][i] = static_cast<float*>(jack_port_get_buffer(self->slot_ports[1][i], nframes));
            }
            out.slot_left = self->slot_bufs[0].data();
            out.slot_right = self->slot_bufs[1].data();
        }
        self->core->process(nframes, jack_last_frame_time(self->client), out);
        const uint64_t t1 = now_ns();
        if (self->recording.load(std::memory_order_acquire)) {
            const std::size_t i = self->count.load(std::memory_order_relaxed);
            if (i < self->times.size()) {
                self->times[i] = t1 - t0;
                self->count.store(i + 1, std::memory_order_release);
            }
            float p = 0.0f;
            for (jack_nframes_t k = 0; k < nframes; k += 8) p = std::max(p, std::fabs(out.master[0][k]));
            if (p > self->peak.load(std::memory_order_relaxed)) self->peak.store(p, std::memory_order_relaxed);
        }
        return 0;
    }
    /// JACK xrun callback (notification thread). RT safe (atomics only).
    static int xrun(void* arg) {
        auto* self = static_cast<JackRun*>(arg);
        self->xruns_total.fetch_add(1, std::memory_order_relaxed);
        if (self->recording.load(std::memory_order_acquire)) self->xruns.fetch_add(1, std::memory_order_relaxed);
        self->core->count_xrun();
        return 0;
    }
    /// JACK buffer-size callback: a change spoils the row. RT safe (atomics only).
    static int buffer_size(jack_nframes_t nframes, void* arg) {
        auto* self = static_cast<JackRun*>(arg);
        if (nframes != self->frames) self->buffer_size_changed.store(true);
        return 0;
    }
};

/// Connect to the JACK server ($JACK_DEFAULT_SERVER; never starts one). Not RT safe.
jack_client_t* open_jack(const std::string& name);

/// Deactivates (if activated) and closes the client when the run ends.
struct JackCloser {
    JackRun& r;
    bool active = false;
    ~JackCloser() {
        if (active) jack_deactivate(r.client);
        jack_client_close(r.client);
    }
};

/// The server's period; --frames may only repeat it.
uint32_t server_period(jack_client_t* client, const Options& o);

/// Fill the rig's segment header as looprigd would and register its JACK
/// ports (master, and per-slot with --slot-outs). Not RT safe.
void expose_to_jack(JackRun& run, Rig& rig, const Options& o, uint32_t frames);

/// Set the callbacks and activate the client (the closer then deactivates it). Not RT safe.
void activate_jack(JackRun& run, JackCloser& closer);

/// Pump the rig (the JACK cycle runs the core) until `done`, an engine error
/// or 20 s. `what`: "start" / "load", for the message. Not RT safe.
template <typename Done>
void pump_until(Rig& rig, Done done, const char* what) {
    using namespace std::chrono_literals;
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    while (!done() && !g_stop) {
        rig.pump();
        if (rig.failed()) throw std::runtime_error("setup: the engine answered " + rig.first_error());
        if (std::chrono::steady_clock::now() > deadline)
            throw std::runtime_error(fmt::format("setup: the loops did not {} within 20 s (is the server running "
                                                 "its cycle?)", what));
        std::this_thread::sleep_for(2ms);
    }
}

/// One row of `seconds` timed in the callback, on the server's period. Not RT safe.
Row run_jack_row(const Options& o, uint32_t loops, double seconds);

}  // namespace looprig::bench
