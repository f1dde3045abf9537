#include "worker_queues.hpp"

#include <algorithm>
#include <limits>

namespace looprig {

WorkerQueues::WorkerQueues(uint32_t slot_count, uint32_t sample_rate)
    : load_requests(64),
      load_results(64),
      // Sized so that it cannot fill: every sample that can exist at once fits.
      garbage(static_cast<std::size_t>(slot_count) * 6 + 256),
      render_requests(static_cast<std::size_t>(slot_count) + 8),
      render_answers(static_cast<std::size_t>(slot_count) + 8),
      loudness_blocks(static_cast<std::size_t>(2 * sample_rate / kLoudnessBlockFrames) + 8),
      render_generations(std::make_unique<std::atomic<uint32_t>[]>(slot_count)) {
    for (auto& l : lufs) l.store(-std::numeric_limits<float>::infinity());
    session.rig.slots.resize(slot_count);
}

void WorkerQueues::wake_workers(uint32_t transport_mode) {
    if (const std::size_t n = load_requests.pushed(); n != woke_.loads) {
        woke_.loads = n;
        load_bell.ring();
    }
    for (const std::size_t n = render_requests.pushed(); woke_.renders != n; ++woke_.renders)
        render_bell.ring();  // one each: several render threads may take them
    const uint32_t reset = loudness_reset.load(std::memory_order_relaxed);
    if (const std::size_t n = loudness_blocks.pushed(); n != woke_.loudness || reset != woke_.reset) {
        woke_.loudness = n;
        woke_.reset = reset;
        loudness_bell.ring();
    }
    if (const std::size_t n = garbage.pushed(); n != woke_.garbage || transport_mode != woke_.mode) {
        woke_.garbage = n;
        woke_.mode = transport_mode;
        housekeeping_bell.ring();
    }
}

void WorkerQueues::take_samples(std::vector<Sample*>& held) {
    auto add = [&held](Sample* p) {
        if (p && std::find(held.begin(), held.end(), p) == held.end()) held.push_back(p);
    };
    Sample* g = nullptr;
    while (garbage.pop_into(&g)) add(g);
    LoadResult r;
    while (load_results.pop_into(&r)) add(r.sample);
    RenderAnswer a;
    while (render_answers.pop_into(&a)) {
        add(a.render);
        add(a.source);
    }
    RenderRequest q;
    while (render_requests.pop_into(&q)) add(q.source);
}

}  // namespace looprig
