// The NSM client (engine/src/nsm.hpp) against a fake NSM server played here
// with liblo (a server thread on a free UDP port): what the announce carries,
// the open it waits for, the answers to open and save, dirtiness, messages,
// switching and the optional GUI, and the failures (refusal, silence, bad URLs).
// Then the optional GUI's child process (engine/src/gui_process.hpp): the
// command it runs, its environment, and show/hide/exit with real processes.
#include "gui_process.hpp"
#include "nsm.hpp"

#include <doctest/doctest.h>
#include <lo/lo.h>

#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <deque>
#include <functional>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include <fcntl.h>
#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace looprig;
using namespace std::chrono_literals;

namespace {

using Arg = std::variant<std::string, int, float>;

struct Msg {
    std::string path;
    std::string types;
    std::vector<Arg> args;
    std::string source;  // the sender's URL

    std::string s(size_t i) const { return std::get<std::string>(args.at(i)); }
    int i(size_t i) const { return std::get<int>(args.at(i)); }
};

/// The server's side: records every message; answers the announce as told.
class FakeServer {
public:
    enum class Mode { reply_and_open, reply_only, refuse, silent };

    explicit FakeServer(Mode mode = Mode::reply_and_open, int refuse_code = kNsmGeneral,
                        std::chrono::milliseconds open_delay = 0ms)
        : mode_(mode), refuse_code_(refuse_code), open_delay_(open_delay) {
        thread_ = lo_server_thread_new_with_proto(nullptr, LO_UDP, nullptr);
        REQUIRE(thread_);
        lo_server_thread_add_method(thread_, nullptr, nullptr, &FakeServer::on_message, this);
        REQUIRE(lo_server_thread_start(thread_) == 0);
        char* u = lo_server_thread_get_url(thread_);
        url_ = u;
        std::free(u);
    }
    ~FakeServer() {
        lo_server_thread_stop(thread_);
        lo_server_thread_free(thread_);
        if (client_) lo_address_free(client_);
    }

    const std::string& url() const { return url_; }
    const NsmOpenRequest open_args{"/tmp/session/looprig.nABCD", "my session", "looprig.nABCD"};

    /// The next message with `path` not taken yet (and every earlier one with
    /// another path stays), or a failed check after `timeout`.
    Msg wait_for(const std::string& path, std::chrono::milliseconds timeout = 2000ms, bool take = true) {
        std::unique_lock lock(mutex_);
        Msg found;
        const bool ok = cv_.wait_for(lock, timeout, [&] {
            for (auto it = inbox_.begin(); it != inbox_.end(); ++it)
                if (it->path == path) {
                    found = *it;
                    if (take) inbox_.erase(it);
                    return true;
                }
            return false;
        });
        if (!ok) FAIL_CHECK("no " << path << " within " << timeout.count() << " ms");
        return found;
    }

    /// Every message received and not taken, in order, up to and including
    /// the first `marker_path` (sent last by the test, after what it checks).
    std::vector<Msg> until(const std::string& marker_path) {
        wait_for(marker_path, 2000ms, /*take=*/false);
        std::lock_guard g(mutex_);
        std::vector<Msg> all;
        while (!inbox_.empty()) {
            all.push_back(inbox_.front());
            inbox_.pop_front();
            if (all.back().path == marker_path) break;
        }
        return all;
    }

    /// Sends to the client (the address its announce came from), from our socket.
    void send(const std::string& path, lo_message m) {
        lo_address to;
        {
            std::lock_guard g(mutex_);
            REQUIRE(client_);
            to = client_;
        }
        REQUIRE(lo_send_message_from(to, lo_server_thread_get_server(thread_), path.c_str(), m) >= 0);
        lo_message_free(m);
    }
    void send_empty(const std::string& path) { send(path, lo_message_new()); }
    void send_open(const NsmOpenRequest& r) {
        lo_message m = lo_message_new();
        lo_message_add_string(m, r.path.c_str());
        lo_message_add_string(m, r.display_name.c_str());
        lo_message_add_string(m, r.client_id.c_str());
        send("/nsm/client/open", m);
    }

private:
    static int on_message(const char* path, const char* types, lo_arg** argv, int argc, lo_message msg,
                          void* self) {
        auto& f = *static_cast<FakeServer*>(self);
        Msg m{path, types ? types : "", {}, {}};
        for (int k = 0; k < argc; ++k) {
            switch (types[k]) {
                case LO_STRING: m.args.emplace_back(std::string(&argv[k]->s)); break;
                case LO_INT32: m.args.emplace_back(argv[k]->i); break;
                case LO_FLOAT: m.args.emplace_back(argv[k]->f); break;
                default: m.args.emplace_back(std::string("?"));
            }
        }
        char* src = lo_address_get_url(lo_message_get_source(msg));
        m.source = src;
        if (m.path == "/nsm/server/announce") {
            std::lock_guard g(f.mutex_);
            if (!f.client_) f.client_ = lo_address_new_from_url(src);
        }
        std::free(src);
        {
            std::lock_guard g(f.mutex_);
            f.inbox_.push_back(m);
        }
        f.cv_.notify_all();
        if (m.path == "/nsm/server/announce") f.answer_announce();
        return 0;
    }

