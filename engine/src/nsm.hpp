// The engine's NSM (New Session Manager) client: the OSC conversation with the
// session manager (API 1.1.x, docs/src/api/index.adoc of
// linuxaudio/new-session-manager), over liblo from a liblo server thread of
// its own. Not RT safe; never used on the audio thread.
//
// Under NSM the server launches looprigd with NSM_URL in its environment. The
// engine then: announce() (which waits for the server's /reply and its
// /nsm/client/open), opens or creates the session folder `path` and starts its
// JACK client named `client_id`, and only then reply_open(). /nsm/client/save
// runs the on_save() handler on liblo's thread. The server ends the client with
// SIGTERM (no OSC message), which must end it at once, saved or not.
//
// Everything the client sends goes out of the socket the announce went out of
// (the server tells its clients apart by their return address) to the address
// the server answered the announce from.
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>

namespace looprig {

/// /nsm/client/open's arguments. `path` is a prefix, not an existing folder:
/// looprig uses it as its session folder (opened if it exists, else created).
/// `client_id` is the JACK client name to use ("looprig.nXXXX").
struct NsmOpenRequest {
    std::string path, display_name, client_id;
};

/// The NSM API's error codes (0: no error).
enum NsmCode : int {
    kNsmOk = 0,
    kNsmGeneral = -1,
    kNsmIncompatibleApi = -2,
    kNsmBlacklisted = -3,
    kNsmLaunchFailed = -4,
    kNsmNoSuchFile = -5,
    kNsmNoSessionOpen = -6,
    kNsmUnsavedChanges = -7,
    kNsmNotNow = -8,
    kNsmBadProject = -9,
    kNsmCreateFailed = -10,
};

/// An answer to open or save: code 0 is sent as /reply (with `message`), any
/// other code as /error with that code and `message`.
struct NsmResult {
    int code = kNsmOk;
    std::string message;
};

class NsmClient {
public:
    /// The application name sent in the announce; the server makes client ids
    /// of it ("looprig.nXXXX"). The NSM API wants it to be the JACK client
    /// name the program uses without NSM (looprigd's default --name).
    static constexpr const char* kApplicationName = "looprig";
    static constexpr int kApiMajor = 1;
    static constexpr int kApiMinor = 1;

    /// NSM_URL from the environment, or "" if unset.
    static std::string url_from_environment();

    /// Talks to the NSM server at `url` ("osc.udp://host:port/") from a liblo
    /// server thread of its own (UDP, any free port). Throws std::runtime_error
    /// naming the URL if it is malformed, is not UDP (nsmd speaks UDP only; the
    /// API wants the client to use the protocol of NSM_URL, so looprig refuses
    /// the others rather than using a different one) or liblo cannot start.
    explicit NsmClient(const std::string& url);
    ~NsmClient();
    NsmClient(const NsmClient&) = delete;
    NsmClient& operator=(const NsmClient&) = delete;

    /// Sends /nsm/server/announce ("looprig", capabilities(), `executable`
    /// (argv[0]), API 1.1, getpid()) and waits up to `timeout_seconds` in all
    /// for the server's /reply to it and then its /nsm/client/open, which it
    /// returns; answer that with reply_open(). Throws std::runtime_error naming
    /// the server URL if the announce cannot be sent, the server answers /error
    /// (-2: it refuses our API version; the announce reply carries no server
    /// API version, so this is how a server of another major version shows),
    /// or the reply or the open does not come in time. Call it once (a second
    /// call throws std::logic_error).
    NsmOpenRequest announce(const std::string& executable, double timeout_seconds);

    /// Answers the open announce() returned: /reply "/nsm/client/open" with
    /// r.message (or "Loaded." if empty), or /error with r.code. The API wants
    /// this after the open is done: session folder opened or created and the
    /// JACK client running. Throws std::logic_error if there is no open left
    /// to answer.
    void reply_open(const NsmResult& r);

