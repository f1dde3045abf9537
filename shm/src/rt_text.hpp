// Building readable messages on the audio thread without snprintf/allocation.
// All functions RT safe.
#pragma once

#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace looprig::rt {

/// Appends text to a fixed char buffer, always NUL-terminated, truncating.
class Text {
public:
    Text(char* buf, std::size_t size) : buf_(buf), size_(size) { buf_[0] = '\0'; }

    Text& operator<<(const char* s) {
        while (*s && len_ + 1 < size_) buf_[len_++] = *s++;
        buf_[len_] = '\0';
        return *this;
    }
    Text& operator<<(uint64_t v) {
        char tmp[24];
        int n = 0;
        do { tmp[n++] = static_cast<char>('0' + v % 10); v /= 10; } while (v);
        while (n && len_ + 1 < size_) buf_[len_++] = tmp[--n];
        buf_[len_] = '\0';
        return *this;
    }
    Text& operator<<(int64_t v) {
        if (v < 0) { *this << "-"; return *this << static_cast<uint64_t>(-(v + 1)) + 1; }
        return *this << static_cast<uint64_t>(v);
    }
    Text& operator<<(int v) { return *this << static_cast<int64_t>(v); }
    Text& operator<<(uint32_t v) { return *this << static_cast<uint64_t>(v); }
    /// Up to 3 decimals, trailing zeros dropped ("-6.5", "20000", "0.707"); names NaN and infinities.
    Text& operator<<(double v) {
        if (std::isnan(v)) return *this << "nan";
        if (std::isinf(v)) return *this << (v < 0 ? "-inf" : "inf");
        if (std::fabs(v) >= 1e15) return *this << (v < 0 ? "-huge" : "huge");
        auto milli_total = static_cast<uint64_t>(std::llround(std::fabs(v) * 1000.0));
        // Not 0, yet 0 to 3 decimals (or subnormal, which the audio thread's
        // denormals-are-zero mode reads as 0): say so, from the bits.
        if (milli_total == 0 && (std::bit_cast<uint64_t>(v) << 1) != 0) return *this << (std::signbit(v) ? ">-0.001" : "<0.001");
        if (v < 0 && milli_total) *this << "-";
        const uint64_t whole = milli_total / 1000;
        uint64_t milli = milli_total % 1000;
        *this << whole;
        if (milli == 0) return *this;
        *this << ".";
        if (milli < 100) *this << "0";
        if (milli < 10) *this << "0";
        while (milli % 10 == 0) milli /= 10;
        return *this << milli;
    }
    const char* c_str() const { return buf_; }

private:
    char* buf_;
    std::size_t size_;
    std::size_t len_ = 0;
};

}  // namespace looprig::rt
