// The NSM client (nsm.hpp): liblo's callbacks, run on its server thread, and
// the sends, serialized on one mutex (they all go out of the one UDP socket the
// server thread also reads: sendto and recvfrom on a UDP socket may overlap).
#include "nsm.hpp"

#include <lo/lo.h>

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <utility>

#include <unistd.h>

namespace looprig {

namespace {

// liblo reports errors through a handler without user data; the constructor
// reads what it said on its own thread.
thread_local std::string lo_last_error;

void on_lo_error(int num, const char* msg, const char* where) {
    lo_last_error = fmt::format("{} ({}{}{})", msg ? msg : "liblo error", num, where ? ", " : "", where ? where : "");
}

void add(lo_message m, const char* s) { lo_message_add_string(m, s); }
void add(lo_message m, const std::string& s) { lo_message_add_string(m, s.c_str()); }
void add(lo_message m, int i) { lo_message_add_int32(m, i); }

template <typename... Args>
lo_message make_message(const Args&... args) {
    lo_message m = lo_message_new();
    if (!m) throw std::bad_alloc();
    (add(m, args), ...);
    return m;
}

/// argv[i] as a string if the message has one there (OSC 's' or 'S').
std::optional<std::string> string_arg(const char* types, lo_arg** argv, int argc, int i) {
    if (i >= argc || !types || static_cast<int>(std::strlen(types)) <= i) return std::nullopt;
    if (types[i] != LO_STRING && types[i] != LO_SYMBOL) return std::nullopt;
    return std::string(&argv[i]->s);
}

std::optional<int> int_arg(const char* types, lo_arg** argv, int argc, int i) {
    if (i >= argc || !types || static_cast<int>(std::strlen(types)) <= i) return std::nullopt;
    if (types[i] == LO_INT32) return argv[i]->i;
    if (types[i] == LO_INT64) return static_cast<int>(argv[i]->h);
    return std::nullopt;
}

std::string error_text(int code, const std::string& message) {
    return message.empty() ? fmt::format("error {}", code) : message;
}

}  // namespace

// liblo's callbacks (friend of NsmClient). Each returns 0: message handled.
struct NsmHandlers {
    static NsmClient& client(void* self) { return *static_cast<NsmClient*>(self); }

    static int reply(const char*, const char* types, lo_arg** argv, int argc, lo_message msg, void* self) {
        NsmClient& c = client(self);
        if (string_arg(types, argv, argc, 0) != "/nsm/server/announce") return 0;  // not ours to handle
        // Answer from now on to where the server answered from (nsmd: the socket of NSM_URL).
        if (lo_address source = lo_message_get_source(msg)) {
            if (char* source_url = lo_address_get_url(source)) {
                if (lo_address a = lo_address_new_from_url(source_url)) {
                    std::lock_guard g(c.send_mutex_);
                    lo_address_free(static_cast<lo_address>(c.server_address_));
                    c.server_address_ = a;
                }
                std::free(source_url);
            }
        }
        std::lock_guard g(c.mutex_);
        if (c.acknowledged_) return 0;
        c.acknowledged_ = true;
        c.server_name_ = string_arg(types, argv, argc, 2).value_or("");
        c.server_capabilities_ = string_arg(types, argv, argc, 3).value_or("");
        if (c.advertised_gui_) c.send_gui_locked();  // the API: the GUI's state right after the announce
        c.changed_.notify_all();
        return 0;
    }

