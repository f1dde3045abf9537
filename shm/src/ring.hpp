// Single-producer/single-consumer rings over lr_ring_index + a data array in
// the shared segment. Indices are free-running uint32 counters; the slot of
// index i is i & (size - 1). Each side keeps its own index privately and only
// publishes it, so a peer that scribbles over shared memory can make the ring
// look empty, full or corrupt, but never steer us out of bounds.
// All functions here are RT safe (wait-free, no allocation, no system calls).
#pragma once

#include "looprig/shm_layout.h"

#include <atomic>
#include <cstdint>
#include <cstring>

namespace looprig::shm {

/// Acquire-load of a shared 32-bit word. RT safe.
inline uint32_t load_acquire(const uint32_t& word) {
    return std::atomic_ref<uint32_t>(const_cast<uint32_t&>(word)).load(std::memory_order_acquire);
}
/// Release-store of a shared 32-bit word. RT safe.
inline void store_release(uint32_t& word, uint32_t value) {
    std::atomic_ref<uint32_t>(word).store(value, std::memory_order_release);
}
inline uint64_t load_acquire64(const uint64_t& word) {
    return std::atomic_ref<uint64_t>(const_cast<uint64_t&>(word)).load(std::memory_order_acquire);
}
inline void store_release64(uint64_t& word, uint64_t value) {
    std::atomic_ref<uint64_t>(word).store(value, std::memory_order_release);
}
inline bool compare_exchange(uint32_t& word, uint32_t expected, uint32_t desired) {
    return std::atomic_ref<uint32_t>(word).compare_exchange_strong(expected, desired,
                                                                   std::memory_order_acq_rel);
}

/// Producer side of a ring. Keeps the write index privately. Items are
/// published one by one (push) or staged (claim + stage) and published
/// together later (publish): the consumer sees none of the staged items
/// before publish().
template <class T>
class RingProducer {
public:
    RingProducer() = default;
    RingProducer(lr_ring_index* index, T* data, uint32_t size)
        : index_(index), data_(data), size_(size), write_(load_acquire(index->write)), published_(write_) {}

    /// Re-read the write index from shared memory (after the peer reset it).
    void resync() { write_ = published_ = load_acquire(index_->write); }

    /// Free places (staged items count as used), 0 if full or if the
    /// consumer's index is nonsense. The write index is published again
    /// whenever the shared copy differs from what we published (a peer
    /// scribbled over it): otherwise a consumer that resyncs from it
    /// (discards everything, as lr_client_poll does on a corrupt ring, or a
    /// new client at attach) could see the ring empty while we see it full,
    /// and neither side would ever move again. RT safe.
    uint32_t space() const {
        if (load_acquire(index_->write) != published_) store_release(index_->write, published_);
        const uint32_t used = write_ - load_acquire(index_->read);
        return used > size_ ? 0 : size_ - used;
    }
    /// Copy one item in and publish it (with anything staged). False if full. RT safe.
    bool push(const T& item) {
        if (space() == 0) return false;
        std::memcpy(&data_[write_ & (size_ - 1)], &item, sizeof(T));
        ++write_;
        publish();
        return true;
    }
    /// Place to fill in place before stage(); nullptr if full. RT safe.
    T* claim() { return space() == 0 ? nullptr : &data_[write_ & (size_ - 1)]; }
    /// Keep the claimed item back until publish(). RT safe.
    void stage() { ++write_; }
    /// Make every staged item visible to the consumer. RT safe.
    void publish() {
        if (published_ == write_) return;
        published_ = write_;
        store_release(index_->write, published_);
    }

private:
    lr_ring_index* index_ = nullptr;
    T* data_ = nullptr;
    uint32_t size_ = 0;
    uint32_t write_ = 0;
    uint32_t published_ = 0;
};

/// Consumer side of a ring. Keeps the read index privately.
template <class T>
class RingConsumer {
public:
    RingConsumer() = default;
    RingConsumer(lr_ring_index* index, T* data, uint32_t size)
        : index_(index), data_(data), size_(size), read_(load_acquire(index->read)) {}

    enum class Peek { empty, item, corrupt };

    /// Look at the oldest item without consuming it. `corrupt` when the
    /// producer's index claims more items than the ring holds. RT safe.
    Peek peek(const T** item) const {
        const uint32_t available = load_acquire(index_->write) - read_;
        if (available == 0) return Peek::empty;
        if (available > size_) return Peek::corrupt;
        *item = &data_[read_ & (size_ - 1)];
        return Peek::item;
    }
    /// Consume the item returned by peek(). RT safe.
    void pop() { store_release(index_->read, ++read_); }
    /// Drop everything the producer has published (or resync after corruption). RT safe.
    void discard_all() {
        read_ = load_acquire(index_->write);
        store_release(index_->read, read_);
    }
    /// Copy out and consume the oldest item. RT safe.
    bool pop_into(T* out) {
        const T* item = nullptr;
        if (peek(&item) != Peek::item) return false;
        std::memcpy(out, item, sizeof(T));
        pop();
        return true;
    }

private:
    lr_ring_index* index_ = nullptr;
    T* data_ = nullptr;
    uint32_t size_ = 0;
    uint32_t read_ = 0;
};

}  // namespace looprig::shm
