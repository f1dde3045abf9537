// The trap itself must catch what it is there to catch, or the proof above is void.
#include "rt_guard.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

using namespace looprig;

TEST_CASE("the allocation trap counts malloc, new and mutex locks on an armed thread only") {
    REQUIRE(rt_guard::armed_build());
    const uint64_t before = rt_guard::violations();
    rt_guard::enter();
    void* volatile p = std::malloc(16);
    rt_guard::leave();
    std::free(p);
    CHECK(rt_guard::violations() - before == 1);

    rt_guard::enter();
    auto* v = new std::vector<int>(10);
    rt_guard::leave();
    delete v;
    CHECK(rt_guard::violations() - before >= 2);

    const uint64_t mid = rt_guard::violations();
    std::mutex m;
    rt_guard::enter();
    m.lock();
    m.unlock();
    rt_guard::leave();
    CHECK(rt_guard::violations() - mid == 1);

    // Another thread's allocations while this one is armed do not count.
    std::atomic<bool> go{false}, done{false};
    std::thread t([&] {
        while (!go.load()) std::this_thread::yield();
        std::string s(1000, 'x');
        (void)s;
        done.store(true);
    });
    const uint64_t quiet = rt_guard::violations();
    rt_guard::enter();
    go.store(true);
    while (!done.load()) {}
    rt_guard::leave();
    t.join();
    CHECK(rt_guard::violations() == quiet);
}