    void answer_announce() {
        switch (mode_) {
            case Mode::silent: return;
            case Mode::refuse: {
                lo_message m = lo_message_new();
                lo_message_add_string(m, "/nsm/server/announce");
                lo_message_add_int32(m, refuse_code_);
                lo_message_add_string(m, "go away");
                send("/error", m);
                return;
            }
            case Mode::reply_only:
            case Mode::reply_and_open: {
                lo_message m = lo_message_new();
                lo_message_add_string(m, "/nsm/server/announce");
                lo_message_add_string(m, "hi");
                lo_message_add_string(m, "fake-nsm");
                lo_message_add_string(m, ":server-control:optional-gui:");
                send("/reply", m);
                if (mode_ != Mode::reply_and_open) return;
                std::this_thread::sleep_for(open_delay_);  // on the fake's thread: fine, messages queue up
                send_open(open_args);
                return;
            }
        }
    }

    Mode mode_;
    int refuse_code_;
    std::chrono::milliseconds open_delay_;  // between the announce's /reply and the open
    lo_server_thread thread_ = nullptr;
    std::string url_;
    std::mutex mutex_;
    std::condition_variable cv_;
    std::deque<Msg> inbox_;
    lo_address client_ = nullptr;
};

/// A client announced to `server` (which answered with its open).
NsmOpenRequest announced(NsmClient& client, FakeServer& server) {
    const NsmOpenRequest open = client.announce("/usr/bin/looprigd", 2.0);
    server.wait_for("/nsm/server/announce");
    return open;
}

std::vector<std::string> paths(const std::vector<Msg>& ms) {
    std::vector<std::string> p;
    for (const auto& m : ms) p.push_back(m.path);
    return p;
}

std::string what_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const std::runtime_error& e) {
        return e.what();
    }
    FAIL_CHECK("no std::runtime_error");
    return "";
}

}  // namespace

TEST_CASE("url_from_environment reads NSM_URL, or gives \"\" without it") {
    const char* old = std::getenv("NSM_URL");
    const std::string saved = old ? old : "";
    ::setenv("NSM_URL", "osc.udp://somehost:12345/", 1);
    CHECK(NsmClient::url_from_environment() == "osc.udp://somehost:12345/");
    ::unsetenv("NSM_URL");
    CHECK(NsmClient::url_from_environment() == "");
    if (old) ::setenv("NSM_URL", saved.c_str(), 1);
}

TEST_CASE("a malformed or non-UDP URL throws, naming the URL") {
    for (const std::string url : {"", "garbage", "http://localhost:1234/", "osc.udp://localhost/",
                                  "osc.udp://localhost:abc/", "osc.udp://localhost:70000/", "osc.tcp://localhost:1234/"}) {
        CAPTURE(url);
        const std::string what = what_of([&] { NsmClient c(url); });
        CHECK(what.find("'" + url + "'") != std::string::npos);
        CHECK(what.find("NSM") != std::string::npos);
    }
    CHECK(what_of([] { NsmClient c("osc.tcp://localhost:1234/"); }).find("UDP only") != std::string::npos);
}

TEST_CASE("announce carries name, capabilities, executable, API 1.1 and pid, and returns the server's open") {
    FakeServer server;
    NsmClient client(server.url());
    CHECK(client.url() == server.url());
    const NsmOpenRequest open = client.announce("/usr/local/bin/looprigd", 2.0);
    const Msg a = server.wait_for("/nsm/server/announce");
    CHECK(a.types == "sssiii");
    CHECK(a.s(0) == "looprig");
    CHECK(a.s(1) == ":dirty:message:");
    CHECK(a.s(2) == "/usr/local/bin/looprigd");
    CHECK(a.i(3) == 1);
    CHECK(a.i(4) == 1);
    CHECK(a.i(5) == static_cast<int>(::getpid()));
    CHECK(open.path == "/tmp/session/looprig.nABCD");
    CHECK(open.display_name == "my session");
    CHECK(open.client_id == "looprig.nABCD");
    CHECK(client.server_name() == "fake-nsm");
    CHECK(client.server_capabilities() == ":server-control:optional-gui:");
    CHECK_THROWS_AS(client.announce("x", 1.0), std::logic_error);  // once only
}

TEST_CASE("reply_open answers /reply, from the announce's socket, and only once") {
    FakeServer server;
    NsmClient client(server.url());
    announced(client, server);
    client.reply_open({kNsmOk, "Opened the rig"});
    const Msg r = server.wait_for("/reply");
    CHECK(r.types == "ss");
    CHECK(r.s(0) == "/nsm/client/open");
    CHECK(r.s(1) == "Opened the rig");
    CHECK_THROWS_AS(client.reply_open({}), std::logic_error);
}

