// The allocation/lock trap: interposes malloc & co., operator new/delete and
// pthread_mutex_lock for the whole process, and counts calls made on a thread
// while it is inside rt_guard::enter()/leave(). Linked only into looprigd-rttrap
// and the unit tests, never into looprigd.
#include "rt_guard.hpp"

#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <dlfcn.h>
#include <new>
#include <pthread.h>

extern "C" {
void* __libc_malloc(size_t);
void* __libc_calloc(size_t, size_t);
void* __libc_realloc(void*, size_t);
void __libc_free(void*);
void* __libc_memalign(size_t, size_t);
}

namespace {
thread_local bool t_armed = false;
std::atomic<uint64_t> g_violations{0};
std::atomic<const char*> g_first{""};

inline void check(const char* what) {
    if (t_armed) {
        t_armed = false;  // no recursion while recording
        const char* expected = "";
        g_first.compare_exchange_strong(expected, what);
        g_violations.fetch_add(1, std::memory_order_relaxed);
        t_armed = true;
    }
}
}  // namespace

namespace looprig::rt_guard {
void enter() { t_armed = true; }
void leave() { t_armed = false; }
uint64_t violations() { return g_violations.load(); }
const char* first_violation() { return g_first.load(); }
bool armed_build() { return true; }
}  // namespace looprig::rt_guard

extern "C" {
void* malloc(size_t n) {
    check("malloc");
    return __libc_malloc(n);
}
void* calloc(size_t a, size_t b) {
    check("calloc");
    return __libc_calloc(a, b);
}
void* realloc(void* p, size_t n) {
    check("realloc");
    return __libc_realloc(p, n);
}
void free(void* p) {
    if (p) check("free");
    __libc_free(p);
}
void* aligned_alloc(size_t align, size_t n) {
    check("aligned_alloc");
    return __libc_memalign(align, n);
}
void* memalign(size_t align, size_t n) {
    check("memalign");
    return __libc_memalign(align, n);
}
int posix_memalign(void** out, size_t align, size_t n) {
    check("posix_memalign");
    void* p = __libc_memalign(align, n);
    if (!p) return 12;  // ENOMEM
    *out = p;
    return 0;
}
int pthread_mutex_lock(pthread_mutex_t* m) {
    check("pthread_mutex_lock");
    using Fn = int (*)(pthread_mutex_t*);
    static Fn real = reinterpret_cast<Fn>(dlsym(RTLD_NEXT, "pthread_mutex_lock"));
    return real(m);
}
}

void* operator new(size_t n) {
    check("operator new");
    if (void* p = __libc_malloc(n ? n : 1)) return p;
    throw std::bad_alloc();
}
void* operator new[](size_t n) {
    check("operator new[]");
    if (void* p = __libc_malloc(n ? n : 1)) return p;
    throw std::bad_alloc();
}
void* operator new(size_t n, const std::nothrow_t&) noexcept {
    check("operator new");
    return __libc_malloc(n ? n : 1);
}
void* operator new[](size_t n, const std::nothrow_t&) noexcept {
    check("operator new[]");
    return __libc_malloc(n ? n : 1);
}
void operator delete(void* p) noexcept {
    if (p) check("operator delete");
    __libc_free(p);
}
void operator delete[](void* p) noexcept {
    if (p) check("operator delete[]");
    __libc_free(p);
}
void operator delete(void* p, size_t) noexcept {
    if (p) check("operator delete");
    __libc_free(p);
}
void operator delete[](void* p, size_t) noexcept {
    if (p) check("operator delete[]");
    __libc_free(p);
}
