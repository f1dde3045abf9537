// Offline tempo/pitch renders of one loop cycle (see render.hpp). Nothing
// here is RT safe. The method, and the measurements that chose each step, are
// in docs/TEMPO_AND_STRETCH.md ("How a render is made"); in short:
// 1. The cycle is unrolled circularly with at least a second of context on
//    each side, so Rubber Band's start and end behaviour falls outside what
//    is kept.
// 2. One Rubber Band pass at ratio T/N exactly: R3 offline (study + process,
//    fed getSamplesRequired() frames per call: larger blocks drift onsets),
//    R2 real-time with OptionWindowShort | OptionTransientsMixed (its offline
//    mode moves onsets; Crisp detunes steady tones).
// 3. The cut takes exactly T frames from where source frame 0 lands; 3b. it
//    moves by the median onset error of the output (Rubber Band's common
//    offset), and the frames before the cut are the render's pre-roll.
// 4. The seam: the cycle ends with the same music one period earlier,
//    crossfaded where the two versions differ least, with a gain law for
//    their correlation, so the wrap is as smooth as any step inside.
// 5. Ratio 1 with pitch 1 is an exact copy.
// Threading: OptionThreadingNever (a second thread per render would take the
// other core from the audio thread); renders are deterministic.
#include "render.hpp"

#include <rubberband/RubberBandStretcher.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <exception>
#include <numeric>
#include <vector>

