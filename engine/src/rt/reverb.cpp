// The algorithmic reverb (see reverb.hpp for the design). All RT safe except prepare().
#include "reverb.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numbers>

namespace looprig::rt {

namespace {

constexpr int N = Reverb::kLines;
static_assert((N & (N - 1)) == 0, "Hadamard mixing needs a power of two");

// Line lengths at 48 kHz in ms (spread geometrically over ~45..100 ms), made prime at the actual rate.
constexpr double kLineMs[N] = {45.3, 50.9, 57.1, 63.7, 70.9, 79.3, 88.7, 99.1};
// Range of the per-channel delays of each diffusion step, ms.
constexpr double kDiffusionMs[Reverb::kDiffusionSteps] = {3.7, 6.1, 9.9, 15.7};
constexpr double kMaxPredelayMs = 250.0;

/// In-place orthonormal Hadamard transform (the matrix is its own inverse, energy preserving).
inline void hadamard(float* x) {
    for (int h = 1; h < N; h <<= 1)
        for (int i = 0; i < N; i += h << 1)
            for (int j = i; j < i + h; ++j) {
                const float a = x[j], b = x[j + h];
                x[j] = a + b;
                x[j + h] = a - b;
            }
    const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(N)));
    for (int i = 0; i < N; ++i) x[i] *= scale;
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
        uint32_t longest = 0;
        for (int c = 0; c < N; ++c) {
            const double d = range * (c + rng.uniform()) / N;
            diff_delay_[s][c] = static_cast<uint32_t>(d);
            diff_sign_[s][c] = rng.sign();
            longest = std::max(longest, diff_delay_[s][c]);
        }
        // Shuffle which channel gets which delay so the steps do not line up.
        for (int c = N - 1; c > 0; --c) {
            const int o = static_cast<int>(rng.uniform() * (c + 1));
            std::swap(diff_delay_[s][c], diff_delay_[s][o]);
        }
        const uint32_t size = pow2_at_least(longest + 1);
        diff_[s].assign(static_cast<size_t>(size) * N, 0.0f);
        diff_mask_[s] = size - 1;
    }
    diff_pos_ = 0;

    // The network: prime line lengths (distinct primes are mutually prime).
    uint32_t longest = 0;
    for (int j = 0; j < N; ++j) {
        uint32_t len = static_cast<uint32_t>(std::lround(kLineMs[j] * 1e-3 * fs_));
        while (!is_prime(len) || (j > 0 && len <= line_len_[j - 1])) ++len;
        line_len_[j] = len;
        longest = std::max(longest, len);
    }
    const uint32_t size = pow2_at_least(longest + 1);
    lines_.assign(static_cast<size_t>(size) * N, 0.0f);
    mask_ = size - 1;
    pos_ = 0;

    // Output taps: kTaps per line per channel, evenly spaced over the line (ages 0..L-1) from a
    // random phase, with random signs; independent phases and signs for left and right. Even
    // spacing makes the taps sample the stored energy uniformly (random positions leave gaps
    // and clusters that show as +-1 dB bumps in the first 100 ms).
    for (int ch = 0; ch < 2; ++ch)
        for (int j = 0; j < N; ++j) {
            const double phase = rng.uniform();
            for (int t = 0; t < kTaps; ++t) {
                const int i = j * kTaps + t;
                const double len = line_len_[j];
                tap_delay_[ch][i] = std::min(static_cast<uint32_t>(len * (t + phase) / kTaps),
                                             line_len_[j] - 1);
                tap_line_[ch][i] = static_cast<uint32_t>(j);
                tap_sign_norm_[ch][i] = rng.sign() * static_cast<float>(std::sqrt(len / kTaps));
            }
        }

    // Defaults (the params table's) until the engine sets its own.
    log_decay_.jump(std::log(2.0));
    log_damping_.jump(std::log(6000.0));
    segment_left_ = 0;
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
    segment_left_ = 0;
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
    for (int j = 0; j < N; ++j) {
        // Decay gain of one pass and the high shelf that doubles its dB above the damping frequency.
        const double gain = std::exp(ln_gamma * line_len_[j]);
        const double shelf_db = 20.0 * std::log10(gain);
        SvfCoefs c = svf_design(FilterShape::high_shelf, damping, 0.7071067811865476, shelf_db, fs_);
        const SvfTick t = SvfTick::from(c);
        a1_[j] = static_cast<float>(t.a1);
        a2_[j] = static_cast<float>(t.a2);
        a3_[j] = static_cast<float>(t.a3);
        m0_[j] = static_cast<float>(t.m0 * gain);
        m1_[j] = static_cast<float>(t.m1 * gain);
        m2_[j] = static_cast<float>(t.m2 * gain);
    }
    // Output level: each channel's energy for a unit input is kappa / (1 - gamma^2); aim at
    // 0.5 * sqrt(RT60 / 2 s).
    const double one_minus_g2 = -std::expm1(2.0 * ln_gamma);
    const double kappa = 0.5 * std::sqrt(rt60 / 2.0) * one_minus_g2;
    const double sk = std::sqrt(kappa);
    for (int ch = 0; ch < 2; ++ch)
        for (int i = 0; i < kTapCount; ++i)
            tap_gain_[ch][i] =
                static_cast<float>(tap_sign_norm_[ch][i] * sk * std::exp(ln_gamma * tap_delay_[ch][i]));
}

