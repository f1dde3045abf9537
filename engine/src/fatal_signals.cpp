#include "fatal_signals.hpp"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <initializer_list>

namespace looprig {
namespace {

// Everything below runs inside a signal handler: no allocation, no stdio.
void put(const char* s) {
    size_t n = std::strlen(s);
    while (n > 0) {
        const ssize_t w = ::write(2, s, n);
        if (w <= 0) return;
        s += w;
        n -= static_cast<size_t>(w);
    }
}

void put_hex(uintptr_t v) {
    char buf[2 + 2 * sizeof(uintptr_t) + 1];
    char* p = buf + sizeof(buf) - 1;
    *p = 0;
    do {
        *--p = "0123456789abcdef"[v & 15];
        v >>= 4;
    } while (v);
    *--p = 'x';
    *--p = '0';
    put(p);
}

uintptr_t parse_hex(const char*& s) {
    uintptr_t v = 0;
    for (;; ++s) {
        const char c = *s;
        if (c >= '0' && c <= '9') v = v * 16 + static_cast<uintptr_t>(c - '0');
        else if (c >= 'a' && c <= 'f') v = v * 16 + static_cast<uintptr_t>(c - 'a' + 10);
        else return v;
    }
}

/// Writes the /proc/self/maps line whose range holds addr (its path, or the
/// whole line for an anonymous mapping); returns false if none does.
bool put_mapping_of(uintptr_t addr) {
    static char buf[1 << 16];  // maps of a JACK client are a few KiB; enough lines for the search
    const int fd = ::open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    size_t len = 0;
    bool found = false;
    for (;;) {
        const ssize_t r = ::read(fd, buf + len, sizeof(buf) - 1 - len);
        if (r <= 0) break;
        len += static_cast<size_t>(r);
        buf[len] = 0;
        char* line = buf;
        char* nl = nullptr;
        while ((nl = std::strchr(line, '\n')) != nullptr) {
            *nl = 0;
            const char* s = line;
            const uintptr_t lo = parse_hex(s);
            ++s;  // '-'
            const uintptr_t hi = parse_hex(s);
            if (addr >= lo && addr < hi) {
                const char* path = std::strchr(line, '/');
                put(path ? path : line);
                found = true;
                break;
            }
            line = nl + 1;
        }
        if (found) break;
        // Keep the unfinished last line for the next read.
        const size_t rest = len - static_cast<size_t>(line - buf);
        std::memmove(buf, line, rest);
        len = rest;
        if (len == sizeof(buf) - 1) len = 0;  // a line longer than the buffer: drop it
    }
    ::close(fd);
    return found;
}

[[maybe_unused]] void on_fatal_signal(int sig, siginfo_t* info, void*) {
    const char* name = sig == SIGBUS ? "SIGBUS" : sig == SIGSEGV ? "SIGSEGV" : sig == SIGILL ? "SIGILL" : "SIGFPE";
    put("looprigd: fatal ");
    put(name);
    put(" at address ");
    const auto addr = reinterpret_cast<uintptr_t>(info ? info->si_addr : nullptr);
    put_hex(addr);
    put(", in ");
    if (!put_mapping_of(addr)) put("no mapping");
    if (sig == SIGBUS)
        put(" (a shared-memory file shorter than its mapping: truncated by its owner, or /dev/shm is full)");
    put("\n");
    // Die of the same signal: default action, and the fault repeats on return.
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    ::sigemptyset(&dfl.sa_mask);
    ::sigaction(sig, &dfl, nullptr);
    if (info && info->si_code <= 0) ::raise(sig);  // sent by kill(): no fault to repeat
}

}  // namespace

void install_fatal_signal_report() {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    return;
#else
#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
    return;
#endif
#endif
    // Its own stack: a stack overflow is a SIGSEGV too.
    static char alt_stack[64 * 1024];
    stack_t ss {};
    ss.ss_sp = alt_stack;
    ss.ss_size = sizeof(alt_stack);
    ::sigaltstack(&ss, nullptr);
    struct sigaction sa {};
    sa.sa_sigaction = on_fatal_signal;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    ::sigemptyset(&sa.sa_mask);
    for (int sig : {SIGBUS, SIGSEGV, SIGILL, SIGFPE}) ::sigaction(sig, &sa, nullptr);
#endif
}

}  // namespace looprig
