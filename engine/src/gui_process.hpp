// looprig's GUI (`looprig gui`, pyclient/looprig/gui) as a child process of
// the engine, for NSM's optional GUI (":optional-gui:", docs/SESSIONS.md):
// started on /nsm/client/show_optional_gui, ended with SIGTERM on
// hide_optional_gui, and watched, so that a GUI that exits by itself (its
// window closed, or a crash) is reported hidden and reaped.
//
// Not RT code: show() and hide() run on the NSM client's (liblo's) thread, the
// watching on a thread of GuiProcess's own; nothing here touches the audio
// thread. The child is made with posix_spawn (glibc: clone(CLONE_VM |
// CLONE_VFORK) and exec), not fork(): a fork would mark every page of the
// engine copy-on-write and the audio thread would then take a page fault on
// each page it writes, while posix_spawn copies no page tables at all.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace looprig {

/// How to start the GUI: `argv` (argv[0] a path, or a name looked up in PATH)
/// and a folder to put first on the child's PYTHONPATH ("": leave it).
struct GuiCommand {
    std::vector<std::string> argv;
    std::string pythonpath;
};

/// What resolve_gui_command() looks at, passed in so that it is a pure
/// function (gui_command_context() fills it from the real process).
struct GuiCommandContext {
    std::string engine_name;       // the engine's (JACK client) name: `--name NAME`
    std::string override_command;  // $LOOPRIG_GUI_COMMAND ("" if unset)
    std::string self_exe;          // the engine's executable, symlinks resolved (/proc/self/exe)
    std::string path;              // $PATH
    std::function<bool(const std::string&)> is_file;        // a regular file is there
    std::function<bool(const std::string&)> is_executable;  // an executable regular file is there
};

/// The interpreter of the default command (python3-pyqt6 is Debian's), or
/// "python3" from PATH where it is missing.
inline constexpr const char* kGuiPython = "/usr/bin/python3";

/// `text` split on runs of blanks (spaces, tabs, newlines): no quoting, no
/// shell. "" and blanks only: no words.
std::vector<std::string> split_command(const std::string& text);

/// The command that shows the GUI of engine `c.engine_name`; every choice ends
/// in the arguments `--name NAME gui`:
///  1. $LOOPRIG_GUI_COMMAND, split on blanks (an executable and arguments of
///     its own, e.g. "/usr/bin/python3 -m looprig"), if it has a word;
///  2. `/usr/bin/python3 -m looprig` with PYTHONPATH=<source tree>/pyclient
///     when the engine runs from a build tree (<tree>/build/engine/looprigd:
///     ../../pyclient/looprig/__main__.py from its folder is there);
///  3. the `looprig` command installed beside the engine (`meson install`);
///  4. the first `looprig` on PATH;
///  5. `/usr/bin/python3 -m looprig` (a package Python finds by itself).
GuiCommand resolve_gui_command(const GuiCommandContext& c);

/// The context of this process: $LOOPRIG_GUI_COMMAND, /proc/self/exe, $PATH,
/// the file system.
GuiCommandContext gui_command_context(const std::string& engine_name);

/// The child's environment (KEY=VALUE entries) made from `environment`: all of
/// it (LOOPRIG_LIB, LOOPRIG_NAME, JACK_DEFAULT_SERVER, DISPLAY, ...) but
/// NSM_URL (the GUI is not a session client of its own), with `pythonpath`, if
/// not "", put first on PYTHONPATH.
std::vector<std::string> gui_environment(const std::vector<std::string>& environment, const std::string& pythonpath);

/// A waitpid() status in words: "exited with status 3", "was killed by signal
/// 11 (Segmentation fault)".
std::string describe_wait_status(int status);

class GuiProcess {
public:
    /// The GUI's state for the session manager: `shown`, and a problem for the
    /// user ("" if none: the GUI could not start, or exited with an error).
    /// Called in order with GuiProcess's lock held, from show()/hide()/stop()'s
    /// thread or the watcher's: it must not call this GuiProcess.
    using Report = std::function<void(bool shown, const std::string& problem)>;

    /// How long hide() waits for the GUI after SIGTERM before SIGKILL.
    static constexpr std::chrono::milliseconds kDefaultGrace{3000};
    /// How often the watcher looks whether the GUI has exited (waitpid WNOHANG).
    static constexpr std::chrono::milliseconds kPollInterval{100};

    explicit GuiProcess(std::chrono::milliseconds grace = kDefaultGrace);
    /// stop() without reports, and the watcher thread joined.
    ~GuiProcess();
    GuiProcess(const GuiProcess&) = delete;
    GuiProcess& operator=(const GuiProcess&) = delete;

    void on_report(Report report);
    /// The command show() runs (until one is set, show() reports a problem).
    void set_command(GuiCommand command);

    /// Starts the GUI unless it runs: in a process group of its own, stdin
    /// /dev/null, no descriptor of the engine's but stdout and stderr, signal
    /// mask empty and dispositions default, the environment of
    /// gui_environment(). Reports shown, or hidden and why it did not start.
    void show();
    /// SIGTERM to the GUI's process group, then waits for it (SIGKILL after the
    /// grace time) and reaps it; reports hidden (also when no GUI ran).
    void hide();
    /// hide(), and later show()s only report hidden (the engine is stopping).
    void stop();

    /// The running GUI's pid, or -1.
    pid_t pid() const;

private:
    void watch();
    /// Reaps the child if it has exited (waitpid WNOHANG); reports it hidden
    /// when it ended by itself. True if it is gone.
    bool reap_locked(bool report_it);
    void terminate_locked(std::unique_lock<std::mutex>& lock);
    void report_locked(bool shown, const std::string& problem);

    const std::chrono::milliseconds grace_;
    mutable std::mutex mutex_;  // everything below
    std::condition_variable changed_;
    Report report_;
    bool have_command_ = false;
    GuiCommand command_;
    pid_t pid_ = -1;
    bool terminating_ = false;  // hide() or stop() signalled it
    bool stopped_ = false;
    bool quit_ = false;  // the watcher ends
    std::thread watcher_;  // started with the first GUI
};

}  // namespace looprig
