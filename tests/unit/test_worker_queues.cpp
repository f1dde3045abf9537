// The hand-off to the workers alone (worker_queues.hpp): each bell rings
// only for something new, render generations, loudness figures, and the
// samples left in the queues at the end.
#include "worker_queues.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <cmath>
#include <vector>

using namespace looprig;

namespace {

/// Rings waiting on `bell` now (consumed).
int rings(Doorbell& bell) {
    int n = 0;
    while (bell.wait_for(std::chrono::nanoseconds(0))) ++n;
    return n;
}

}  // namespace

TEST_CASE("wake_workers rings each worker's bell once for something new, never for nothing") {
    WorkerQueues q(4, 48000);
    q.wake_workers(LR_TRANSPORT_OFF);
    CHECK(rings(q.load_bell) + rings(q.render_bell) + rings(q.loudness_bell) + rings(q.housekeeping_bell) == 0);

    REQUIRE(q.load_requests.push(LoadRequest{}));
    REQUIRE(q.load_requests.push(LoadRequest{}));
    for (int i = 0; i < 3; ++i) REQUIRE(q.render_requests.push(RenderRequest{}));
    q.wake_workers(LR_TRANSPORT_OFF);
    CHECK(rings(q.load_bell) == 1);    // one loader: once for both
    CHECK(rings(q.render_bell) == 3);  // once per request: several render threads may take them
    CHECK(rings(q.loudness_bell) == 0);
    CHECK(rings(q.housekeeping_bell) == 0);
    q.wake_workers(LR_TRANSPORT_OFF);  // nothing new
    CHECK(rings(q.load_bell) + rings(q.render_bell) == 0);

    REQUIRE(q.loudness_blocks.push(LoudnessBlock{}));
    q.wake_workers(LR_TRANSPORT_OFF);
    CHECK(rings(q.loudness_bell) == 1);
    q.loudness_reset.fetch_add(1);  // LR_CMD_METER_RESET: the loudness thread restarts
    q.wake_workers(LR_TRANSPORT_OFF);
    CHECK(rings(q.loudness_bell) == 1);

    REQUIRE(q.garbage.push(nullptr));
    q.wake_workers(LR_TRANSPORT_OFF);
    CHECK(rings(q.housekeeping_bell) == 1);
    q.wake_workers(LR_TRANSPORT_FOLLOW);  // a change of transport mode: housekeeping registers the callback
    CHECK(rings(q.housekeeping_bell) == 1);
    q.wake_workers(LR_TRANSPORT_FOLLOW);
    CHECK(rings(q.housekeeping_bell) == 0);
}

TEST_CASE("render generations, loudness figures") {
    WorkerQueues q(3, 48000);
    CHECK(q.latest_render_generation(2) == 0);
    q.set_render_generation(2, 7);
    CHECK(q.latest_render_generation(2) == 7);
    CHECK(std::isinf(q.lufs[0].load()));  // nothing measured yet
    q.set_loudness(-14.0f, -15.0f, -16.0f);
    CHECK(q.lufs[2].load() == -16.0f);
    CHECK(q.loudness_updates.load() == 1);
    CHECK(q.loudness_blocks.capacity() >= 2 * 48000 / kLoudnessBlockFrames);  // 2 s of master
    CHECK(q.garbage.capacity() >= 3 * 6 + 256);  // every sample that can exist at once
}

TEST_CASE("take_samples: every sample left in a queue, once") {
    WorkerQueues q(2, 48000);
    Sample a, b, c, d;
    REQUIRE(q.garbage.push(&a));
    LoadResult r;
    r.sample = &b;
    REQUIRE(q.load_results.push(r));
    REQUIRE(q.load_results.push(LoadResult{}));  // an error: no sample
    RenderAnswer answer;
    answer.source = &a;  // also in the garbage queue: once
    answer.render = &c;
    REQUIRE(q.render_answers.push(answer));
    RenderRequest req;
    req.source = &d;
    REQUIRE(q.render_requests.push(req));
    std::vector<Sample*> held{&d};  // already held by a slot
    q.take_samples(held);
    CHECK(held == std::vector<Sample*>{&d, &a, &b, &c});
    CHECK(q.garbage.size() + q.load_results.size() + q.render_answers.size() + q.render_requests.size() == 0);
}