namespace looprig {

namespace {

using Stretcher = RubberBand::RubberBandStretcher;

// Rubber Band's default logger writes to std::cerr. Renders say nothing.
struct QuietLogger final : Stretcher::Logger {
    void log(const char*) override {}
    void log(const char*, double) override {}
    void log(const char*, double, double) override {}
};

constexpr double kContextSeconds = 1.0;    // settled audio beyond everything we read, each side
constexpr double kSearchSeconds = 1.0;     // crossfade search span (end of the cycle)
constexpr double kCrossfadeSeconds = 0.05; // crossfade length, at most T/2
constexpr double kMaxExtraSeconds = 1.0;   // extra context allowed to make P whole
constexpr std::size_t kBlock = 16384;      // largest process() / retrieve() block
constexpr double kMinRho = -0.9;           // crossfade gain law: at most 1 / sqrt(0.5 * (1 + kMinRho)) = 4.5x

RenderResult failure(std::string message, std::chrono::steady_clock::time_point t0) {
    RenderResult r;
    r.error = std::move(message);
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return r;
}

std::unique_ptr<Sample> empty_like(const Sample& source, uint64_t frames) {
    auto s = std::make_unique<Sample>();
    s->frames = frames;
    s->channels = source.channels;
    s->source_rate = source.source_rate;
    s->source_frames = source.source_frames;
    std::memcpy(s->name, source.name, sizeof s->name);
    return s;
}

// Joins the last `span` frames of the stretched stream's cycle k
// (a[j] = y[P + T - span + j]) with the same frames of cycle k-1
// (b[j] = y[P - span + j]) into out[0, span) with one crossfade of `fade`
// frames (see step 4 above): a before the fade, b after it.
void join_cycles(const std::vector<const float*>& a, const std::vector<const float*>& b,
                 const std::vector<float*>& out, uint64_t span, uint64_t fade) {
    // Prefix sums of the squared difference, all channels together.
    std::vector<double> diff(span + 1, 0.0);
    for (uint64_t j = 0; j < span; ++j) {
        double d2 = 0;
        for (std::size_t c = 0; c < a.size(); ++c) {
            const double d = static_cast<double>(a[c][j]) - b[c][j];
            d2 += d * d;
        }
        diff[j + 1] = diff[j] + d2;
    }
    // Latest start first, so that among equal places the one nearest the seam wins.
    uint64_t start = span - fade;
    double best = diff[span] - diff[start];
    for (uint64_t s = start; s-- > 0;) {
        const double cost = diff[s + fade] - diff[s];
        if (cost < best * (1 - 1e-9)) {
            best = cost;
            start = s;
        }
    }
    double ab = 0, aa = 0, bb = 0;
    for (std::size_t c = 0; c < a.size(); ++c)
        for (uint64_t j = start; j < start + fade; ++j) {
            ab += static_cast<double>(a[c][j]) * b[c][j];
            aa += static_cast<double>(a[c][j]) * a[c][j];
            bb += static_cast<double>(b[c][j]) * b[c][j];
        }
    const double rho = std::clamp((aa > 0 && bb > 0) ? ab / std::sqrt(aa * bb) : 1.0, kMinRho, 1.0);
    for (std::size_t c = 0; c < a.size(); ++c) {
        std::copy(a[c], a[c] + start, out[c]);
        for (uint64_t k = 0; k < fade; ++k) {
            const double t = (k + 0.5) / static_cast<double>(fade);
            const double wa = 1 - t, wb = t;
            const double g = 1 / std::sqrt(wa * wa + wb * wb + 2 * rho * wa * wb);
            const uint64_t j = start + k;
            out[c][j] = static_cast<float>(g * (wa * a[c][j] + wb * b[c][j]));
        }
        std::copy(b[c] + start + fade, b[c] + span, out[c] + start + fade);
    }
}

/// High-frequency envelope of frames [from, to) of a signal read through
/// `at(c, i)`: |first difference| summed over the channels, averaged over a
/// centred window of `w` frames.
template <typename At>
std::vector<double> hf_envelope(uint32_t channels, int64_t from, int64_t to, uint64_t w, At at) {
    const auto half = static_cast<int64_t>(w / 2);
    const auto n = static_cast<std::size_t>(to - from);
    std::vector<double> d(n + 2 * static_cast<std::size_t>(half) + 1);  // frames from - half on
    for (std::size_t k = 0; k < d.size(); ++k) {
        const int64_t i = from - half + static_cast<int64_t>(k);
        double e = 0;
        for (uint32_t c = 0; c < channels; ++c) e += std::fabs(static_cast<double>(at(c, i)) - at(c, i - 1));
        d[k] = e;
    }
    std::vector<double> sum(d.size() + 1, 0.0);
    for (std::size_t k = 0; k < d.size(); ++k) sum[k + 1] = sum[k] + d[k];
    std::vector<double> env(n);
    const auto span = static_cast<std::size_t>(2 * half + 1);
    for (std::size_t k = 0; k < n; ++k) env[k] = (sum[k + span] - sum[k]) / static_cast<double>(span);
    return env;
}

/// The onset near `expect` in env (index = frame - base; circular over the
/// whole env if `wrap`): the first frame of [expect - reach, expect + reach]
/// where the envelope reaches half its largest value in that window.
double onset_near(const std::vector<double>& env, int64_t base, double expect, int64_t reach, bool wrap) {
    const auto n = static_cast<int64_t>(env.size());
    auto at = [&](int64_t f) {
        int64_t k = f - base;
        if (wrap) k = ((k % n) + n) % n;
        return env[static_cast<std::size_t>(std::clamp<int64_t>(k, 0, n - 1))];
    };
    const int64_t lo = std::llround(expect) - reach, hi = std::llround(expect) + reach;
    double peak = 0;
    for (int64_t f = lo; f <= hi; ++f) peak = std::max(peak, at(f));
    for (int64_t f = lo; f <= hi; ++f)
        if (at(f) >= 0.5 * peak) return static_cast<double>(f);
    return expect;
}

/// The shift of the cut (output frames, within +-reach) that puts the
/// stretched stream's onsets where the source cycle's onsets map through
/// `ratio`: the median error over the source's clear onsets (step 3b), 0
/// for material without any.
int64_t onset_shift(const Sample& source, uint64_t N, const std::vector<std::vector<float>>& stream, uint64_t cut,
                    uint64_t T, double ratio, uint64_t w, int64_t reach) {
    const uint32_t channels = source.channels;
    const auto n = static_cast<int64_t>(N);
    const auto src = hf_envelope(channels, 0, n, w, [&](uint32_t c, int64_t i) {
        return source.channel(static_cast<int>(c))[static_cast<std::size_t>(((i % n) + n) % n)];
    });
    // Onset candidates: where the envelope rises by half its largest value
    // within w frames; the strongest per 2 * reach frames.
    const double top = *std::max_element(src.begin(), src.end());
    if (!(top > 0)) return 0;
    std::vector<std::pair<double, int64_t>> rises;
    for (int64_t i = 0; i < n; ++i) {
        const double rise = src[static_cast<std::size_t>(i)] - src[static_cast<std::size_t>(((i - static_cast<int64_t>(w)) % n + n) % n)];
        if (rise >= 0.5 * top) rises.emplace_back(rise, i);
    }
    std::sort(rises.begin(), rises.end(), std::greater<>());
    std::vector<int64_t> onsets;
    for (const auto& [rise, i] : rises) {
        bool near = false;
        for (int64_t o : onsets) {
            const int64_t d = std::abs(o - i);
            near = near || std::min(d, n - d) < 2 * reach;
        }
        if (!near) onsets.push_back(i);
        if (onsets.size() >= 256) break;
    }
    if (onsets.empty()) return 0;
    const auto base = static_cast<int64_t>(cut) - 2 * reach;
    const auto out = hf_envelope(channels, base, static_cast<int64_t>(cut + T) + 2 * reach, w,
                                 [&](uint32_t c, int64_t i) { return stream[c][static_cast<std::size_t>(i)]; });
    std::vector<double> errors;
    for (int64_t i : onsets) {
        const double in = onset_near(src, 0, static_cast<double>(i), reach / 2, true);
        const double expect = static_cast<double>(cut) + in * ratio;
        errors.push_back(onset_near(out, base, expect, reach, false) - expect);
    }
    std::nth_element(errors.begin(), errors.begin() + static_cast<long>(errors.size() / 2), errors.end());
    const auto shift = static_cast<int64_t>(std::llround(errors[errors.size() / 2]));
    return std::clamp(shift, -reach, reach);
}

}  // namespace

RenderResult render_loop(const Sample& source, const RenderSpec& spec) {
    const auto t0 = std::chrono::steady_clock::now();
    const uint64_t N = source.frames;
    const uint64_t T = spec.target_frames;
    const uint32_t channels = source.channels;
    if (channels != 1 && channels != 2) return failure("render: the source must be mono or stereo", t0);
    if (N == 0 || source.left.size() < N || (channels == 2 && source.right.size() < N))
        return failure("render: the source has no audio (or fewer samples than frames)", t0);
    if (T == 0) return failure("render: target_frames must be at least 1", t0);
    if (!(spec.pitch_scale >= 0.25 && spec.pitch_scale <= 4.0))
        return failure("render: pitch_scale must lie in [0.25, 4]", t0);
    if (spec.sample_rate < 8000 || spec.sample_rate > 192000)
        return failure("render: sample_rate must lie in [8000, 192000]", t0);
    const double ratio = static_cast<double>(T) / static_cast<double>(N);
    if (!(ratio >= 0.125 && ratio <= 8.0))
        return failure("render: the time ratio target/source must lie in [1/8, 8]", t0);

    RenderResult result;
    if (T == N && spec.pitch_scale == 1.0) {
        auto copy = empty_like(source, N);
        copy->left.assign(source.left.begin(), source.left.begin() + static_cast<long>(N));
        if (channels == 2) copy->right.assign(source.right.begin(), source.right.begin() + static_cast<long>(N));
        result.sample = std::move(copy);
        result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        return result;
    }

    try {
        const double sr = spec.sample_rate;
        // R2 runs in real-time mode, R3 in offline mode (see step 2 above).
        const bool realtime = !spec.finer;
        Stretcher::Options options = Stretcher::OptionThreadingNever | Stretcher::OptionPitchHighQuality;
        if (spec.finer)
            options |= Stretcher::OptionEngineFiner | Stretcher::OptionProcessOffline;
        else
            options |= Stretcher::OptionEngineFaster | Stretcher::OptionProcessRealTime | Stretcher::OptionWindowShort |
                       Stretcher::OptionTransientsMixed;
        if (channels == 2) options |= Stretcher::OptionChannelsTogether;
        Stretcher stretcher(spec.sample_rate, channels, std::make_shared<QuietLogger>(), options, ratio,
                            spec.pitch_scale);
        // Real-time mode: input frame `lead` is output frame 0 once `delay` output frames are dropped.
        const uint64_t lead = realtime ? stretcher.getPreferredStartPad() : 0;
        uint64_t delay = realtime ? stretcher.getStartDelay() : 0;

        // Output frames needed before P: the crossfade search span of cycle k-1.
        const uint64_t span = std::min<uint64_t>(T, static_cast<uint64_t>(std::llround(kSearchSeconds * sr)));
        const uint64_t fade = std::max<uint64_t>(
            1, std::min<uint64_t>(T / 2, static_cast<uint64_t>(std::llround(kCrossfadeSeconds * sr))));
        const auto context = static_cast<uint64_t>(std::ceil(kContextSeconds * sr));
        uint64_t ahead = static_cast<uint64_t>(std::ceil(span / ratio)) + context;  // pre - lead
        const uint64_t post = context;
        // Make P = ahead * T / N whole when that is cheap (see step 3).
        const uint64_t step = N / std::gcd(N, T);
        if (step <= static_cast<uint64_t>(kMaxExtraSeconds * sr)) ahead = (ahead + step - 1) / step * step;
        const uint64_t pre = lead + ahead;
        const uint64_t P = static_cast<uint64_t>(std::llround(static_cast<double>(ahead) * T / N));
        const uint64_t total = pre + N + post;

        std::vector<std::vector<float>> input(channels, std::vector<float>(total));
        for (uint32_t c = 0; c < channels; ++c) {
            const float* src = source.channel(static_cast<int>(c));
            // input[i] = src[(i - pre) mod N]
            uint64_t k = (N - pre % N) % N;
            for (uint64_t i = 0; i < total; ++i) {
                input[c][i] = src[k];
                if (++k == N) k = 0;
            }
        }

        std::vector<const float*> in_ptrs(channels);
        if (!realtime) {
            stretcher.setExpectedInputDuration(total);
            for (uint32_t c = 0; c < channels; ++c) in_ptrs[c] = input[c].data();
            stretcher.study(in_ptrs.data(), total, true);
        }
        stretcher.setMaxProcessSize(kBlock);

        // Onset alignment (step 3b): +-12 ms, onset windows of 1 ms.
        const auto reach = static_cast<int64_t>(std::llround(0.012 * sr));
        const uint64_t onset_w = std::max<uint64_t>(1, static_cast<uint64_t>(std::llround(0.001 * sr)));
        const uint64_t need = P + T + 3 * static_cast<uint64_t>(reach) + onset_w;  // output frames we read
        std::vector<std::vector<float>> stream(channels);
        for (auto& s : stream) s.reserve(need + kBlock);
        std::vector<std::vector<float>> chunk(channels, std::vector<float>(kBlock));
        std::vector<float*> chunk_ptrs(channels);
        for (uint32_t c = 0; c < channels; ++c) chunk_ptrs[c] = chunk[c].data();
        auto drain = [&] {
            for (int avail = stretcher.available(); avail > 0; avail = stretcher.available()) {
                const std::size_t got =
                    stretcher.retrieve(chunk_ptrs.data(), std::min<std::size_t>(static_cast<std::size_t>(avail), kBlock));
                if (got == 0) break;
                const uint64_t drop = std::min<uint64_t>(delay, got);
                delay -= drop;
                for (uint32_t c = 0; c < channels; ++c)
                    stream[c].insert(stream[c].end(), chunk[c].begin() + static_cast<long>(drop),
                                     chunk[c].begin() + static_cast<long>(got));
            }
        };
        for (uint64_t off = 0; off < total && stream[0].size() < need;) {
            const uint64_t n = std::clamp<uint64_t>(stretcher.getSamplesRequired(), 1, std::min<uint64_t>(kBlock, total - off));
            for (uint32_t c = 0; c < channels; ++c) in_ptrs[c] = input[c].data() + off;
            stretcher.process(in_ptrs.data(), n, off + n == total);
            off += n;
            drain();
        }
        drain();
        if (stream[0].size() < need)
            return failure("render: the stretcher returned " + std::to_string(stream[0].size()) + " frames, " +
                               std::to_string(need) + " were needed",
                           t0);
        input = {};
        uint64_t cut = P;  // P >= span + reach: the context before P is a second
        if (T > 4 * onset_w && N > 4 * onset_w)
            cut = static_cast<uint64_t>(static_cast<int64_t>(P) +
                                        onset_shift(source, N, stream, P, T, ratio, onset_w, reach));
        result.onset_shift = static_cast<int64_t>(cut) - static_cast<int64_t>(P);
        auto out = empty_like(source, T);
        out->left.resize(T);
        if (channels == 2) out->right.resize(T);
        std::vector<const float*> a(channels), b(channels);
        std::vector<float*> o(channels);
        for (uint32_t c = 0; c < channels; ++c) {
            float* dst = c == 0 ? out->left.data() : out->right.data();
            std::copy_n(stream[c].data() + cut, T - span, dst);  // cycle k up to the search span
            a[c] = stream[c].data() + cut + (T - span);
            b[c] = stream[c].data() + (cut - span);  // cut >= span: pre >= span / ratio + 1 s
            o[c] = dst + (T - span);
        }
        join_cycles(a, b, o, span, fade);
        // Rubber Band spreads an onset over a few ms, mostly before it; the cut
        // puts the onset on the beat and that part at the cycle's end (up to
        // the alignment's reach back).
        out->pre_roll = static_cast<uint32_t>(std::min<uint64_t>(static_cast<uint64_t>(reach), T / 4));
        result.sample = std::move(out);
    } catch (const std::exception& e) {
        return failure(std::string("render failed: ") + e.what(), t0);
    }
    result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return result;
}

}  // namespace looprig
