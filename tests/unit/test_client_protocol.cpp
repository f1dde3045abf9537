// The client protocol alone (rt/client_protocol.hpp): answers staged until
// published, a full event ring (dropped and counted; commands wait for room
// to be answered), the per-period budget and whole batches, freeing a closed
// client's place, a corrupt command ring.
#include "client_protocol.hpp"
#include "unit_segment.hpp"

#include <doctest/doctest.h>

#include <string>
#include <utility>
#include <vector>

using namespace looprig;
using namespace looprig::rt;
using looprig::test::ClientEnds;

namespace {

/// Records what it is handed and answers it.
struct Recorder final : CommandSink {
    ClientProtocol* protocol = nullptr;
    std::vector<std::pair<uint32_t, lr_command>> got;
    void handle(uint32_t place, const lr_command& cmd) override {
        got.emplace_back(place, cmd);
        protocol->reply(place, cmd, LR_EVT_ACK, LR_OK, 42, "ok", 1.5, 2.5);
    }
};

lr_command ping(uint32_t id, bool batch = false) {
    lr_command c{};
    c.id = id;
    c.type = LR_CMD_PING;
    c.flags = batch ? LR_CMD_F_BATCH : 0;
    return c;
}

}  // namespace

TEST_CASE("answers are staged until publish_events, numbered from 1 for each place") {
    auto segment = test::make_segment(1, "protocol");
    ClientProtocol protocol(*segment);
    Recorder sink;
    sink.protocol = &protocol;
    ClientEnds a(*segment, 0), b(*segment, 3);
    REQUIRE(a.commands.push(ping(10)));
    REQUIRE(b.commands.push(ping(20)));
    REQUIRE(b.commands.push(ping(21)));
    protocol.read_commands(1000, sink);
    REQUIRE(sink.got.size() == 3);
    CHECK(sink.got[0].first == 0);
    CHECK(sink.got[1].first == 3);
    CHECK(sink.got[2].second.id == 21);
    CHECK(a.drain().empty());  // staged, not visible
    protocol.publish_events();
    const auto ea = a.drain(), eb = b.drain();
    REQUIRE(ea.size() == 1);
    REQUIRE(eb.size() == 2);
    CHECK(ea[0].id == 10);
    CHECK(ea[0].type == LR_EVT_ACK);
    CHECK(ea[0].command == LR_CMD_PING);
    CHECK(ea[0].frame == 42);
    CHECK(ea[0].value[1] == 2.5);
    CHECK(std::string(ea[0].message) == "ok");
    CHECK(ea[0].seq == 1);
    CHECK(eb[0].seq == 1);
    CHECK(eb[1].seq == 2);
}

TEST_CASE("a full event ring: the event is dropped and counted; commands wait in their ring until there is room to answer") {
    auto segment = test::make_segment(1, "protocol");
    ClientProtocol protocol(*segment);
    Recorder sink;
    sink.protocol = &protocol;
    ClientEnds client(*segment, 0);
    for (uint32_t i = 0; i < LR_EVT_RING_SIZE; ++i)
        CHECK(protocol.send_event(0, i, LR_EVT_ACK, LR_CMD_PING, 0, LR_OK, 0, "notice", 0, 0));
    CHECK(!protocol.send_event(0, 999, LR_EVT_ACK, LR_CMD_PING, 0, LR_OK, 0, "lost", 0, 0));
    CHECK(client.place->events_dropped == 1);
    protocol.publish_events();
    REQUIRE(client.commands.push(ping(1)));
    protocol.read_commands(0, sink);
    CHECK(sink.got.empty());  // no room for its answer: not read
    lr_event e{};
    REQUIRE(client.events.pop_into(&e));  // the client reads one event
    protocol.read_commands(0, sink);
    REQUIRE(sink.got.size() == 1);
    protocol.publish_events();
    const auto events = client.drain();
    CHECK(events.back().id == 1);
    CHECK(events.back().seq == LR_EVT_RING_SIZE + 1);  // the dropped one took no number
}

