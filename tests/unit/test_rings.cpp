// The shared-memory rings and the in-process queues, under two threads.
#include "looprig/shm_layout.h"
#include "ring.hpp"
#include "spsc_queue.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <memory>
#include <thread>

using namespace looprig;
using namespace looprig::shm;

namespace {
struct Item {
    uint64_t seq;
    uint64_t check;
    char payload[48];
};

struct SharedRing {
    lr_ring_index index{};
    Item data[64]{};
};
}  // namespace

TEST_CASE("shm ring: push/pop, full and empty") {
    auto ring = std::make_unique<SharedRing>();
    RingProducer<Item> p(&ring->index, ring->data, 64);
    RingConsumer<Item> c(&ring->index, ring->data, 64);
    Item out{};
    CHECK_FALSE(c.pop_into(&out));
    for (uint64_t i = 0; i < 64; ++i) CHECK(p.push(Item{i, ~i, {}}));
    CHECK(p.space() == 0);
    CHECK_FALSE(p.push(Item{99, 0, {}}));
    for (uint64_t i = 0; i < 64; ++i) {
        REQUIRE(c.pop_into(&out));
        CHECK(out.seq == i);
    }
    CHECK(p.space() == 64);
}

TEST_CASE("shm ring: staged items stay invisible until publish(), and count as used") {
    auto ring = std::make_unique<SharedRing>();
    RingProducer<Item> p(&ring->index, ring->data, 64);
    RingConsumer<Item> c(&ring->index, ring->data, 64);
    Item out{};
    for (uint64_t i = 0; i < 3; ++i) {
        Item* slot = p.claim();
        REQUIRE(slot != nullptr);
        *slot = Item{i, ~i, {}};
        p.stage();
    }
    CHECK(p.space() == 61);
    CHECK_FALSE(c.pop_into(&out));  // nothing visible yet
    ring->index.write = 12345;      // a peer scribbles the index meanwhile
    CHECK(p.space() == 61);         // the published value (0) is restored, staged items kept
    CHECK(ring->index.write == 0u);
    CHECK_FALSE(c.pop_into(&out));
    p.publish();
    for (uint64_t i = 0; i < 3; ++i) {
        REQUIRE(c.pop_into(&out));
        CHECK(out.seq == i);
    }
    CHECK_FALSE(c.pop_into(&out));
    CHECK(p.push(Item{7, 0, {}}));  // push publishes at once
    REQUIRE(c.pop_into(&out));
    CHECK(out.seq == 7);
}

TEST_CASE("shm ring: indices wrap around 2^32") {
    auto ring = std::make_unique<SharedRing>();
    ring->index.write = ring->index.read = 0xFFFFFFF0u;
    RingProducer<Item> p(&ring->index, ring->data, 64);
    RingConsumer<Item> c(&ring->index, ring->data, 64);
    Item out{};
    for (uint64_t i = 0; i < 1000; ++i) {
        REQUIRE(p.push(Item{i, ~i, {}}));
        REQUIRE(c.pop_into(&out));
        CHECK(out.seq == i);
    }
    CHECK(ring->index.write == 0xFFFFFFF0u + 1000u);
}

TEST_CASE("shm ring: a scribbled producer index is reported as corrupt, never read out of bounds") {
    auto ring = std::make_unique<SharedRing>();
    RingConsumer<Item> c(&ring->index, ring->data, 64);
    ring->index.write = 1000;  // claims 1000 items in a ring of 64
    const Item* item = nullptr;
    CHECK(c.peek(&item) == RingConsumer<Item>::Peek::corrupt);
    c.discard_all();
    CHECK(c.peek(&item) == RingConsumer<Item>::Peek::empty);
    CHECK(ring->index.read == 1000);
}

TEST_CASE("shm ring: a scribbled consumer index makes the producer see a full ring") {
    auto ring = std::make_unique<SharedRing>();
    RingProducer<Item> p(&ring->index, ring->data, 64);
    ring->index.read = 12345;
    CHECK(p.space() == 0);
    CHECK_FALSE(p.push(Item{}));
}

TEST_CASE("shm ring: two-thread stress keeps every item, in order, intact") {
    auto ring = std::make_unique<SharedRing>();
    constexpr uint64_t kCount = 2'000'000;
    std::atomic<bool> failed{false};
    std::thread producer([&] {
        RingProducer<Item> p(&ring->index, ring->data, 64);
        for (uint64_t i = 0; i < kCount;) {
            Item it{i, i * 0x9E3779B97F4A7C15ull, {}};
            for (int k = 0; k < 48; ++k) it.payload[k] = static_cast<char>(i + k);
            if (p.push(it)) ++i;
            else std::this_thread::yield();
        }
    });
    RingConsumer<Item> c(&ring->index, ring->data, 64);
    uint64_t expected = 0;
    Item out{};
    while (expected < kCount) {
        if (!c.pop_into(&out)) {
            std::this_thread::yield();
            continue;
        }
        bool ok = out.seq == expected && out.check == expected * 0x9E3779B97F4A7C15ull;
        for (int k = 0; k < 48 && ok; ++k) ok = out.payload[k] == static_cast<char>(expected + k);
        if (!ok) failed = true;
        ++expected;
    }
    producer.join();
    CHECK_FALSE(failed.load());
    CHECK(expected == kCount);
}

TEST_CASE("SpscQueue: two-thread stress keeps order and contents") {
    SpscQueue<Item> q(16);
    CHECK(q.capacity() == 16);
    constexpr uint64_t kCount = 1'000'000;
    std::thread producer([&] {
        for (uint64_t i = 0; i < kCount;) {
            if (q.push(Item{i, ~i, {}})) ++i;
            else std::this_thread::yield();
        }
    });
    uint64_t expected = 0, bad = 0;
    Item out{};
    while (expected < kCount) {
        if (!q.pop_into(&out)) {
            std::this_thread::yield();
            continue;
        }
        if (out.seq != expected || out.check != ~expected) ++bad;
        ++expected;
    }
    producer.join();
    CHECK(bad == 0);
}