void Reverb::process(const float* in_l, const float* in_r, float* out_l, float* out_r, uint32_t n) {
    const float in_scale = static_cast<float>(std::sqrt(2.0 / N));  // each input over N/2 channels, energy kept
    for (uint32_t i = 0; i < n; ++i) {
        // Coefficient glides, recomputed every kSegment frames.
        if (segment_left_ == 0 && (log_decay_.moving() || log_damping_.moving())) {
            log_decay_.advance(kSegment);
            log_damping_.advance(kSegment);
            update_coefficients();
            segment_left_ = kSegment;
        }
        if (segment_left_) --segment_left_;

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

        // Diffusion.
        alignas(32) float ch[N];
        for (int c = 0; c < N / 2; ++c) ch[c] = xl * in_scale;
        for (int c = N / 2; c < N; ++c) ch[c] = xr * in_scale;
        for (int s = 0; s < kDiffusionSteps; ++s) {
            float* buf = diff_[s].data();
            const uint32_t m = diff_mask_[s];
            float* w = buf + static_cast<size_t>(diff_pos_ & m) * N;
            for (int c = 0; c < N; ++c) w[c] = ch[c];
            for (int c = 0; c < N; ++c)
                ch[c] = buf[static_cast<size_t>((diff_pos_ - diff_delay_[s][c]) & m) * N + c] * diff_sign_[s][c];
            hadamard(ch);
        }
        ++diff_pos_;

        // The network: read, decay filters, mix, write.
        alignas(32) float o[N];
        for (int j = 0; j < N; ++j) o[j] = lines_[static_cast<size_t>((pos_ - line_len_[j]) & mask_) * N + j];
        for (int j = 0; j < N; ++j) {
            const float v3 = o[j] - ic2_[j];
            const float v1 = a1_[j] * ic1_[j] + a2_[j] * v3;
            const float v2 = ic2_[j] + a2_[j] * ic1_[j] + a3_[j] * v3;
            ic1_[j] = flush_tiny(2.0f * v1 - ic1_[j]);
            ic2_[j] = flush_tiny(2.0f * v2 - ic2_[j]);
            o[j] = m0_[j] * o[j] + m1_[j] * v1 + m2_[j] * v2;
        }
        hadamard(o);
        float* w = &lines_[static_cast<size_t>(pos_ & mask_) * N];
        for (int j = 0; j < N; ++j) w[j] = flush_tiny(o[j] + ch[j]);

        // Output taps.
        float yl = 0.0f, yr = 0.0f;
        for (int t = 0; t < kTapCount; ++t)
            yl += tap_gain_[0][t] * lines_[static_cast<size_t>((pos_ - tap_delay_[0][t]) & mask_) * N + tap_line_[0][t]];
        for (int t = 0; t < kTapCount; ++t)
            yr += tap_gain_[1][t] * lines_[static_cast<size_t>((pos_ - tap_delay_[1][t]) & mask_) * N + tap_line_[1][t]];
        pos_ = (pos_ + 1) & mask_;
        out_l[i] = yl;
        out_r[i] = yr;
    }
}

}  // namespace looprig::rt