TEST_CASE("at most kCommandsPerPeriod commands a period, starting one place further each period; a batch is read whole") {
    auto segment = test::make_segment(1, "protocol");
    ClientProtocol protocol(*segment);
    Recorder sink;
    sink.protocol = &protocol;
    ClientEnds first(*segment, 0), second(*segment, 1), third(*segment, 2);
    for (uint32_t i = 0; i < LR_CMD_RING_SIZE; ++i) REQUIRE(first.commands.push(ping(i)));
    for (uint32_t i = 0; i < 10; ++i) REQUIRE(second.commands.push(ping(100 + i)));
    protocol.read_commands(0, sink);  // place 0 first
    CHECK(sink.got.size() == kCommandsPerPeriod);
    CHECK(sink.got.back().first == 0);
    sink.got.clear();
    protocol.read_commands(0, sink);  // place 1 first
    CHECK(sink.got.size() == 10);
    sink.got.clear();
    protocol.publish_events();
    first.drain();
    second.drain();

    // Place 2 is read first now and takes 40 of the budget; place 0's batch of
    // 60 (LR_CMD_F_BATCH on all but its last) is read whole past the budget.
    for (uint32_t i = 0; i < 40; ++i) REQUIRE(third.commands.push(ping(200 + i)));
    for (uint32_t i = 0; i < 60; ++i) REQUIRE(first.commands.push(ping(400 + i, i < 59)));
    protocol.read_commands(0, sink);
    CHECK(sink.got.size() == 100);
    uint32_t batch = 0;
    for (const auto& [place, cmd] : sink.got) batch += place == 0 && cmd.id >= 400 && cmd.id < 460;
    CHECK(batch == 60);
}

TEST_CASE("a closed client's place is freed: nothing staged or pending reaches its next owner") {
    auto segment = test::make_segment(1, "protocol");
    ClientProtocol protocol(*segment);
    Recorder sink;
    sink.protocol = &protocol;
    ClientEnds client(*segment, 2);
    REQUIRE(client.commands.push(ping(1)));
    protocol.read_commands(0, sink);  // answered, staged
    REQUIRE(client.commands.push(ping(2)));
    const uint32_t generation = client.place->generation;
    client.place->events_dropped = 5;
    client.place->state = LR_CLIENT_CLOSING;
    for (int i = 0; i < LR_MAX_CLIENTS; ++i) protocol.read_commands(0, sink);
    CHECK(client.place->state == LR_CLIENT_FREE);
    CHECK(client.place->owner_pid == 0);
    CHECK(client.place->generation == generation + 1);
    CHECK(client.place->events_dropped == 0);
    CHECK(sink.got.size() == 1);  // the pending command was discarded
    // The next owner: its events count from 1.
    ClientEnds next(*segment, 2);
    next.drain();  // what the old owner left (published when the place was freed)
    REQUIRE(next.commands.push(ping(3)));
    protocol.read_commands(0, sink);
    protocol.publish_events();
    const auto events = next.drain();
    REQUIRE(events.size() == 1);
    CHECK(events[0].id == 3);
    CHECK(events[0].seq == 1);
}

TEST_CASE("corrupt command ring indices: the pending commands are discarded with one error") {
    auto segment = test::make_segment(1, "protocol");
    ClientProtocol protocol(*segment);
    Recorder sink;
    sink.protocol = &protocol;
    ClientEnds client(*segment, 0);
    client.place->cmd.write = client.place->cmd.read + 10 * LR_CMD_RING_SIZE;  // claims more than the ring holds
    protocol.read_commands(77, sink);
    protocol.publish_events();
    CHECK(sink.got.empty());
    const auto events = client.drain();
    REQUIRE(events.size() == 1);
    CHECK(events[0].type == LR_EVT_ERROR);
    CHECK(events[0].code == LR_E_BAD_MESSAGE);
    CHECK(events[0].frame == 77);
}