TEST_CASE("reply_open with an error code answers /error with it; an empty ok message gets a default") {
    SUBCASE("error") {
        FakeServer server;
        NsmClient client(server.url());
        announced(client, server);
        client.reply_open({kNsmBadProject, "session.json is corrupt"});
        const Msg e = server.wait_for("/error");
        CHECK(e.types == "sis");
        CHECK(e.s(0) == "/nsm/client/open");
        CHECK(e.i(1) == -9);
        CHECK(e.s(2) == "session.json is corrupt");
    }
    SUBCASE("ok, no message") {
        FakeServer server;
        NsmClient client(server.url());
        announced(client, server);
        client.reply_open({});
        const Msg r = server.wait_for("/reply");
        CHECK(r.s(0) == "/nsm/client/open");
        CHECK(!r.s(1).empty());
    }
}

TEST_CASE("every message leaves from the socket the announce left from") {
    FakeServer server;
    NsmClient client(server.url());
    client.announce("looprigd", 2.0);
    const Msg a = server.wait_for("/nsm/server/announce");
    client.reply_open({});
    client.set_dirty(true);
    client.message(1, "hello");
    CHECK(server.wait_for("/reply").source == a.source);
    CHECK(server.wait_for("/nsm/client/is_dirty").source == a.source);
    CHECK(server.wait_for("/nsm/client/message").source == a.source);
}

TEST_CASE("save runs the handler and answers with its result; before a handler, 'not now'") {
    FakeServer server;
    NsmClient client(server.url());
    announced(client, server);
    client.reply_open({});
    server.wait_for("/reply");

    server.send_empty("/nsm/client/save");
    Msg e = server.wait_for("/error");
    CHECK(e.s(0) == "/nsm/client/save");
    CHECK(e.i(1) == kNsmNotNow);

    // Shared with the handler on liblo's thread (the socket round trip orders
    // them, but no tool can see that): under a mutex.
    std::mutex m;
    int calls = 0;
    NsmResult next{kNsmOk, "saved 3 loops"};
    const auto calls_now = [&] {
        std::lock_guard g(m);
        return calls;
    };
    client.on_save([&] {
        std::lock_guard g(m);
        ++calls;
        return next;
    });
    server.send_empty("/nsm/client/save");
    Msg r = server.wait_for("/reply");
    CHECK(r.types == "ss");
    CHECK(r.s(0) == "/nsm/client/save");
    CHECK(r.s(1) == "saved 3 loops");
    CHECK(calls_now() == 1);

    {
        std::lock_guard g(m);
        next = {kNsmGeneral, "disk full"};
    }
    server.send_empty("/nsm/client/save");
    e = server.wait_for("/error");
    CHECK(e.types == "sis");
    CHECK(e.s(0) == "/nsm/client/save");
    CHECK(e.i(1) == -1);
    CHECK(e.s(2) == "disk full");
    CHECK(calls_now() == 2);

    client.on_save([]() -> NsmResult { throw std::runtime_error("boom"); });
    server.send_empty("/nsm/client/save");
    e = server.wait_for("/error");
    CHECK(e.i(1) == kNsmGeneral);
    CHECK(e.s(2) == "boom");
}

TEST_CASE("set_dirty sends is_dirty / is_clean only on a change; nothing before the announce") {
    FakeServer server;
    NsmClient client(server.url());
    client.set_dirty(true);  // before the announce: only noted
    client.message(2, "too early");
    announced(client, server);
    client.set_dirty(true);  // first after: sends
    client.set_dirty(true);
    client.set_dirty(false);
    client.set_dirty(false);
    client.set_dirty(true);
    client.message(3, "marker");
    const std::vector<Msg> got = server.until("/nsm/client/message");
    CHECK(paths(got) == std::vector<std::string>{"/nsm/client/is_dirty", "/nsm/client/is_clean", "/nsm/client/is_dirty",
                                                 "/nsm/client/message"});
    for (size_t k = 0; k + 1 < got.size(); ++k) CHECK(got[k].types.empty());
    CHECK(got.back().s(1) == "marker");  // "too early" was dropped
}

TEST_CASE("message sends priority (clamped to 0..3) and text") {
    FakeServer server;
    NsmClient client(server.url());
    announced(client, server);
    client.message(2, "3 connections not restored");
    Msg m = server.wait_for("/nsm/client/message");
    CHECK(m.types == "is");
    CHECK(m.i(0) == 2);
    CHECK(m.s(1) == "3 connections not restored");
    client.message(9, "loud");
    CHECK(server.wait_for("/nsm/client/message").i(0) == 3);
    client.message(-4, "quiet");
    CHECK(server.wait_for("/nsm/client/message").i(0) == 0);
}

TEST_CASE("a later open is refused unless a handler is set; session_is_loaded needs no answer") {
    FakeServer server;
    NsmClient client(server.url());
    announced(client, server);
    client.reply_open({});
    server.wait_for("/reply");

    server.send_empty("/nsm/client/session_is_loaded");
    server.send_open({"/tmp/other/looprig.nXYZ", "other", "looprig.nXYZ"});
    const std::vector<Msg> got = server.until("/error");
    REQUIRE(got.size() == 1);  // no answer to session_is_loaded before the open's
    const Msg& e = got[0];
    CHECK(e.s(0) == "/nsm/client/open");
    CHECK(e.i(1) == kNsmGeneral);
    CHECK(e.s(2).find("cannot switch") != std::string::npos);
}