    static int error(const char*, const char* types, lo_arg** argv, int argc, lo_message, void* self) {
        NsmClient& c = client(self);
        if (string_arg(types, argv, argc, 0) != "/nsm/server/announce") return 0;  // nothing we wait for
        const int code = int_arg(types, argv, argc, 1).value_or(kNsmGeneral);
        const std::string message = string_arg(types, argv, argc, 2).value_or("");
        std::string why;
        if (code == kNsmIncompatibleApi)
            why = fmt::format("the NSM server at {} refuses looprig's NSM API version {}.{} (incompatible API, "
                              "error {}): {}",
                              c.url_, NsmClient::kApiMajor, NsmClient::kApiMinor, code, error_text(code, message));
        else
            why = fmt::format("the NSM server at {} refused looprig's announce (error {}{}): {}", c.url_, code,
                              code == kNsmBlacklisted ? ", blacklisted" : "", error_text(code, message));
        std::lock_guard g(c.mutex_);
        if (!c.acknowledged_ && !c.refusal_) c.refusal_ = why;
        c.changed_.notify_all();
        return 0;
    }

    static int open(const char* path, const char* types, lo_arg** argv, int argc, lo_message, void* self) {
        NsmClient& c = client(self);
        const auto p = string_arg(types, argv, argc, 0), d = string_arg(types, argv, argc, 1),
                   id = string_arg(types, argv, argc, 2);
        if (!p || !d || !id) {
            c.answer(path, {kNsmGeneral, "looprig: /nsm/client/open needs three strings (path, display name, client id)"},
                     "");
            return 0;
        }
        NsmOpenRequest request{*p, *d, *id};
        std::function<NsmResult(const NsmOpenRequest&)> handler;
        {
            std::lock_guard g(c.mutex_);
            if (!c.first_open_) {  // the open announce() waits for; reply_open() answers it
                c.first_open_ = std::move(request);
                c.changed_.notify_all();
                return 0;
            }
            handler = c.open_handler_;
        }
        NsmResult r{kNsmGeneral, "looprig cannot switch sessions; restart it"};
        if (handler) r = run(handler, request);
        c.answer(path, r, "Loaded.");
        return 0;
    }

    static int save(const char* path, const char*, lo_arg**, int, lo_message, void* self) {
        NsmClient& c = client(self);
        std::function<NsmResult()> handler;
        {
            std::lock_guard g(c.mutex_);
            handler = c.save_handler_;
        }
        NsmResult r{kNsmNotNow, "looprig is not ready to save yet"};
        if (handler) r = run(handler);
        c.answer(path, r, "Saved.");
        return 0;
    }

    static int gui(const char* path, const char*, lo_arg**, int, lo_message, void* self) {
        NsmClient& c = client(self);
        std::function<void(bool)> handler;
        {
            std::lock_guard g(c.mutex_);
            if (c.advertised_gui_) handler = c.gui_handler_;
            // The state set_gui_shown() reports next answers this request: sent even if unchanged
            // (the GUI may have failed to start; the manager may have assumed the change).
            if (handler) c.gui_sent_.reset();
        }
        if (handler) {
            try {
                handler(std::strcmp(path, "/nsm/client/show_optional_gui") == 0);
            } catch (...) {  // nothing to answer; the GUI's state is reported by set_gui_shown()
            }
        }
        return 0;
    }

    /// /nsm/client/session_is_loaded (optional, needs no answer) and anything else.
    static int ignore(const char*, const char*, lo_arg**, int, lo_message, void*) { return 0; }

