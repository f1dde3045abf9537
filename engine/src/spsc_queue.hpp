// In-process single-producer/single-consumer queue between the engine's own
// threads (audio <-> loader <-> housekeeping). Storage is allocated once at
// construction; push/pop are wait-free and RT safe.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <type_traits>

namespace looprig {

template <class T>
class SpscQueue {
    static_assert(std::is_trivially_copyable_v<T>, "items are copied bytewise across threads");

public:
    /// Not RT safe (allocates). capacity is rounded up to a power of two.
    explicit SpscQueue(std::size_t capacity) {
        std::size_t n = 1;
        while (n < capacity) n <<= 1;
        capacity_ = n;
        items_ = std::make_unique<T[]>(n);
    }
    /// Copy in; false if full. RT safe (producer side).
    bool push(const T& item) {
        const auto w = write_.load(std::memory_order_relaxed);
        if (w - read_.load(std::memory_order_acquire) == capacity_) return false;
        items_[w & (capacity_ - 1)] = item;
        write_.store(w + 1, std::memory_order_release);
        return true;
    }
    /// Oldest item or nullptr. RT safe (consumer side).
    T* front() {
        const auto r = read_.load(std::memory_order_relaxed);
        if (write_.load(std::memory_order_acquire) == r) return nullptr;
        return &items_[r & (capacity_ - 1)];
    }
    /// Drop the item front() returned. RT safe (consumer side).
    void pop() { read_.store(read_.load(std::memory_order_relaxed) + 1, std::memory_order_release); }
    bool pop_into(T* out) {
        T* item = front();
        if (!item) return false;
        *out = *item;
        pop();
        return true;
    }
    std::size_t capacity() const { return capacity_; }
    /// Items pushed since construction (producer side). RT safe.
    std::size_t pushed() const { return write_.load(std::memory_order_relaxed); }
    std::size_t size() const {
        return write_.load(std::memory_order_acquire) - read_.load(std::memory_order_acquire);
    }

private:
    std::size_t capacity_ = 0;
    std::unique_ptr<T[]> items_;
    alignas(64) std::atomic<std::size_t> write_{0};
    alignas(64) std::atomic<std::size_t> read_{0};
};

}  // namespace looprig