TEST_CASE("with an open handler set before announce, ':switch:' is advertised and later opens go to it") {
    FakeServer server;
    NsmClient client(server.url());
    std::mutex m;  // `seen` is shared with the handler on liblo's thread
    std::vector<NsmOpenRequest> seen;
    const auto seen_now = [&] {
        std::lock_guard g(m);
        return seen;
    };
    client.on_open([&](const NsmOpenRequest& r) {
        std::lock_guard g(m);
        seen.push_back(r);
        return NsmResult{kNsmOk, "switched"};
    });
    CHECK(client.capabilities() == ":dirty:message:switch:");
    announced(client, server);
    client.reply_open({});
    server.wait_for("/reply");
    CHECK(seen_now().empty());  // the first open is announce()'s
    server.send_open({"/tmp/other/looprig.nXYZ", "other", "looprig.nXYZ"});
    const Msg r = server.wait_for("/reply");
    CHECK(r.s(0) == "/nsm/client/open");
    CHECK(r.s(1) == "switched");
    const auto got = seen_now();
    REQUIRE(got.size() == 1);
    CHECK(got[0].client_id == "looprig.nXYZ");
}

TEST_CASE("optional GUI: advertised only with a handler; initial state sent after the announce; show/hide") {
    SUBCASE("not advertised by default, and show/hide are ignored") {
        FakeServer server;
        NsmClient client(server.url());
        announced(client, server);
        server.send_empty("/nsm/client/show_optional_gui");
        client.set_gui_shown(true);
        client.message(0, "marker");
        CHECK(paths(server.until("/nsm/client/message")) == std::vector<std::string>{"/nsm/client/message"});
    }
    SUBCASE("advertised") {
        FakeServer server;
        NsmClient client(server.url());
        std::mutex m;
        std::vector<bool> asked;
        client.on_optional_gui([&](bool show) {
            std::lock_guard g(m);
            asked.push_back(show);
        });
        const auto wait_asked = [&](size_t n) {
            for (int k = 0; k < 100; ++k) {
                {
                    std::lock_guard g(m);
                    if (asked.size() >= n) break;
                }
                std::this_thread::sleep_for(10ms);
            }
        };
        client.announce("looprigd", 2.0);
        CHECK(server.wait_for("/nsm/server/announce").s(1) == ":dirty:message:optional-gui:");
        server.wait_for("/nsm/client/gui_is_hidden");
        server.send_empty("/nsm/client/show_optional_gui");
        server.send_empty("/nsm/client/hide_optional_gui");
        wait_asked(2);
        client.set_gui_shown(true);
        client.set_gui_shown(true);
        client.message(0, "marker");
        std::vector<Msg> got = server.until("/nsm/client/message");
        CHECK(paths(got) == std::vector<std::string>{"/nsm/client/gui_is_shown", "/nsm/client/message"});
        // A request is answered with the state even when it did not change (a GUI that failed to start).
        server.send_empty("/nsm/client/show_optional_gui");
        wait_asked(3);
        client.set_gui_shown(true);
        client.set_gui_shown(true);
        client.message(0, "marker");
        got = server.until("/nsm/client/message");
        CHECK(paths(got) == std::vector<std::string>{"/nsm/client/gui_is_shown", "/nsm/client/message"});
        std::lock_guard g(m);
        CHECK(asked == std::vector<bool>{true, false, true});
    }
}

TEST_CASE("a server /error to the announce makes announce throw with the URL and the server's message") {
    FakeServer server(FakeServer::Mode::refuse, kNsmBlacklisted);
    NsmClient client(server.url());
    const std::string what = what_of([&] { client.announce("looprigd", 2.0); });
    CHECK(what.find(server.url()) != std::string::npos);
    CHECK(what.find("go away") != std::string::npos);
    CHECK(what.find("-3") != std::string::npos);
}

TEST_CASE("an incompatible-API /error says so") {
    FakeServer server(FakeServer::Mode::refuse, kNsmIncompatibleApi);
    NsmClient client(server.url());
    const std::string what = what_of([&] { client.announce("looprigd", 2.0); });
    CHECK(what.find("incompatible API") != std::string::npos);
    CHECK(what.find("1.1") != std::string::npos);
}

TEST_CASE("a silent server makes announce throw after the timeout, naming the URL") {
    FakeServer server(FakeServer::Mode::silent);
    NsmClient client(server.url());
    const auto t0 = std::chrono::steady_clock::now();
    const std::string what = what_of([&] { client.announce("looprigd", 0.3); });
    const auto waited = std::chrono::steady_clock::now() - t0;
    CHECK(waited >= 290ms);
    CHECK(waited < 2s);
    CHECK(what.find(server.url()) != std::string::npos);
    CHECK(what.find("did not answer") != std::string::npos);
    server.wait_for("/nsm/server/announce");  // it was sent
}