    template <typename F, typename... Args>
    static NsmResult run(const F& handler, const Args&... args) {
        try {
            return handler(args...);
        } catch (const std::exception& e) {
            return {kNsmGeneral, e.what()};
        } catch (...) {
            return {kNsmGeneral, "looprig: unknown error"};
        }
    }
};

std::string NsmClient::url_from_environment() {
    const char* url = std::getenv("NSM_URL");
    return url ? url : "";
}

NsmClient::NsmClient(const std::string& url) : url_(url) {
    const auto malformed = [&](const std::string& why) {
        return std::runtime_error(fmt::format("NSM_URL '{}' is not a usable NSM server URL: {}", url, why));
    };
    if (url.empty()) throw malformed("it is empty");
    const int proto = lo_url_get_protocol_id(url.c_str());
    if (proto < 0) throw malformed("expected osc.udp://HOST:PORT/");
    if (proto != LO_UDP) throw malformed("looprig speaks NSM over UDP only (osc.udp://HOST:PORT/), as nsmd does");
    lo_address address = lo_address_new_from_url(url.c_str());
    if (!address) throw malformed("expected osc.udp://HOST:PORT/");
    const char* port = lo_address_get_port(address);
    char* end = nullptr;
    const long port_number = port ? std::strtol(port, &end, 10) : 0;
    if (!port || !port[0] || *end || port_number < 1 || port_number > 65535) {
        lo_address_free(address);
        throw malformed("no port number (expected osc.udp://HOST:PORT/)");
    }
    server_address_ = address;

    lo_last_error.clear();
    lo_server_thread thread = lo_server_thread_new_with_proto(nullptr, LO_UDP, on_lo_error);
    if (!thread) {
        lo_address_free(address);
        throw std::runtime_error(fmt::format("cannot start an OSC server for the NSM server at {}: {}", url,
                                             lo_last_error.empty() ? "liblo failed" : lo_last_error));
    }
    thread_ = thread;
    server_ = lo_server_thread_get_server(thread);
    lo_server_thread_add_method(thread, "/reply", nullptr, NsmHandlers::reply, this);
    lo_server_thread_add_method(thread, "/error", nullptr, NsmHandlers::error, this);
    lo_server_thread_add_method(thread, "/nsm/client/open", nullptr, NsmHandlers::open, this);
    lo_server_thread_add_method(thread, "/nsm/client/save", nullptr, NsmHandlers::save, this);
    lo_server_thread_add_method(thread, "/nsm/client/show_optional_gui", nullptr, NsmHandlers::gui, this);
    lo_server_thread_add_method(thread, "/nsm/client/hide_optional_gui", nullptr, NsmHandlers::gui, this);
    lo_server_thread_add_method(thread, nullptr, nullptr, NsmHandlers::ignore, this);  // session_is_loaded, ...
    if (lo_server_thread_start(thread) < 0) {
        lo_server_thread_free(thread);
        lo_address_free(address);
        throw std::runtime_error(fmt::format("cannot start the OSC server thread for the NSM server at {}: {}", url,
                                             lo_last_error.empty() ? "liblo failed" : lo_last_error));
    }
}

NsmClient::~NsmClient() {
    // Stops (joins) liblo's thread first: no callback runs after this.
    lo_server_thread_stop(static_cast<lo_server_thread>(thread_));
    lo_server_thread_free(static_cast<lo_server_thread>(thread_));
    lo_address_free(static_cast<lo_address>(server_address_));
}

int NsmClient::send(const char* path, void* msg) {
    const auto m = static_cast<lo_message>(msg);
    int n;
    {
        std::lock_guard g(send_mutex_);
        n = lo_send_message_from(static_cast<lo_address>(server_address_), static_cast<lo_server>(server_), path, m);
    }
    lo_message_free(m);
    return n;
}

void NsmClient::answer(const char* path, const NsmResult& r, const char* ok_message) {
    if (r.code == kNsmOk)
        send("/reply", make_message(path, r.message.empty() ? std::string(ok_message) : r.message));
    else
        send("/error", make_message(path, r.code, error_text(r.code, r.message)));
}

std::string NsmClient::capabilities() const {
    std::lock_guard g(mutex_);
    return capabilities_locked();
}

std::string NsmClient::capabilities_locked() const {
    const bool with_switch = announce_called_ ? advertised_switch_ : static_cast<bool>(open_handler_);
    const bool with_gui = announce_called_ ? advertised_gui_ : static_cast<bool>(gui_handler_);
    return std::string(":dirty:message:") + (with_switch ? "switch:" : "") + (with_gui ? "optional-gui:" : "");
}

NsmOpenRequest NsmClient::announce(const std::string& executable, double timeout_seconds) {
    std::string caps;
    {
        std::lock_guard g(mutex_);
        if (announce_called_) throw std::logic_error("NsmClient::announce() called twice");
        announce_called_ = true;
        advertised_switch_ = static_cast<bool>(open_handler_);
        advertised_gui_ = static_cast<bool>(gui_handler_);
        caps = capabilities_locked();
    }
    const auto deadline = std::chrono::steady_clock::now() +
                          std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                              std::chrono::duration<double>(std::max(0.0, timeout_seconds)));
    if (send("/nsm/server/announce", make_message(kApplicationName, caps, executable, kApiMajor, kApiMinor,
                                                  static_cast<int>(::getpid()))) < 0) {
        std::lock_guard g(send_mutex_);
        const char* why = lo_address_errstr(static_cast<lo_address>(server_address_));
        throw std::runtime_error(fmt::format("cannot send the announce to the NSM server at {}: {}", url_,
                                             why && why[0] ? why : "liblo failed"));
    }
    std::unique_lock lock(mutex_);
    changed_.wait_until(lock, deadline, [&] { return refusal_ || (acknowledged_ && first_open_); });
    if (refusal_) throw std::runtime_error(*refusal_);
    if (!acknowledged_)
        throw std::runtime_error(fmt::format("the NSM server at {} did not answer looprig's announce within {} s",
                                             url_, timeout_seconds));
    if (!first_open_)
        throw std::runtime_error(fmt::format("the NSM server at {} acknowledged looprig's announce but sent no "
                                             "/nsm/client/open within {} s",
                                             url_, timeout_seconds));
    first_open_taken_ = true;
    open_pending_ = true;
    return *first_open_;
}

