// The segment: geometry, creation with mode 0600, reopening, stale reclaim.
#include "looprig/shm_client.h"
#include "segment.hpp"

#include <doctest/doctest.h>

#include <cstddef>
#include <string>
#include <sys/stat.h>
#include <unistd.h>

using namespace looprig::shm;

TEST_CASE("geometry: areas are 64-byte aligned, ordered and do not overlap") {
    for (uint32_t slots : {1u, 7u, 32u, 1024u}) {
        const Geometry g = compute_geometry(slots);
        CHECK(g.clients_offset % 64 == 0);
        CHECK(g.meters_offset % 64 == 0);
        CHECK(g.slot_meters_offset % 64 == 0);
        CHECK(g.slot_infos_offset % 64 == 0);
        CHECK(g.clients_offset >= sizeof(lr_header));
        CHECK(g.meters_offset >= g.clients_offset + LR_MAX_CLIENTS * sizeof(lr_client_place));
        CHECK(g.slot_meters_offset >= g.meters_offset + sizeof(lr_meter_header));
        CHECK(g.slot_infos_offset >= g.slot_meters_offset + slots * sizeof(lr_slot_meter));
        CHECK(g.segment_size >= g.slot_infos_offset + slots * sizeof(lr_slot_info));
        CHECK(g.meter_area_size == g.segment_size - g.meters_offset);
    }
}

TEST_CASE("segment names: per user, validated") {
    CHECK(segment_name("looprig") == "/looprig-" + std::to_string(getuid()) + "-looprig");
    CHECK_THROWS(segment_name(""));
    CHECK_THROWS(segment_name("a/b"));
    CHECK_THROWS(segment_name(std::string(LR_NAME_MAX, 'x')));
    char buf[128];
    CHECK(lr_segment_name("x", buf, sizeof buf) > 0);
    CHECK(lr_segment_name("a/b", buf, sizeof buf) == -1);
    CHECK(lr_segment_name("x", buf, 4) == -1);
}

TEST_CASE("segment: created 0600 with a complete header, reopened, removed with its owner") {
    const std::string name = "unit-layout-" + std::to_string(getpid());
    {
        auto seg = Segment::create(name, 16);
        const lr_header* h = seg->header();
        CHECK(h->magic == LR_MAGIC);
        CHECK(h->abi_version == LR_ABI_VERSION);
        CHECK(h->slot_count == 16);
        CHECK(h->engine_pid == getpid());
        CHECK(h->segment_size == compute_geometry(16).segment_size);
        struct stat st {};
        REQUIRE(stat(("/dev/shm" + seg->name()).c_str(), &st) == 0);
        CHECK((st.st_mode & 0777) == 0600);
        auto view = Segment::open(name);
        CHECK(view->header()->slot_count == 16);
        CHECK(view->client(3) == reinterpret_cast<lr_client_place*>(view->base() + h->clients_offset) + 3);
    }
    CHECK_THROWS_AS(Segment::open(name), SegmentError);
}

TEST_CASE("segment: a stale segment of a dead engine is reclaimed") {
    const std::string name = "unit-stale-" + std::to_string(getpid());
    auto first = Segment::create(name, 4);
    first->header()->engine_pid = 999999;  // no such process
    auto second = Segment::create(name, 8);  // replaces it
    CHECK(second->header()->slot_count == 8);
}

TEST_CASE("segment: opening rejects a wrong ABI version") {
    const std::string name = "unit-abi-" + std::to_string(getpid());
    auto seg = Segment::create(name, 4);
    seg->header()->abi_version = LR_ABI_VERSION + 1;
    try {
        Segment::open(name);
        FAIL("opened a segment of another ABI version");
    } catch (const SegmentError& e) {
        CHECK(e.kind == SegmentError::Kind::invalid);
    }
}

TEST_CASE("layout table: covers every struct, and agrees with offsetof") {
    uint32_t count = 0;
    const lr_layout_entry* t = lr_layout_table(&count);
    CHECK(count > 80);
    bool saw_text = false;
    for (uint32_t i = 0; i < count; ++i) {
        if (std::string(t[i].name) == "lr_command.text") {
            saw_text = true;
            CHECK(t[i].value == offsetof(lr_command, text));
        }
    }
    CHECK(saw_text);
}