    /// The handler of /nsm/client/save, run on liblo's thread (other server
    /// messages wait meanwhile); its result is sent as /reply or /error for
    /// "/nsm/client/save" (an empty message becomes "Saved."). Until a handler
    /// is set, saves are answered /error kNsmNotNow ("looprig is not ready to
    /// save yet"): a session is open, or being opened, but cannot be saved now.
    /// An exception from the handler is answered /error kNsmGeneral with its
    /// what(). Any thread.
    void on_save(std::function<NsmResult()> handler);

    /// The handler of a later /nsm/client/open (switching sessions), run on
    /// liblo's thread; its result is the answer. Without one (the default) such
    /// opens get /error kNsmGeneral "looprig cannot switch sessions; restart
    /// it". Setting it before announce() advertises ":switch:" (the API then
    /// wants the client to close its JACK client and open a new one named by
    /// the new client_id).
    void on_open(std::function<NsmResult(const NsmOpenRequest&)> handler);

    /// Reports the rig's state: sends /nsm/client/is_dirty or is_clean when it
    /// differs from the last one sent (the first call after announce() always
    /// sends; calls before it only set the state, sending nothing, since the
    /// server ignores clients it has not acknowledged). Any thread.
    void set_dirty(bool dirty);

    /// Sends /nsm/client/message (priority clamped to 0..3, 3 the most
    /// important), e.g. to tell the user about connections that could not be
    /// restored. Dropped before announce() has been acknowledged. Any thread.
    void message(int priority, const std::string& text);

    /// Optional GUI (not advertised unless a handler is set before announce()):
    /// `handler(true)` for /nsm/client/show_optional_gui, `handler(false)` for
    /// hide_optional_gui, on liblo's thread. With it set, the announce
    /// advertises ":optional-gui:" and, once acknowledged, sends the GUI's
    /// state (hidden unless set_gui_shown(true) came first), as the API wants.
    void on_optional_gui(std::function<void(bool show)> handler);
    /// Reports the GUI's visibility (/nsm/client/gui_is_shown / gui_is_hidden)
    /// when it changes, and the first time after each show/hide request (the
    /// answer to it, also when unchanged, e.g. a GUI that did not start); only
    /// when ":optional-gui:" was advertised. Any thread.
    void set_gui_shown(bool shown);

    /// The capability string the announce sends: ":dirty:message:", plus
    /// "switch:" with on_open() and "optional-gui:" with on_optional_gui().
    std::string capabilities() const;

    /// The server's name and capabilities from its announce reply ("" before).
    const std::string& server_name() const;
    const std::string& server_capabilities() const;
    /// The URL given to the constructor.
    const std::string& url() const { return url_; }

private:
    friend struct NsmHandlers;  // nsm.cpp: liblo's callbacks

    /// Sends `msg` (an lo_message, freed here) to the server at `path` from
    /// our socket, serialized with every other send; the bytes sent, or -1.
    int send(const char* path, void* msg);
    void answer(const char* path, const NsmResult& r, const char* ok_message);
    std::string capabilities_locked() const;
    void send_dirty_locked();
    void send_gui_locked();

    std::string url_;
    // liblo's handles (lo_server_thread, lo_server, lo_address are void*; no
    // liblo in this header, so includers need not know it).
    void* thread_ = nullptr;
    void* server_ = nullptr;  // thread_'s

    std::mutex send_mutex_;  // every lo_send_from, and server_address_
    void* server_address_ = nullptr;  // lo_address

    mutable std::mutex mutex_;  // everything below
    std::condition_variable changed_;
    bool announce_called_ = false;
    bool acknowledged_ = false;            // the server's /reply to the announce came
    std::optional<std::string> refusal_;   // its /error to the announce
    std::optional<NsmOpenRequest> first_open_;
    bool first_open_taken_ = false;        // announce() returned it
    bool open_pending_ = false;            // returned, not yet answered
    std::string server_name_, server_capabilities_;
    std::function<NsmResult()> save_handler_;
    std::function<NsmResult(const NsmOpenRequest&)> open_handler_;
    std::function<void(bool)> gui_handler_;
    bool advertised_switch_ = false, advertised_gui_ = false;
    bool dirty_ = false;
    std::optional<bool> dirty_sent_;
    bool gui_shown_ = false;
    std::optional<bool> gui_sent_;
};

}  // namespace looprig
