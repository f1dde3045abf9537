// The GUI child process (gui_process.hpp).
#include "gui_process.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <utility>

#include <dirent.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace looprig {

namespace {

bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

std::string join_words(const std::vector<std::string>& words) {
    std::string out;
    for (const auto& w : words) {
        if (!out.empty()) out += ' ';
        out += w;
    }
    return out;
}

bool stat_regular(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

/// Signals `pid`'s process group (the GUI's own, made at spawn), or `pid`
/// alone if the group is gone (the GUI may have left it).
void signal_gui(pid_t pid, int sig) {
    if (::kill(-pid, sig) != 0) ::kill(pid, sig);
}

#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
#define LOOPRIG_HAVE_CLOSEFROM_NP 1
#endif

/// Closes every descriptor but 0..2 in the child (the engine's JACK sockets,
/// shared memory, OSC socket... are no business of the GUI's, and a JACK
/// socket held by it would outlive the engine).
void close_engine_descriptors(posix_spawn_file_actions_t* fa) {
#ifdef LOOPRIG_HAVE_CLOSEFROM_NP
    posix_spawn_file_actions_addclosefrom_np(fa, 3);
#else
    if (DIR* d = ::opendir("/proc/self/fd")) {
        const int own = ::dirfd(d);
        while (dirent* e = ::readdir(d)) {
            char* end = nullptr;
            const long fd = std::strtol(e->d_name, &end, 10);
            if (end != e->d_name && !*end && fd > 2 && fd != own) posix_spawn_file_actions_addclose(fa, static_cast<int>(fd));
        }
        ::closedir(d);
    }
#endif
}

/// posix_spawn(p) of `command`; the child's pid, or -1 and `error`.
pid_t spawn(const GuiCommand& command, std::string& error) {
    if (command.argv.empty() || command.argv[0].empty()) {
        error = "no command";
        return -1;
    }
    std::vector<std::string> current;
    for (char** e = environ; e && *e; ++e) current.emplace_back(*e);
    const std::vector<std::string> env = gui_environment(current, command.pythonpath);
    std::vector<char*> argv, envp;
    for (const auto& a : command.argv) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    for (const auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
    envp.push_back(nullptr);

    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    if (int rc = posix_spawn_file_actions_init(&fa)) {
        error = std::strerror(rc);
        return -1;
    }
    if (int rc = posix_spawnattr_init(&attr)) {
        posix_spawn_file_actions_destroy(&fa);
        error = std::strerror(rc);
        return -1;
    }
    close_engine_descriptors(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    // A process group of its own (hide() signals the group: a wrapper's
    // children too), no blocked signal (a thread of the engine may block some)
    // and every signal at its default action (the engine ignores SIGPIPE, and
    // ignored signals survive exec).
    sigset_t none, all_default;
    sigemptyset(&none);
    sigemptyset(&all_default);
    for (int sig = 1; sig < 32; ++sig)
        if (sig != SIGKILL && sig != SIGSTOP) sigaddset(&all_default, sig);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all_default);

    pid_t pid = -1;
    // glibc reports a failed exec here (the child is reaped by posix_spawn).
    const int rc = command.argv[0].find('/') != std::string::npos
                       ? posix_spawn(&pid, argv[0], &fa, &attr, argv.data(), envp.data())
                       : posix_spawnp(&pid, argv[0], &fa, &attr, argv.data(), envp.data());
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
        error = std::strerror(rc);
        return -1;
    }
    return pid;
}

}  // namespace

std::vector<std::string> split_command(const std::string& text) {
    std::vector<std::string> words;
    std::string word;
    for (const char c : text) {
        if (is_blank(c)) {
            if (!word.empty()) words.push_back(std::move(word));
            word.clear();
        } else {
            word += c;
        }
    }
    if (!word.empty()) words.push_back(std::move(word));
    return words;
}

GuiCommand resolve_gui_command(const GuiCommandContext& c) {
    const std::vector<std::string> tail{"--name", c.engine_name, "gui"};
    const auto with_tail = [&](std::vector<std::string> head, std::string pythonpath = "") {
        head.insert(head.end(), tail.begin(), tail.end());
        return GuiCommand{std::move(head), std::move(pythonpath)};
    };
    const auto is_file = [&](const std::string& p) { return c.is_file && c.is_file(p); };
    const auto is_executable = [&](const std::string& p) { return c.is_executable && c.is_executable(p); };

    if (auto words = split_command(c.override_command); !words.empty()) return with_tail(std::move(words));

    const std::string python = is_executable(kGuiPython) ? kGuiPython : "python3";
    namespace fs = std::filesystem;
    if (!c.self_exe.empty() && c.self_exe[0] == '/') {
        const fs::path dir = fs::path(c.self_exe).parent_path();
        const fs::path pyclient = (dir / ".." / ".." / "pyclient").lexically_normal();
        if (is_file((pyclient / "looprig" / "__main__.py").string()))
            return with_tail({python, "-m", "looprig"}, pyclient.string());
        const std::string beside = (dir / "looprig").string();
        if (is_executable(beside)) return with_tail({beside});
    }
    std::string::size_type start = 0;
    while (start <= c.path.size()) {
        const auto end = std::min(c.path.find(':', start), c.path.size());
        const std::string folder = c.path.substr(start, end - start);
        if (!folder.empty() && folder[0] == '/') {  // relative entries would depend on the engine's cwd
            const std::string candidate = (fs::path(folder) / "looprig").string();
            if (is_executable(candidate)) return with_tail({candidate});
        }
        start = end + 1;
    }
    return with_tail({python, "-m", "looprig"});
}

GuiCommandContext gui_command_context(const std::string& engine_name) {
    GuiCommandContext c;
    c.engine_name = engine_name;
    if (const char* o = std::getenv("LOOPRIG_GUI_COMMAND")) c.override_command = o;
    std::error_code ec;
    const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
    if (!ec) c.self_exe = exe.string();
    if (const char* p = std::getenv("PATH")) c.path = p;
    c.is_file = stat_regular;
    c.is_executable = [](const std::string& p) { return stat_regular(p) && ::access(p.c_str(), X_OK) == 0; };
    return c;
}

std::vector<std::string> gui_environment(const std::vector<std::string>& environment, const std::string& pythonpath) {
    const auto has_key = [](const std::string& entry, const char* key) {
        const size_t n = std::strlen(key);
        return entry.size() > n && entry.compare(0, n, key) == 0 && entry[n] == '=';
    };
    std::vector<std::string> out;
    bool placed = false;
    for (const auto& entry : environment) {
        if (has_key(entry, "NSM_URL")) continue;
        if (!pythonpath.empty() && has_key(entry, "PYTHONPATH")) {
            if (placed) continue;  // a duplicate: the first one counts
            const std::string old = entry.substr(std::strlen("PYTHONPATH="));
            out.push_back("PYTHONPATH=" + pythonpath + (old.empty() ? "" : ":" + old));
            placed = true;
            continue;
        }
        out.push_back(entry);
    }
    if (!pythonpath.empty() && !placed) out.push_back("PYTHONPATH=" + pythonpath);
    return out;
}

std::string describe_wait_status(int status) {
    if (WIFEXITED(status)) return fmt::format("exited with status {}", WEXITSTATUS(status));
    if (WIFSIGNALED(status)) {
        const int sig = WTERMSIG(status);
        const char* name = ::strsignal(sig);
        return fmt::format("was killed by signal {}{}{}{}", sig, name ? " (" : "", name ? name : "", name ? ")" : "");
    }
    return fmt::format("ended (wait status {:#x})", status);
}

GuiProcess::GuiProcess(std::chrono::milliseconds grace) : grace_(grace) {}

GuiProcess::~GuiProcess() {
    {
        std::unique_lock lock(mutex_);
        report_ = nullptr;
        stopped_ = true;
        terminate_locked(lock);
        quit_ = true;
    }
    changed_.notify_all();
    if (watcher_.joinable()) watcher_.join();
}

void GuiProcess::on_report(Report report) {
    std::lock_guard g(mutex_);
    report_ = std::move(report);
}

void GuiProcess::set_command(GuiCommand command) {
    std::lock_guard g(mutex_);
    command_ = std::move(command);
    have_command_ = true;
}

pid_t GuiProcess::pid() const {
    std::lock_guard g(mutex_);
    return pid_;
}

void GuiProcess::report_locked(bool shown, const std::string& problem) {
    if (report_) report_(shown, problem);
}

void GuiProcess::show() {
    std::unique_lock lock(mutex_);
    if (stopped_) {
        report_locked(false, "");
        return;
    }
    if (pid_ > 0) {
        reap_locked(/*report_it=*/true);  // exited a moment ago? then start another
        if (pid_ > 0) {
            if (terminating_)
                report_locked(false, fmt::format("looprig's GUI (pid {}) is still ending; show it again later", pid_));
            else
                report_locked(true, "");
            return;
        }
    }
    if (!have_command_) {
        report_locked(false, "looprig cannot show its GUI yet: the session is not open");
        return;
    }
    std::string error;
    const pid_t pid = spawn(command_, error);
    if (pid < 0) {
        report_locked(false, fmt::format("cannot start looprig's GUI ({}): {}", join_words(command_.argv), error));
        return;
    }
    pid_ = pid;
    terminating_ = false;
    if (!watcher_.joinable()) watcher_ = std::thread([this] { watch(); });  // the first GUI: from now on
    report_locked(true, "");
    changed_.notify_all();  // the watcher
}

void GuiProcess::hide() {
    std::unique_lock lock(mutex_);
    terminate_locked(lock);
    report_locked(pid_ > 0, "");  // hidden, unless it would not end
}

void GuiProcess::stop() {
    std::unique_lock lock(mutex_);
    stopped_ = true;
    terminate_locked(lock);
    report_locked(pid_ > 0, "");
}

bool GuiProcess::reap_locked(bool report_it) {
    if (pid_ <= 0) return true;
    int status = 0;
    pid_t r;
    do {
        r = ::waitpid(pid_, &status, WNOHANG);
    } while (r < 0 && errno == EINTR);
    if (r == 0) return false;  // still running
    const pid_t was = pid_;
    pid_ = -1;
    terminating_ = false;
    changed_.notify_all();
    if (report_it) {
        std::string problem;
        if (r < 0)  // ECHILD: reaped by someone else (SIGCHLD ignored?); its status is lost
            problem = "";
        else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
            problem = fmt::format("looprig's GUI (pid {}) {}", was, describe_wait_status(status));
        report_locked(false, problem);
    }
    return true;
}

void GuiProcess::terminate_locked(std::unique_lock<std::mutex>& lock) {
    if (pid_ <= 0) return;
    const pid_t pid = pid_;
    terminating_ = true;
    const auto wait_gone = [&](std::chrono::milliseconds limit) {
        const auto deadline = std::chrono::steady_clock::now() + limit;
        while (pid_ == pid && !reap_locked(/*report_it=*/false)) {
            if (std::chrono::steady_clock::now() >= deadline) return false;
            changed_.wait_for(lock, std::chrono::milliseconds(10));
        }
        return true;
    };
    signal_gui(pid, SIGTERM);
    if (wait_gone(grace_)) return;
    signal_gui(pid, SIGKILL);
    if (wait_gone(std::chrono::milliseconds(5000))) return;
    // Unkillable (uninterruptible sleep): the watcher reaps it when it ends.
}

void GuiProcess::watch() {
    std::unique_lock lock(mutex_);
    while (!quit_) {
        if (pid_ <= 0) {
            changed_.wait(lock, [&] { return quit_ || pid_ > 0; });
            continue;
        }
        reap_locked(/*report_it=*/!terminating_);
        changed_.wait_for(lock, kPollInterval);
    }
}

}  // namespace looprig