TEST_CASE("announce waits for the open when it comes a while after the reply") {
    FakeServer server(FakeServer::Mode::reply_and_open, kNsmGeneral, 300ms);
    NsmClient client(server.url());
    const auto t0 = std::chrono::steady_clock::now();
    const NsmOpenRequest open = client.announce("looprigd", 2.0);
    CHECK(std::chrono::steady_clock::now() - t0 >= 290ms);
    CHECK(open.client_id == "looprig.nABCD");
}

TEST_CASE("a server that acknowledges but never opens makes announce throw, saying so") {
    FakeServer server(FakeServer::Mode::reply_only);
    NsmClient client(server.url());
    const std::string what = what_of([&] { client.announce("looprigd", 0.3); });
    CHECK(what.find(server.url()) != std::string::npos);
    CHECK(what.find("/nsm/client/open") != std::string::npos);
}

TEST_CASE("an unreachable server (nobody on the port) is a timeout, not a hang") {
    std::string url;
    {
        FakeServer gone(FakeServer::Mode::silent);
        url = gone.url();
    }  // its port is free again
    NsmClient client(url);
    const std::string what = what_of([&] { client.announce("looprigd", 0.2); });
    CHECK(what.find(url) != std::string::npos);
}

// ---- the optional GUI's child process (gui_process.hpp) ----

TEST_CASE("split_command splits on blanks, without quoting") {
    CHECK(split_command("") == std::vector<std::string>{});
    CHECK(split_command(" \t\n") == std::vector<std::string>{});
    CHECK(split_command("/usr/bin/gui") == std::vector<std::string>{"/usr/bin/gui"});
    CHECK(split_command("  /usr/bin/python3 -m\tlooprig \n") ==
          std::vector<std::string>{"/usr/bin/python3", "-m", "looprig"});
    CHECK(split_command("a 'b c'") == std::vector<std::string>{"a", "'b", "c'"});
}

namespace {

/// A context whose files are `files` (the executable ones marked with a
/// trailing '*').
GuiCommandContext fake_context(std::set<std::string> files, std::string self_exe, std::string path = "",
                               std::string override_command = "") {
    std::set<std::string> plain, executable;
    for (const auto& f : files) {
        if (!f.empty() && f.back() == '*') {
            executable.insert(f.substr(0, f.size() - 1));
            plain.insert(f.substr(0, f.size() - 1));
        } else {
            plain.insert(f);
        }
    }
    GuiCommandContext c;
    c.engine_name = "looprig.nTEST";
    c.override_command = std::move(override_command);
    c.self_exe = std::move(self_exe);
    c.path = std::move(path);
    c.is_file = [plain](const std::string& p) { return plain.count(p) > 0; };
    c.is_executable = [executable](const std::string& p) { return executable.count(p) > 0; };
    return c;
}

using Words = std::vector<std::string>;

}  // namespace

TEST_CASE("resolve_gui_command: LOOPRIG_GUI_COMMAND, the build tree's pyclient, beside the engine, PATH, python3") {
    const std::string py = "/usr/bin/python3*";
    const std::string tree_main = "/src/looprig/pyclient/looprig/__main__.py";
    SUBCASE("LOOPRIG_GUI_COMMAND wins, split on blanks, with --name NAME gui appended") {
        const GuiCommand c = resolve_gui_command(
            fake_context({py, tree_main}, "/src/looprig/build/engine/looprigd", "/usr/bin", " /opt/gui.sh  -v "));
        CHECK(c.argv == Words{"/opt/gui.sh", "-v", "--name", "looprig.nTEST", "gui"});
        CHECK(c.pythonpath == "");
    }
    SUBCASE("a blank LOOPRIG_GUI_COMMAND counts as unset") {
        const GuiCommand c =
            resolve_gui_command(fake_context({py, tree_main}, "/src/looprig/build/engine/looprigd", "", "  "));
        CHECK(c.argv[0] == "/usr/bin/python3");
    }
    SUBCASE("an engine in a build tree: python3 -m looprig with the tree's pyclient on PYTHONPATH") {
        const GuiCommand c = resolve_gui_command(
            fake_context({py, tree_main, "/usr/local/bin/looprig*"}, "/src/looprig/build/engine/looprigd",
                         "/usr/local/bin:/usr/bin"));
        CHECK(c.argv == Words{"/usr/bin/python3", "-m", "looprig", "--name", "looprig.nTEST", "gui"});
        CHECK(c.pythonpath == "/src/looprig/pyclient");
    }
    SUBCASE("installed: the looprig command beside the engine, before PATH's") {
        const GuiCommand c = resolve_gui_command(fake_context({py, "/opt/lr/bin/looprig*", "/usr/bin/looprig*"},
                                                              "/opt/lr/bin/looprigd", "/usr/bin"));
        CHECK(c.argv == Words{"/opt/lr/bin/looprig", "--name", "looprig.nTEST", "gui"});
        CHECK(c.pythonpath == "");
    }
    SUBCASE("a looprig beside the engine that is not executable does not count; then the first on PATH") {
        const GuiCommand c = resolve_gui_command(
            fake_context({py, "/opt/lr/bin/looprig", "/home/u/bin/looprig*", "/usr/bin/looprig*"},
                         "/opt/lr/bin/looprigd", "relative/bin:/nothing::/home/u/bin:/usr/bin"));
        CHECK(c.argv == Words{"/home/u/bin/looprig", "--name", "looprig.nTEST", "gui"});
    }
    SUBCASE("relative PATH entries are skipped") {
        const GuiCommand c =
            resolve_gui_command(fake_context({py, "bin/looprig*"}, "/opt/lr/bin/looprigd", "bin"));
        CHECK(c.argv == Words{"/usr/bin/python3", "-m", "looprig", "--name", "looprig.nTEST", "gui"});
    }
    SUBCASE("nothing found: python3 -m looprig as it is; python3 from PATH without /usr/bin/python3") {
        CHECK(resolve_gui_command(fake_context({py}, "/opt/lr/bin/looprigd", "/usr/bin")).argv ==
              Words{"/usr/bin/python3", "-m", "looprig", "--name", "looprig.nTEST", "gui"});
        const GuiCommand c = resolve_gui_command(fake_context({}, "", ""));
        CHECK(c.argv == Words{"python3", "-m", "looprig", "--name", "looprig.nTEST", "gui"});
        CHECK(c.pythonpath == "");
    }
}

