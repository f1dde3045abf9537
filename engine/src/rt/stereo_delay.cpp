// The tempo-synced stereo echo. All RT safe except prepare().
#include "stereo_delay.hpp"

#include <algorithm>
#include <cmath>

namespace looprig::rt {

namespace {

constexpr double kButterworthQ = 0.7071067811865476;

/// Tiny values become 0 before they are stored: a decaying echo tail never goes denormal.
inline float flush_tiny(double v) { return std::fabs(v) < 1e-20 ? 0.0f : static_cast<float>(v); }

}  // namespace

void StereoDelay::prepare(double sample_rate, uint32_t max_delay_frames, uint32_t ramp_frames) {
    fs_ = sample_rate;
    ramp_ = ramp_frames;
    max_d_ = std::max<uint32_t>(1, max_delay_frames);
    uint32_t size = 1;
    while (size < max_d_ + 1) size <<= 1;
    line_l_.assign(size, 0.0f);
    line_r_.assign(size, 0.0f);
    mask_ = size - 1;
    pos_ = 0;
    written_ = 0;
    lowcut_.prepare(FilterShape::highpass, sample_rate, ramp_frames);
    highcut_.prepare(FilterShape::lowpass, sample_rate, ramp_frames);
    // The params table's defaults until the engine sets its own.
    target_d_ = cur_d_ = next_d_ = std::clamp<uint32_t>(static_cast<uint32_t>(0.375 * sample_rate), 1, max_d_);
    fade_left_ = 0;
    feedback_.jump(0.35);
    pingpong_.jump(0.0);
    set_lowcut(80.0);
    set_highcut(8000.0);
    settle();
    reset();
}

void StereoDelay::set_delay_frames(uint32_t frames) {
    target_d_ = std::clamp<uint32_t>(frames, 1, max_d_);
    if (!fade_left_ && target_d_ != cur_d_) start_fade(target_d_);
}

void StereoDelay::start_fade(uint32_t d) {
    if (ramp_ == 0) {
        cur_d_ = next_d_ = d;
        fade_left_ = 0;
        return;
    }
    next_d_ = d;
    fade_left_ = ramp_;
    fade_w_ = 0.0;
    fade_step_ = 1.0 / static_cast<double>(ramp_);
}

void StereoDelay::set_feedback(double gain) { feedback_.set(std::clamp(gain, 0.0, 0.95), ramp_); }

void StereoDelay::set_lowcut(double hz) { lowcut_.set(hz, kButterworthQ, 0.0); }

void StereoDelay::set_highcut(double hz) {
    const double open = std::min(20000.0, 0.45 * fs_);
    if (hz >= open) {
        highcut_on_.set(0.0, ramp_);
        if (highcut_on_.value == 0.0) highcut_.set_immediately(open, kButterworthQ, 0.0);
        else highcut_.set(open, kButterworthQ, 0.0);
    } else {
        if (highcut_on_.value == 0.0 && !highcut_on_.moving()) highcut_.set_immediately(hz, kButterworthQ, 0.0);
        else highcut_.set(hz, kButterworthQ, 0.0);
        highcut_on_.set(1.0, ramp_);
    }
}

void StereoDelay::set_pingpong(bool on) { pingpong_.set(on ? 1.0 : 0.0, ramp_); }

void StereoDelay::settle() {
    feedback_.jump(feedback_.target);
    pingpong_.jump(pingpong_.target);
    highcut_on_.jump(highcut_on_.target);
    lowcut_.settle();
    highcut_.settle();
    if (fade_left_ || cur_d_ != target_d_) {
        cur_d_ = next_d_ = target_d_;
        fade_left_ = 0;
    }
}

void StereoDelay::reset() {
    written_ = 0;  // every read returns 0 until the line has been written again
    lowcut_.reset();
    highcut_.reset();
}

void StereoDelay::process(const float* in_l, const float* in_r, float* out_l, float* out_r, uint32_t n) {
    const uint32_t size = mask_ + 1;
    for (uint32_t i = 0; i < n; ++i) {
        const double xl = in_l[i], xr = in_r[i];  // read both before out (which may alias in) is written

        // The read tap, crossfaded to a new one after a delay change.
        double yl = read(line_l_, cur_d_), yr = read(line_r_, cur_d_);
        if (fade_left_) {
            const double nl = read(line_l_, next_d_), nr = read(line_r_, next_d_);
            if (--fade_left_ == 0) {
                yl = nl;
                yr = nr;
                cur_d_ = next_d_;
                if (target_d_ != cur_d_) start_fade(target_d_);
            } else {
                fade_w_ += fade_step_;
                yl += fade_w_ * (nl - yl);
                yr += fade_w_ * (nr - yr);
            }
        }
        out_l[i] = static_cast<float>(yl);
        out_r[i] = static_cast<float>(yr);

        // Feedback: gain, then low cut, then high cut (crossfaded with open when it leaves the range).
        const double fb = feedback_.next();
        double fl = fb * yl, fr = fb * yr;
        lowcut_.tick(fl, fr);
        if (highcut_on_.value != 0.0 || highcut_on_.moving()) {
            double hl = fl, hr = fr;
            highcut_.tick(hl, hr);
            const double w = highcut_on_.next();
            if (w == 1.0) {
                fl = hl;
                fr = hr;
            } else {
                fl += w * (hl - fl);
                fr += w * (hr - fr);
            }
        }

        // Into the lines: straight, ping-pong, or a crossfade between the two routings.
        const double p = pingpong_.next();
        double wl, wr;
        if (p == 0.0) {
            wl = xl + fl;
            wr = xr + fr;
        } else if (p == 1.0) {
            wl = 0.5 * (xl + xr) + fr;
            wr = fl;
        } else {
            const double mono = 0.5 * (xl + xr);
            wl = (1.0 - p) * (xl + fl) + p * (mono + fr);
            wr = (1.0 - p) * (xr + fr) + p * fl;
        }
        line_l_[pos_] = flush_tiny(wl);
        line_r_[pos_] = flush_tiny(wr);
        pos_ = (pos_ + 1) & mask_;
        if (written_ < size) ++written_;
    }
    if (highcut_on_.value == 0.0 && !highcut_on_.moving()) highcut_.reset();
    lowcut_.flush_tiny();
    highcut_.flush_tiny();
}

}  // namespace looprig::rt