void NsmClient::reply_open(const NsmResult& r) {
    {
        std::lock_guard g(mutex_);
        if (!open_pending_)
            throw std::logic_error(first_open_taken_ ? "NsmClient::reply_open(): the open was answered already"
                                                     : "NsmClient::reply_open(): announce() returned no open");
        open_pending_ = false;
    }
    answer("/nsm/client/open", r, "Loaded.");
}

void NsmClient::on_save(std::function<NsmResult()> handler) {
    std::lock_guard g(mutex_);
    save_handler_ = std::move(handler);
}

void NsmClient::on_open(std::function<NsmResult(const NsmOpenRequest&)> handler) {
    std::lock_guard g(mutex_);
    open_handler_ = std::move(handler);
}

void NsmClient::on_optional_gui(std::function<void(bool show)> handler) {
    std::lock_guard g(mutex_);
    gui_handler_ = std::move(handler);
}

void NsmClient::send_dirty_locked() {
    if (!acknowledged_ || dirty_sent_ == dirty_) return;
    if (send(dirty_ ? "/nsm/client/is_dirty" : "/nsm/client/is_clean", make_message()) >= 0) dirty_sent_ = dirty_;
}

void NsmClient::set_dirty(bool dirty) {
    std::lock_guard g(mutex_);
    dirty_ = dirty;
    send_dirty_locked();
}

void NsmClient::send_gui_locked() {
    if (!acknowledged_ || !advertised_gui_ || gui_sent_ == gui_shown_) return;
    if (send(gui_shown_ ? "/nsm/client/gui_is_shown" : "/nsm/client/gui_is_hidden", make_message()) >= 0)
        gui_sent_ = gui_shown_;
}

void NsmClient::set_gui_shown(bool shown) {
    std::lock_guard g(mutex_);
    gui_shown_ = shown;
    send_gui_locked();
}

void NsmClient::message(int priority, const std::string& text) {
    {
        std::lock_guard g(mutex_);
        if (!acknowledged_) return;
    }
    send("/nsm/client/message", make_message(std::clamp(priority, 0, 3), text));
}

const std::string& NsmClient::server_name() const {
    std::lock_guard g(mutex_);
    return server_name_;
}

const std::string& NsmClient::server_capabilities() const {
    std::lock_guard g(mutex_);
    return server_capabilities_;
}

}  // namespace looprig
