// lr-bench --jack (jack_mode.hpp).
#include "jack_mode.hpp"

#include "fx_scenario.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>

namespace looprig::bench {

jack_client_t* open_jack(const std::string& name) {
    jack_status_t status{};
    jack_client_t* client = jack_client_open(name.c_str(), JackNoStartServer, &status);
    if (!client) {
        const char* server = std::getenv("JACK_DEFAULT_SERVER");
        throw std::runtime_error(fmt::format("cannot connect to the JACK server '{}' (status 0x{:x}); is jackd running?",
                                             server ? server : "default", static_cast<unsigned>(status)));
    }
    return client;
}

uint32_t server_period(jack_client_t* client, const Options& o) {
    const uint32_t frames = jack_get_buffer_size(client);
    if (o.frames_given && (o.frames.size() != 1 || o.frames[0] != frames))
        throw std::runtime_error(fmt::format("the JACK server runs {}-frame periods; --frames cannot change that "
                                             "(restart jackd with -p)", frames));
    return frames;
}

void expose_to_jack(JackRun& run, Rig& rig, const Options& o, uint32_t frames) {
    lr_header* h = rig.segment().header();
    h->buffer_size = frames;
    const char* server = std::getenv("JACK_DEFAULT_SERVER");
    std::snprintf(h->jack_server_name, LR_NAME_MAX, "%s", server ? server : "default");
    std::snprintf(h->jack_client_name, LR_NAME_MAX, "%s", jack_get_client_name(run.client));
    auto add_port = [&](const std::string& n) {
        jack_port_t* p = jack_port_register(run.client, n.c_str(), JACK_DEFAULT_AUDIO_TYPE, JackPortIsOutput, 0);
        if (!p) throw std::runtime_error("cannot register JACK port " + n);
        return p;
    };
    run.master[0] = add_port("out_L");
    run.master[1] = add_port("out_R");
    if (o.slot_outs) {
        for (uint32_t i = 0; i < rig.core().slot_count(); ++i) {
            run.slot_ports[0].push_back(add_port(fmt::format("slot{:02}_L", i)));
            run.slot_ports[1].push_back(add_port(fmt::format("slot{:02}_R", i)));
        }
        run.slot_bufs[0].assign(rig.core().slot_count(), nullptr);
        run.slot_bufs[1].assign(rig.core().slot_count(), nullptr);
    }
}

void activate_jack(JackRun& run, JackCloser& closer) {
    jack_set_process_callback(run.client, &JackRun::process, &run);
    jack_set_xrun_callback(run.client, &JackRun::xrun, &run);
    jack_set_buffer_size_callback(run.client, &JackRun::buffer_size, &run);
    if (jack_activate(run.client) != 0) throw std::runtime_error("cannot activate the JACK client");
    closer.active = true;
}

Row run_jack_row(const Options& o, uint32_t loops, double seconds) {
    using namespace std::chrono_literals;
    JackRun run;
    std::unique_ptr<Rig> rig_owner;  // declared first: destroyed after the client is closed
    run.client = open_jack(o.name);
    JackCloser closer{run};
    const uint32_t rate = jack_get_sample_rate(run.client);
    const uint32_t frames = server_period(run.client, o);
    run.frames = frames;
    rig_owner = std::make_unique<Rig>(slots_for(o, loops), rate, 8192, o.declick_ms, loops);
    Rig& rig = *rig_owner;
    if (o.fx) queue_fx(rig, loops);
    run.core = &rig.core();
    expose_to_jack(run, rig, o, frames);
    // Room for the window plus slack; touched now so the RT thread never faults it in.
    run.times.assign(static_cast<std::size_t>(seconds * rate / frames * 1.25) + 4096, 1);
    activate_jack(run, closer);
    pump_until(rig, [&] { return rig.ready() && rig.all_answered(); }, "start");
    for (int i = 0; i < 25 && !g_stop; ++i) std::this_thread::sleep_for(20ms);  // warm-up, untimed

    fmt::print(stderr, "lr-bench: window start (loops {}, {} frames, {} s)\n", loops, frames, seconds);
    std::fflush(stderr);
    run.recording.store(true, std::memory_order_release);
    const auto start = std::chrono::steady_clock::now();
    const auto end = start + std::chrono::duration<double>(seconds);
    double load_sum = 0, load_max = 0;
    int load_n = 0;
    auto next_load = start + 1s;
    while (std::chrono::steady_clock::now() < end && !g_stop) {
        std::this_thread::sleep_for(20ms);
        rig.pump();
        if (std::chrono::steady_clock::now() >= next_load) {
            const double l = jack_cpu_load(run.client);
            load_sum += l;
            load_max = std::max(load_max, l);
            ++load_n;
            next_load += 1s;
        }
    }
    run.recording.store(false, std::memory_order_release);
    fmt::print(stderr, "lr-bench: window end\n");
    std::fflush(stderr);
    std::this_thread::sleep_for(50ms);  // let a callback in flight finish its store
    const std::size_t n = run.count.load(std::memory_order_acquire);

    Row row;
    row.jack = true;
    row.frames = frames;
    row.loops = loops;
    row.rate = rate;
    row.stats = summarize(run.times, n, 1e9 * frames / rate);
    row.xruns = run.xruns.load();
    row.xruns_total = run.xruns_total.load();
    row.dsp_load_mean = load_n ? load_sum / load_n : -1;
    row.dsp_load_max = load_n ? load_max : -1;
    row.master_peak = run.peak.load();
    row.playing = rig.playing_slots();
    row.buffer_size_changed = run.buffer_size_changed.load();
    jack_deactivate(run.client);
    closer.active = false;
    return row;
}

}  // namespace looprig::bench