TEST_CASE("gui_command_context reads LOOPRIG_GUI_COMMAND, PATH and /proc/self/exe") {
    ::setenv("LOOPRIG_GUI_COMMAND", "/bin/true -x", 1);
    const GuiCommandContext c = gui_command_context("eng");
    ::unsetenv("LOOPRIG_GUI_COMMAND");
    CHECK(c.engine_name == "eng");
    CHECK(c.override_command == "/bin/true -x");
    CHECK(c.self_exe == std::filesystem::canonical("/proc/self/exe").string());
    CHECK(c.is_file(c.self_exe));
    CHECK(c.is_executable(c.self_exe));
    CHECK_FALSE(c.is_file("/"));
    CHECK_FALSE(c.is_executable("/etc/passwd"));
    CHECK(resolve_gui_command(c).argv == Words{"/bin/true", "-x", "--name", "eng", "gui"});
}

TEST_CASE("gui_environment: everything but NSM_URL, the folder first on PYTHONPATH") {
    const Words env{"HOME=/root", "NSM_URL=osc.udp://h:1/", "LOOPRIG_LIB=/b/lib.so", "PYTHONPATH=/a:/b",
                    "NSM_URL_NOT=kept", "DISPLAY=:0"};
    CHECK(gui_environment(env, "/src/pyclient") == Words{"HOME=/root", "LOOPRIG_LIB=/b/lib.so",
                                                         "PYTHONPATH=/src/pyclient:/a:/b", "NSM_URL_NOT=kept",
                                                         "DISPLAY=:0"});
    CHECK(gui_environment(env, "") ==
          Words{"HOME=/root", "LOOPRIG_LIB=/b/lib.so", "PYTHONPATH=/a:/b", "NSM_URL_NOT=kept", "DISPLAY=:0"});
    CHECK(gui_environment({"A=1", "PYTHONPATH="}, "/p") == Words{"A=1", "PYTHONPATH=/p"});
    CHECK(gui_environment({"A=1"}, "/p") == Words{"A=1", "PYTHONPATH=/p"});
}

TEST_CASE("describe_wait_status") {
    CHECK(describe_wait_status(3 << 8) == "exited with status 3");
    CHECK(describe_wait_status(0) == "exited with status 0");
    CHECK(describe_wait_status(SIGSEGV).find("was killed by signal 11") == 0);
}

namespace {

/// GuiProcess's reports, kept for the test.
struct Reports {
    std::mutex m;
    std::condition_variable cv;
    std::vector<std::pair<bool, std::string>> got;

