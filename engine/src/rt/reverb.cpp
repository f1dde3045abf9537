// The algorithmic reverb (see reverb.hpp for the design). All RT safe except prepare().
#include "reverb.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numbers>

#if defined(__SSE__)
#include <xmmintrin.h>
#endif

namespace looprig::rt {

namespace {

constexpr int N = Reverb::kLines;
static_assert((N & (N - 1)) == 0, "Hadamard mixing needs a power of two");

// Line lengths: spread geometrically over this range (ms), made prime at the actual rate.
constexpr double kLineMinMs = 37.0, kLineMaxMs = 127.0;
// Range of the per-channel delays of each diffusion step, ms (short first: the onset gets dense fast).
constexpr double kDiffusionMs[Reverb::kDiffusionSteps] = {1.9, 3.7, 6.1, 9.9, 15.7};
constexpr double kMaxPredelayMs = 250.0;

/// In-place orthonormal 16-point Hadamard transform, output in transposed order: seen as a 4x4
/// matrix X (x[4r + c] = X[r][c]), the result is (H4 X H4^T)^T / 4, i.e. out[4a + b] is entry
/// 4b + a of the Sylvester-ordered H16 x / 4. A permutation of a Hadamard matrix is just as
/// orthogonal (energy preserving) and mixes just as well; this order needs one 4x4 transpose and
/// two column passes of 4-wide additions, no lane shuffles inside the butterflies.
inline void hadamard(float* x) {
    static_assert(N == 16);
#if defined(__SSE__)
    __m128 r0 = _mm_load_ps(x), r1 = _mm_load_ps(x + 4), r2 = _mm_load_ps(x + 8), r3 = _mm_load_ps(x + 12);
    auto h4 = [](__m128& a, __m128& b, __m128& c, __m128& d) {
        const __m128 s0 = _mm_add_ps(a, b), d0 = _mm_sub_ps(a, b), s1 = _mm_add_ps(c, d), d1 = _mm_sub_ps(c, d);
        a = _mm_add_ps(s0, s1);
        b = _mm_add_ps(d0, d1);
        c = _mm_sub_ps(s0, s1);
        d = _mm_sub_ps(d0, d1);
    };
    h4(r0, r1, r2, r3);
    _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
    h4(r0, r1, r2, r3);
    const __m128 scale = _mm_set1_ps(0.25f);
    _mm_store_ps(x, _mm_mul_ps(r0, scale));
    _mm_store_ps(x + 4, _mm_mul_ps(r1, scale));
    _mm_store_ps(x + 8, _mm_mul_ps(r2, scale));
    _mm_store_ps(x + 12, _mm_mul_ps(r3, scale));
#else
    float h[N];
    for (int i = 0; i < N; ++i) h[i] = x[i];
    for (int len = 1; len < N; len <<= 1)
        for (int i = 0; i < N; i += len << 1)
            for (int j = i; j < i + len; ++j) {
                const float a = h[j], b = h[j + len];
                h[j] = a + b;
                h[j + len] = a - b;
            }
    for (int a = 0; a < 4; ++a)
        for (int b = 0; b < 4; ++b) x[4 * a + b] = 0.25f * h[4 * b + a];
#endif
}

/// Deterministic pseudo-random numbers (the design must not change between runs).
struct Rng {
    uint64_t s = 0x9E3779B97F4A7C15ull;
    double uniform() {  // [0, 1)
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        return static_cast<double>(s >> 11) * (1.0 / 9007199254740992.0);
    }
    float sign() { return uniform() < 0.5 ? -1.0f : 1.0f; }
    int below(int n) { return static_cast<int>(uniform() * n); }
};

bool is_prime(uint32_t v) {
    if (v < 2) return false;
    for (uint32_t d = 2; d * d <= v; ++d)
        if (v % d == 0) return false;
    return true;
}

uint32_t pow2_at_least(uint32_t v) {
    uint32_t p = 1;
    while (p < v) p <<= 1;
    return p;
}

/// Values below 1e-20 (-400 dB) are stored as 0: the tail ends in exact zeros, never denormals.
inline float flush_tiny(float v) { return std::fabs(v) < 1e-20f ? 0.0f : v; }

/// y[k] += g * x[k] for k < n; a fixed count of kChunk frames vectorises.
template <uint32_t n>
inline void accumulate(float* __restrict y, const float* __restrict x, float g) {
    for (uint32_t k = 0; k < n; ++k) y[k] += g * x[k];
}

}  // namespace

void Reverb::prepare(double sample_rate, uint32_t ramp_frames) {
    fs_ = sample_rate;
    ramp_ = ramp_frames;
    Rng rng;

    // Pre-delay.
    pre_max_ = static_cast<uint32_t>(std::ceil(kMaxPredelayMs * 1e-3 * fs_));
    const uint32_t pre_size = pow2_at_least(pre_max_ + 1);
    pre_l_.assign(pre_size, 0.0f);
    pre_r_.assign(pre_size, 0.0f);
    pre_mask_ = pre_size - 1;
    pre_pos_ = 0;

    // Diffusion: a delay per channel spread evenly (with jitter) over the step's range.
    for (int s = 0; s < kDiffusionSteps; ++s) {
        const double range = kDiffusionMs[s] * 1e-3 * fs_;
        uint32_t delay[N];
        uint32_t longest = 0;
        for (int c = 0; c < N; ++c) {
            delay[c] = static_cast<uint32_t>(range * (c + rng.uniform()) / N);
            diff_sign_[s][c] = rng.sign();
            longest = std::max(longest, delay[c]);
        }
        // Shuffle which channel gets which delay so the steps do not line up.
        for (int c = N - 1; c > 0; --c) std::swap(delay[c], delay[rng.below(c + 1)]);
        for (int c = 0; c < N; ++c) diff_off_[s][c] = delay[c] * N - static_cast<uint32_t>(c);
        const uint32_t size = pow2_at_least(longest + 1) * N;
        diff_[s].assign(size, 0.0f);
        diff_mask_[s] = size - 1;
    }
    diff_pos_ = 0;

    // The network: prime line lengths (distinct primes are mutually prime).
    uint32_t longest = 0;
    for (int j = 0; j < N; ++j) {
        const double ms = kLineMinMs * std::pow(kLineMaxMs / kLineMinMs, static_cast<double>(j) / (N - 1));
        uint32_t len = static_cast<uint32_t>(std::lround(ms * 1e-3 * fs_));
        len = std::max(len, kChunk + 1);  // the reads of a chunk never reach its own writes
        while (!is_prime(len) || (j > 0 && len <= line_len_[j - 1])) ++len;
        line_len_[j] = len;
        longest = std::max(longest, len);
    }
    size_ = pow2_at_least(longest + 1);
    stride_ = size_ + kChunk;
    lines_.assign(static_cast<size_t>(stride_) * N, 0.0f);
    pos_ = 0;

    // Output taps: per channel, about one per kTapSpacingMs of every line, evenly spaced over the
    // line (ages 0..L-1) from a random phase, with random signs; independent phases and signs for left and right. Even spacing makes the taps
    // sample the stored energy uniformly (random positions leave gaps and clusters that show as
    // +-1 dB bumps in the first 100 ms); the same spacing in every line and phases stratified over
    // the lines interleave the taps of all the lines evenly, so that the early energy travelling
    // down the lines is sampled evenly too.
    tap_count_ = 0;
    for (int ch = 0; ch < 2; ++ch) {
        int slot[N];
        for (int j = 0; j < N; ++j) slot[j] = j;
        for (int j = N - 1; j > 0; --j) std::swap(slot[j], slot[rng.below(j + 1)]);
        int count = 0;
        for (int j = 0; j < N; ++j) {
            const double phase = (slot[j] + rng.uniform()) / N;
            const double span = static_cast<double>(line_len_[j]);
            const int taps = std::max(1, static_cast<int>(std::lround(span / (kTapSpacingMs * 1e-3 * fs_))));
            // Whole-frame spacing, so that the decay compensations of a line's taps are a geometric
            // sequence (two exp per line per coefficient update).
            const uint32_t spacing = static_cast<uint32_t>(span / taps);
            const uint32_t first = static_cast<uint32_t>(spacing * phase);
            tap_first_[ch][j] = count;
            tap_spacing_[ch][j] = spacing;
            for (int t = 0; t < taps && count < kMaxTaps; ++t, ++count) {
                tap_delay_[ch][count] = first + static_cast<uint32_t>(t) * spacing;
                tap_line_[ch][count] = static_cast<uint32_t>(j);
                tap_sign_norm_[ch][count] =
                    rng.sign() * static_cast<float>(std::sqrt(static_cast<double>(line_len_[j]) / taps));
            }
        }
        tap_first_[ch][N] = count;
        tap_count_ = count;  // the same for both channels
    }

    // Defaults (the params table's) until the engine sets its own.
    log_decay_.jump(std::log(2.0));
    log_damping_.jump(std::log(6000.0));
    chunk_left_ = 0;
    pre_target_ = pre_cur_ = pre_next_ = static_cast<uint32_t>(std::lround(10e-3 * fs_));
    pre_fade_left_ = 0;
    update_coefficients();
    reset();
}

void Reverb::set_decay(double rt60_seconds) {
    log_decay_.set(std::log(std::clamp(rt60_seconds, 0.1, 30.0)), ramp_);
}

void Reverb::set_damping(double hz) { log_damping_.set(std::log(std::clamp(hz, 500.0, 20000.0)), ramp_); }

void Reverb::set_predelay_ms(double ms) {
    pre_target_ = std::min(static_cast<uint32_t>(std::lround(std::clamp(ms, 0.0, kMaxPredelayMs) * 1e-3 * fs_)),
                           pre_max_);
    if (!pre_fade_left_ && pre_target_ != pre_cur_) start_pre_fade(pre_target_);
}

void Reverb::start_pre_fade(uint32_t d) {
    if (ramp_ == 0) {
        pre_cur_ = pre_next_ = d;
        pre_fade_left_ = 0;
        return;
    }
    pre_next_ = d;
    pre_fade_left_ = ramp_;
    pre_w_ = 0.0;
    pre_step_ = 1.0 / static_cast<double>(ramp_);
}

void Reverb::settle() {
    log_decay_.jump(log_decay_.target);
    log_damping_.jump(log_damping_.target);
    update_coefficients();
    pre_cur_ = pre_next_ = pre_target_;
    pre_fade_left_ = 0;
}

void Reverb::reset() {
    std::fill(pre_l_.begin(), pre_l_.end(), 0.0f);
    std::fill(pre_r_.begin(), pre_r_.end(), 0.0f);
    for (auto& d : diff_) std::fill(d.begin(), d.end(), 0.0f);
    std::fill(lines_.begin(), lines_.end(), 0.0f);
    std::fill(std::begin(ic1_), std::end(ic1_), 0.0f);
    std::fill(std::begin(ic2_), std::end(ic2_), 0.0f);
}

void Reverb::update_coefficients() {
    const double rt60 = std::exp(log_decay_.value);
    const double damping = std::min(std::exp(log_damping_.value), 0.49 * fs_);
    const double ln_gamma = -3.0 * std::numbers::ln10 / (rt60 * fs_);  // per-frame ln gain at mid frequencies
    const double g0 = std::tan(std::numbers::pi * damping / fs_);
    constexpr double k = std::numbers::sqrt2;  // 1/Q of a shelf with slope S = 1
    for (int j = 0; j < N; ++j) {
        // Decay gain of one pass, gain = A^2, and the high shelf of 20 log10(gain) dB (A^2 above the
        // damping frequency, 1 below) that doubles its dB: svf_design(high_shelf, damping, S = 1,
        // 20 log10(gain)) written out, without its +-60 dB clamp (a long line at a short RT60
        // loses more than 60 dB per pass), and with one tan for all the lines.
        const double q = std::exp(0.25 * ln_gamma * line_len_[j]);  // sqrt(A)
        const double A = q * q;
        const double gain = A * A;
        const double g = g0 * q;
        const double a1 = 1.0 / (1.0 + g * (g + k));
        a1_[j] = static_cast<float>(a1);
        a2_[j] = static_cast<float>(g * a1);
        a3_[j] = static_cast<float>(g * g * a1);
        m0_[j] = static_cast<float>(A * A * gain);
        m1_[j] = static_cast<float>(k * (1.0 - A) * A * gain);
        m2_[j] = static_cast<float>((1.0 - A * A) * gain);
    }
    // Output level: each channel's energy for a unit input is kappa / (1 - gamma^2); aim at
    // 0.5 * sqrt(RT60 / 2 s).
    const double one_minus_g2 = -std::expm1(2.0 * ln_gamma);
    const double kappa = 0.5 * std::sqrt(rt60 / 2.0) * one_minus_g2;
    const double sk = std::sqrt(kappa);
    for (int ch = 0; ch < 2; ++ch)
        for (int j = 0; j < N; ++j) {
            const int b = tap_first_[ch][j], e = tap_first_[ch][j + 1];
            if (b == e) continue;
            const double step = std::exp(ln_gamma * tap_spacing_[ch][j]);
            double comp = sk * std::exp(ln_gamma * tap_delay_[ch][b]);  // sqrt(kappa) g^(age/L)
            for (int i = b; i < e; ++i, comp *= step) tap_gain_[ch][i] = static_cast<float>(tap_sign_norm_[ch][i] * comp);
        }
}

void Reverb::process(const float* in_l, const float* in_r, float* out_l, float* out_r, uint32_t n) {
    while (n) {
        if (chunk_left_ == 0) {
            // A new chunk: coefficient glides move on by kChunk frames.
            if (log_decay_.moving() || log_damping_.moving()) {
                log_decay_.advance(kChunk);
                log_damping_.advance(kChunk);
                update_coefficients();
            }
            chunk_left_ = kChunk;
        }
        const uint32_t len = std::min(n, chunk_left_);
        run_chunk(in_l, in_r, out_l, out_r, len);
        chunk_left_ -= len;
        in_l += len, in_r += len, out_l += len, out_r += len;
        n -= len;
    }
}

void Reverb::run_chunk(const float* in_l, const float* in_r, float* out_l, float* out_r, uint32_t n) {
    const float in_scale = static_cast<float>(std::sqrt(2.0 / N));  // each input over N/2 channels, energy kept

    // Pre-delay and diffusion, frame by frame (the diffusion delays can be shorter than a chunk).
    // Every input is read here, before any output is written (out may alias in).
    for (uint32_t i = 0; i < n; ++i) {
        // Pre-delay (read after write: a delay of 0 is the input itself).
        pre_l_[pre_pos_] = flush_tiny(in_l[i]);
        pre_r_[pre_pos_] = flush_tiny(in_r[i]);
        float xl = pre_l_[(pre_pos_ - pre_cur_) & pre_mask_];
        float xr = pre_r_[(pre_pos_ - pre_cur_) & pre_mask_];
        if (pre_fade_left_) {
            const float nl = pre_l_[(pre_pos_ - pre_next_) & pre_mask_];
            const float nr = pre_r_[(pre_pos_ - pre_next_) & pre_mask_];
            if (--pre_fade_left_ == 0) {
                xl = nl;
                xr = nr;
                pre_cur_ = pre_next_;
                if (pre_target_ != pre_cur_) start_pre_fade(pre_target_);
            } else {
                pre_w_ += pre_step_;
                const float w = static_cast<float>(pre_w_);
                xl += w * (nl - xl);
                xr += w * (nr - xr);
            }
        }
        pre_pos_ = (pre_pos_ + 1) & pre_mask_;

        float* ch = chunk_in_[i];
        for (int c = 0; c < N / 2; ++c) ch[c] = xl * in_scale;
        for (int c = N / 2; c < N; ++c) ch[c] = xr * in_scale;
        const uint32_t dbase = diff_pos_ * N;
        for (int s = 0; s < kDiffusionSteps; ++s) {
            float* buf = diff_[s].data();
            const uint32_t m = diff_mask_[s];
            float* w = buf + (dbase & m);
            for (int c = 0; c < N; ++c) w[c] = ch[c];
            for (int c = 0; c < N; ++c) ch[c] = buf[(dbase - diff_off_[s][c]) & m] * diff_sign_[s][c];
            hadamard(ch);
        }
        ++diff_pos_;
    }

    // The network, frame by frame: read, decay filters, mix, write. A chunk never reads what it
    // writes (every line is longer than a chunk).
    const uint32_t mask = size_ - 1;
    float* const lines = lines_.data();
    for (uint32_t i = 0; i < n; ++i) {
        const uint32_t p = (pos_ + i) & mask;
        alignas(16) float x[N];
        for (int j = 0; j < N; ++j) x[j] = lines[static_cast<size_t>(j) * stride_ + ((p - line_len_[j]) & mask)];
        alignas(16) float o[N];
        for (int j = 0; j < N; ++j) {
            const float y = x[j];
            const float v3 = y - ic2_[j];
            const float v1 = a1_[j] * ic1_[j] + a2_[j] * v3;
            const float v2 = ic2_[j] + a2_[j] * ic1_[j] + a3_[j] * v3;
            ic1_[j] = flush_tiny(2.0f * v1 - ic1_[j]);
            ic2_[j] = flush_tiny(2.0f * v2 - ic2_[j]);
            o[j] = m0_[j] * y + m1_[j] * v1 + m2_[j] * v2;
        }
        hadamard(o);
        const float* ch = chunk_in_[i];
        for (int j = 0; j < N; ++j) o[j] = flush_tiny(o[j] + ch[j]);
        for (int j = 0; j < N; ++j) lines[static_cast<size_t>(j) * stride_ + p] = o[j];
        if (p < kChunk)
            for (int j = 0; j < N; ++j) lines[static_cast<size_t>(j) * stride_ + size_ + p] = o[j];
    }

    // Output taps, a run of n frames each (contiguous thanks to the mirror).
    alignas(16) float yl[kChunk] = {}, yr[kChunk] = {};
    for (int ch = 0; ch < 2; ++ch) {
        float* y = ch ? yr : yl;
        for (int t = 0; t < tap_count_; ++t) {
            const float* x = lines + static_cast<size_t>(tap_line_[ch][t]) * stride_ + ((pos_ - tap_delay_[ch][t]) & mask);
            if (n == kChunk) accumulate<kChunk>(y, x, tap_gain_[ch][t]);
            else
                for (uint32_t k = 0; k < n; ++k) y[k] += tap_gain_[ch][t] * x[k];
        }
    }
    for (uint32_t i = 0; i < n; ++i) out_l[i] = yl[i], out_r[i] = yr[i];
    pos_ = (pos_ + n) & mask;
}

}  // namespace looprig::rt