    GuiProcess::Report sink() {
        return [this](bool shown, const std::string& problem) {
            {
                std::lock_guard g(m);
                got.emplace_back(shown, problem);
            }
            cv.notify_all();
        };
    }
    /// Waits for the `n`th report (1-based) and returns it.
    std::pair<bool, std::string> nth(size_t n, std::chrono::milliseconds timeout = 3000ms) {
        std::unique_lock lock(m);
        if (!cv.wait_for(lock, timeout, [&] { return got.size() >= n; })) {
            FAIL_CHECK("no report #" << n << " within " << timeout.count() << " ms (" << got.size() << " so far)");
            return {false, "(none)"};
        }
        return got[n - 1];
    }
    size_t count() {
        std::lock_guard g(m);
        return got.size();
    }
};

GuiCommand command(Words argv, std::string pythonpath = "") { return {std::move(argv), std::move(pythonpath)}; }

/// `pid` is no child of ours any more (reaped: no zombie left).
bool reaped(pid_t pid) {
    int status;
    return ::waitpid(pid, &status, WNOHANG) < 0 && errno == ECHILD;
}

std::string read_file(const std::filesystem::path& p) {
    std::ifstream in(p);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

/// Fields of /proc/PID/stat after the command: state, ppid, pgrp.
struct ProcStat {
    char state = '?';
    long ppid = 0, pgrp = 0;
};
ProcStat proc_stat(pid_t pid) {
    const std::string s = read_file("/proc/" + std::to_string(pid) + "/stat");
    ProcStat st;
    const auto close = s.rfind(')');
    if (close != std::string::npos) std::sscanf(s.c_str() + close + 1, " %c %ld %ld", &st.state, &st.ppid, &st.pgrp);
    return st;
}

}  // namespace

TEST_CASE("GuiProcess: show starts the GUI once, in a group of its own, with none of our descriptors; hide ends it") {
    Reports reports;
    GuiProcess gui;
    gui.on_report(reports.sink());
    gui.set_command(command({"/bin/sleep", "30"}));
    const int ours = ::open("/dev/null", O_RDONLY);  // no O_CLOEXEC: inherited by a plain fork+exec
    REQUIRE(ours > 2);
    gui.show();
    ::close(ours);
    CHECK(reports.nth(1) == std::pair<bool, std::string>{true, ""});
    const pid_t pid = gui.pid();
    REQUIRE(pid > 0);
    const ProcStat st = proc_stat(pid);
    CHECK(st.ppid == ::getpid());
    CHECK(st.pgrp == pid);
    std::set<std::string> fds;
    for (const auto& e : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd"))
        fds.insert(e.path().filename().string());
    CHECK(fds.count(std::to_string(ours)) == 0);
    CHECK(std::filesystem::read_symlink("/proc/" + std::to_string(pid) + "/fd/0") == "/dev/null");

    gui.show();  // already shown: said again, no second process
    CHECK(reports.nth(2) == std::pair<bool, std::string>{true, ""});
    CHECK(gui.pid() == pid);

    const auto t0 = std::chrono::steady_clock::now();
    gui.hide();
    CHECK(std::chrono::steady_clock::now() - t0 < 2s);
    CHECK(reports.nth(3) == std::pair<bool, std::string>{false, ""});
    CHECK(gui.pid() == -1);
    CHECK(reaped(pid));
    gui.hide();  // nothing to end: hidden all the same
    CHECK(reports.nth(4) == std::pair<bool, std::string>{false, ""});
    gui.show();  // and again
    CHECK(reports.nth(5) == std::pair<bool, std::string>{true, ""});
    CHECK(gui.pid() > 0);
    CHECK(gui.pid() != pid);
}

TEST_CASE("GuiProcess: the GUI gets an empty signal mask and default dispositions (SIGTERM ends it at once)") {
    Reports reports;
    GuiProcess gui(10000ms);
    gui.on_report(reports.sink());
    gui.set_command(command({"sleep", "30"}));  // from PATH
    sigset_t term, old;
    sigemptyset(&term);
    sigaddset(&term, SIGTERM);
    REQUIRE(::pthread_sigmask(SIG_BLOCK, &term, &old) == 0);
    struct sigaction ignore {}, previous {};
    ignore.sa_handler = SIG_IGN;
    ::sigaction(SIGTERM, &ignore, &previous);
    gui.show();
    ::sigaction(SIGTERM, &previous, nullptr);
    ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
    REQUIRE(reports.nth(1).first);
    const pid_t pid = gui.pid();
    const auto t0 = std::chrono::steady_clock::now();
    gui.hide();
    CHECK(std::chrono::steady_clock::now() - t0 < 2s);  // not the 10 s grace: SIGTERM did it
    CHECK(reports.nth(2) == std::pair<bool, std::string>{false, ""});
    CHECK(reaped(pid));
}

TEST_CASE("GuiProcess: a GUI that ignores SIGTERM is killed after the grace time, its whole group") {
    Reports reports;
    GuiProcess gui(300ms);
    gui.on_report(reports.sink());
    const auto marker = std::filesystem::temp_directory_path() / ("looprig-gui-test-" + std::to_string(::getpid()));
    std::filesystem::remove(marker);
    // The shell ignores SIGTERM and waits for a child of its own (in its group).
    gui.set_command(command({"/bin/sh", "-c", "trap '' TERM; sleep 30 & echo $! > " + marker.string() + "; wait"}));
    gui.show();
    REQUIRE(reports.nth(1).first);
    const pid_t pid = gui.pid();
    for (int k = 0; k < 200 && read_file(marker).empty(); ++k) std::this_thread::sleep_for(10ms);
    const pid_t grandchild = static_cast<pid_t>(std::atol(read_file(marker).c_str()));
    REQUIRE(grandchild > 0);
    const auto t0 = std::chrono::steady_clock::now();
    gui.hide();
    const auto took = std::chrono::steady_clock::now() - t0;
    CHECK(took >= 290ms);
    CHECK(took < 3s);
    CHECK(reports.nth(2) == std::pair<bool, std::string>{false, ""});
    CHECK(reaped(pid));
    // The grandchild (sleep) got SIGKILL with the group: gone, or a zombie for init to reap.
    for (int k = 0; k < 200 && ::kill(grandchild, 0) == 0 && proc_stat(grandchild).state != 'Z'; ++k)
        std::this_thread::sleep_for(10ms);
    CHECK((::kill(grandchild, 0) != 0 || proc_stat(grandchild).state == 'Z'));
    std::filesystem::remove(marker);
}

TEST_CASE("GuiProcess: a GUI exiting by itself is reaped and reported hidden; an error status is a problem") {
    Reports reports;
    GuiProcess gui;
    gui.on_report(reports.sink());
    SUBCASE("status 0 (the window closed): hidden, no problem") {
        gui.set_command(command({"/bin/sh", "-c", "sleep 0.2"}));
        gui.show();
        REQUIRE(reports.nth(1).first);
        const pid_t pid = gui.pid();
        CHECK(reports.nth(2) == std::pair<bool, std::string>{false, ""});
        CHECK(gui.pid() == -1);
        CHECK(reaped(pid));
    }
    SUBCASE("status 3: hidden, and why") {
        gui.set_command(command({"/bin/sh", "-c", "exit 3"}));
        gui.show();
        REQUIRE(reports.nth(1).first);
        const pid_t pid = gui.pid();
        const auto r = reports.nth(2);
        CHECK_FALSE(r.first);
        CHECK(r.second == "looprig's GUI (pid " + std::to_string(pid) + ") exited with status 3");
        CHECK(reaped(pid));
    }
    SUBCASE("killed (a crash, the OOM killer): hidden, and the signal") {
        gui.set_command(command({"/bin/sh", "-c", "kill -KILL $$"}));
        gui.show();
        REQUIRE(reports.nth(1).first);
        const auto r = reports.nth(2);
        CHECK_FALSE(r.first);
        CHECK(r.second.find("was killed by signal 9") != std::string::npos);
    }
}

TEST_CASE("GuiProcess: a GUI that cannot start is reported hidden with the reason; no command yet, likewise") {
    Reports reports;
    GuiProcess gui;
    gui.on_report(reports.sink());
    gui.show();
    auto r = reports.nth(1);
    CHECK_FALSE(r.first);
    CHECK(r.second.find("not open") != std::string::npos);

    gui.set_command(command({"/nonexistent/looprig-gui", "--name", "x", "gui"}));
    gui.show();
    r = reports.nth(2);
    CHECK_FALSE(r.first);
    CHECK(r.second == "cannot start looprig's GUI (/nonexistent/looprig-gui --name x gui): No such file or directory");
    CHECK(gui.pid() == -1);

    gui.set_command(command({"looprig-no-such-command-on-path"}));
    gui.show();
    r = reports.nth(3);
    CHECK_FALSE(r.first);
    CHECK(r.second.find("No such file") != std::string::npos);
}

TEST_CASE("GuiProcess: the child's environment is ours but NSM_URL, with the pythonpath first") {
    const auto out = std::filesystem::temp_directory_path() / ("looprig-gui-env-" + std::to_string(::getpid()));
    std::filesystem::remove(out);
    ::setenv("NSM_URL", "osc.udp://localhost:1/", 1);
    ::setenv("LOOPRIG_LIB", "/somewhere/liblooprig-shm.so.0", 1);
    ::setenv("PYTHONPATH", "/old", 1);
    Reports reports;
    {
        GuiProcess gui;
        gui.on_report(reports.sink());
        gui.set_command(command({"/bin/sh", "-c",
                                 "echo \"$PYTHONPATH|${NSM_URL-unset}|$LOOPRIG_LIB\" > " + out.string()},
                                "/src/pyclient"));
        gui.show();
        CHECK(reports.nth(2) == std::pair<bool, std::string>{false, ""});  // it exited by itself, status 0
    }
    ::unsetenv("NSM_URL");
    ::unsetenv("LOOPRIG_LIB");
    ::unsetenv("PYTHONPATH");
    CHECK(read_file(out) == "/src/pyclient:/old|unset|/somewhere/liblooprig-shm.so.0\n");
    std::filesystem::remove(out);
}

TEST_CASE("GuiProcess: stop() ends the GUI and refuses later shows; the destructor ends it too, silently") {
    Reports reports;
    pid_t pid;
    {
        GuiProcess gui;
        gui.on_report(reports.sink());
        gui.set_command(command({"/bin/sleep", "30"}));
        gui.show();
        REQUIRE(reports.nth(1).first);
        pid = gui.pid();
        gui.stop();
        CHECK(reports.nth(2) == std::pair<bool, std::string>{false, ""});
        CHECK(reaped(pid));
        gui.show();
        CHECK(reports.nth(3) == std::pair<bool, std::string>{false, ""});
        CHECK(gui.pid() == -1);
    }
    {
        GuiProcess gui;
        gui.on_report(reports.sink());
        gui.set_command(command({"/bin/sleep", "30"}));
        gui.show();
        REQUIRE(reports.nth(4).first);
        pid = gui.pid();
    }
    CHECK(reaped(pid));
    CHECK(reports.count() == 4);
}
