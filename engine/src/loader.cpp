#include "loader.hpp"

#include <fmt/format.h>
#include <samplerate.h>
#include <sndfile.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <numeric>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <pthread.h>

namespace looprig {

namespace {

std::string base_name(const std::string& path) {
    const auto slash = path.find_last_of('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

DecodeOutcome failure(int code, std::string message) {
    DecodeOutcome out;
    out.code = code;
    out.message = std::move(message);
    return out;
}

/// "<reason>: <path>", the reason first so that a long path (elided in the
/// middle) never hides it within an event's LR_MESSAGE_MAX bytes.
DecodeOutcome refuse(int code, const std::string& reason, const std::string& path) {
    const std::size_t room = LR_MESSAGE_MAX - 1 > reason.size() + 2 ? LR_MESSAGE_MAX - 1 - reason.size() - 2 : 0;
    std::string shown = path;
    if (shown.size() > room && room >= 24) {
        const std::size_t keep = room - 3;  // "..." + head + tail
        shown = path.substr(0, keep / 3) + "..." + path.substr(path.size() - (keep - keep / 3));
    }
    return failure(code, reason + ": " + shown);
}

/// Whether `resolved` (an absolute path without symlinks) lies inside one of
/// `dirs`; "" if so, else why not.
std::string outside_reason(const std::string& resolved, const std::vector<std::string>& dirs) {
    char buf[PATH_MAX];
    for (const std::string& d : dirs) {
        if (!::realpath(d.c_str(), buf)) continue;
        std::string dir = buf;
        if (dir != "/") dir += '/';
        if (resolved.compare(0, dir.size(), dir) == 0) return {};
    }
    std::string list;
    for (const std::string& d : dirs) list += (list.empty() ? "" : ", ") + d;
    return fmt::format("outside the folders this engine may read (looprigd --allow-dir {})", list);
}

// libsndfile's log marks a data chunk shorter than its header claims with
// "data : N (should be M)", M < N (AIFF: "SSND"), and then reads what is
// there. Streamed files (N = 0 or 0xFFFFFFFF) are not truncated.
bool log_says_truncated(const char* log) {
    for (const char* chunk : {"data : ", "SSND : "}) {
        const char* line = std::strstr(log, chunk);
        if (!line) continue;
        unsigned long long claimed = 0, actual = 0;
        if (std::sscanf(line + std::strlen(chunk), "%llu (should be %llu)", &claimed, &actual) == 2 &&
            claimed > actual && claimed != 0xFFFFFFFFull)
            return true;
    }
    return false;
}

struct SndFileCloser {
    void operator()(SNDFILE* f) const { sf_close(f); }
};

}  // namespace

std::vector<float> resample_loop(const float* in, uint64_t frames, uint32_t from_rate, uint32_t to_rate) {
    const double ratio = static_cast<double>(to_rate) / from_rate;
    const auto out_frames = std::max<uint64_t>(1, static_cast<uint64_t>(std::llround(frames * ratio)));
    // Wrap-around context on both sides so the converter sees the loop as
    // periodic; the filter's reach is far below 4096 source frames.
    // The loop's frame 0 lands on output index pad * ratio: pick the pad so that
    // this is a whole number (no fractional shift), when the rates allow it.
    const uint64_t step = from_rate / std::gcd(from_rate, to_rate);
    const uint64_t pad = step <= 65536 ? ((4096 + step - 1) / step) * step : 4096;
    std::vector<float> padded(frames + 2 * pad);
    for (uint64_t i = 0; i < padded.size(); ++i) {
        const int64_t src = static_cast<int64_t>(i) - static_cast<int64_t>(pad);
        const int64_t m = static_cast<int64_t>(frames);
        padded[i] = in[((src % m) + m) % m];
    }
    const auto produced_max = static_cast<uint64_t>(std::ceil(padded.size() * ratio)) + 64;
    std::vector<float> converted(produced_max);
    SRC_DATA data{};
    data.data_in = padded.data();
    data.input_frames = static_cast<long>(padded.size());
    data.data_out = converted.data();
    data.output_frames = static_cast<long>(converted.size());
    data.src_ratio = ratio;
    data.end_of_input = 1;
    if (const int err = src_simple(&data, SRC_SINC_BEST_QUALITY, 1); err != 0)
        throw std::runtime_error(std::string("sample-rate conversion failed: ") + src_strerror(err));
    // Output frame j corresponds to input position j / ratio; the loop's frame 0
    // sits at input index `pad`, i.e. output index pad * ratio.
    const auto first = static_cast<uint64_t>(std::llround(pad * ratio));
    std::vector<float> out(out_frames, 0.0f);
    const uint64_t available =
        static_cast<uint64_t>(data.output_frames_gen) > first ? data.output_frames_gen - first : 0;
    std::copy_n(converted.begin() + static_cast<long>(first), std::min(out_frames, available), out.begin());
    return out;
}

SourceIdentity identity_of(const struct stat& st) {
    SourceIdentity id;
    id.device = static_cast<uint64_t>(st.st_dev);
    id.inode = static_cast<uint64_t>(st.st_ino);
    id.size = static_cast<uint64_t>(st.st_size);
    id.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
    return id;
}

DecodeOutcome decode_loop_file(const std::string& path, uint32_t engine_rate, uint64_t max_bytes,
                               const std::vector<std::string>& allowed_dirs) {
    // One open, then every check and the decode on that descriptor: the file
    // checked is the file read (no swap between check and use), and a FIFO
    // or device cannot block the loader (O_NONBLOCK, then not a regular file).
    const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) return refuse(LR_E_FILE, fmt::format("cannot open ({})", std::strerror(errno)), path);
    struct FdCloser {
        int fd;
        bool owned = true;
        ~FdCloser() {
            if (owned) ::close(fd);
        }
    } guard{fd};
    if (!allowed_dirs.empty()) {
        char resolved[PATH_MAX] = {};
        const std::string link = "/proc/self/fd/" + std::to_string(fd);
        const ssize_t n = ::readlink(link.c_str(), resolved, sizeof resolved - 1);
        if (n <= 0) return refuse(LR_E_FILE, "cannot tell where the file lies", path);
        resolved[n] = '\0';
        if (std::string why = outside_reason(resolved, allowed_dirs); !why.empty())
            return refuse(LR_E_FILE, why, path);
    }
    struct stat st {};
    if (::fstat(fd, &st) != 0) return refuse(LR_E_FILE, fmt::format("cannot stat ({})", std::strerror(errno)), path);
    if (S_ISDIR(st.st_mode)) return refuse(LR_E_FILE, "is a directory, not an audio file", path);
    if (!S_ISREG(st.st_mode)) return refuse(LR_E_FILE, "is not a regular file", path);
    if (st.st_size == 0) return refuse(LR_E_EMPTY, "is empty (0 bytes)", path);
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);

    SF_INFO info{};
    std::unique_ptr<SNDFILE, SndFileCloser> file(sf_open_fd(fd, SFM_READ, &info, SF_TRUE));
    guard.owned = false;  // libsndfile closes it (also when sf_open_fd fails)
    if (!file) {
        std::string why = sf_strerror(nullptr);
        // libsndfile says this of any file it cannot recognise; this one exists and is regular.
        if (why.find("does not exist") != std::string::npos) why = "format not recognised";
        return refuse(LR_E_FORMAT, fmt::format("not a supported audio file ({})", why), path);
    }
    if (info.channels < 1 || info.channels > 2)
        return refuse(LR_E_FORMAT, fmt::format("has {} channels; looprig plays mono or stereo files", info.channels),
                      path);
    if (info.samplerate <= 0 || info.samplerate > 768000)
        return refuse(LR_E_FORMAT, fmt::format("has an unusable sample rate ({})", info.samplerate), path);
    if (info.frames <= 0) return refuse(LR_E_EMPTY, "contains no audio frames", path);

    const double ratio = static_cast<double>(engine_rate) / info.samplerate;
    const uint64_t decoded_bytes = static_cast<uint64_t>(info.frames) * info.channels * sizeof(float);
    const uint64_t engine_bytes = static_cast<uint64_t>(std::ceil(info.frames * ratio)) * info.channels * sizeof(float);
    if (std::max(decoded_bytes, engine_bytes) > max_bytes)
        return refuse(LR_E_TOO_LARGE, fmt::format("needs {:.1f} MiB decoded; the limit is {:.1f} MiB",
                                                  std::max(decoded_bytes, engine_bytes) / 1048576.0,
                                                  max_bytes / 1048576.0), path);

    std::vector<float> interleaved(static_cast<std::size_t>(info.frames) * info.channels);
    const sf_count_t got = sf_readf_float(file.get(), interleaved.data(), info.frames);
    if (got <= 0)
        return refuse(LR_E_FORMAT, fmt::format("no audio could be decoded ({})", sf_strerror(file.get())), path);
    if (got < info.frames)
        return refuse(LR_E_FORMAT,
                      fmt::format("is truncated: its header promises {} frames, only {} could be read", info.frames, got),
                      path);
    // libsndfile quietly shortens a WAV whose data chunk is cut off; its log says so.
    char log[4096] = {};
    sf_command(file.get(), SFC_GET_LOG_INFO, log, sizeof log);
    if (log_says_truncated(log))
        return refuse(LR_E_FORMAT, "is truncated (its header and its data disagree)", path);
    for (float v : interleaved)
        if (!std::isfinite(v)) return refuse(LR_E_FORMAT, "contains NaN or infinite samples", path);

    auto sample = std::make_unique<Sample>();
    sample->channels = static_cast<uint32_t>(info.channels);
    sample->source_rate = static_cast<uint32_t>(info.samplerate);
    sample->source_frames = static_cast<uint64_t>(got);
    std::vector<float> planar[2];
    for (int c = 0; c < info.channels; ++c) {
        planar[c].resize(static_cast<std::size_t>(got));
        for (sf_count_t i = 0; i < got; ++i) planar[c][i] = interleaved[i * info.channels + c];
    }
    interleaved = {};
    for (int c = 0; c < info.channels; ++c) {
        if (static_cast<uint32_t>(info.samplerate) != engine_rate)
            planar[c] = resample_loop(planar[c].data(), planar[c].size(), info.samplerate, engine_rate);
    }
    sample->frames = planar[0].size();
    sample->left = std::move(planar[0]);
    if (info.channels == 2) sample->right = std::move(planar[1]);
    const std::string name = base_name(path);
    std::snprintf(sample->name, sizeof sample->name, "%s", name.c_str());
    std::snprintf(sample->path, sizeof sample->path, "%s", path.c_str());
    sample->source = identity_of(st);

    DecodeOutcome out;
    out.message = info.samplerate == static_cast<int>(engine_rate)
                      ? fmt::format("loaded {}: {} frames, {} ch, {} Hz", name, sample->frames, info.channels,
                                    info.samplerate)
                      : fmt::format("loaded {}: {} frames at {} Hz ({} frames, {} ch, {} Hz in the file)", name,
                                    sample->frames, engine_rate, got, info.channels, info.samplerate);
    out.sample = std::move(sample);
    return out;
}

std::string path_refusal(const std::string& path, const std::vector<std::string>& dirs) {
    if (dirs.empty()) return {};
    char resolved[PATH_MAX];
    if (!::realpath(path.c_str(), resolved)) return fmt::format("cannot open ({}): {}", std::strerror(errno), path);
    const std::string why = outside_reason(resolved, dirs);
    return why.empty() ? why : why + ": " + path;
}

Loader::Loader(AudioCore& core, uint64_t max_bytes, std::vector<std::string> allowed_dirs)
    : core_(core), max_bytes_(max_bytes), allowed_dirs_(std::move(allowed_dirs)) {
    thread_ = std::thread([this] { run(); });
}

Loader::~Loader() {
    stop_.store(true);
    core_.load_bell().ring();
    thread_.join();
}

void Loader::run() {
    using namespace std::chrono_literals;
    pthread_setname_np(pthread_self(), "lr-loader");
    while (!stop_.load()) {
        core_.load_bell().clear();  // a request pushed after this look rings again
        LoadRequest* req = core_.load_requests().front();
        if (!req) {
            core_.load_bell().wait();  // the audio thread rings when it pushes a request
            continue;
        }
        LoadResult result;
        result.client = req->client;
        result.generation = req->generation;
        result.id = req->id;
        result.slot = req->slot;
        DecodeOutcome outcome;
        try {
            outcome = decode_loop_file(req->path, req->sample_rate, max_bytes_, allowed_dirs_);
        } catch (const std::exception& e) {
            outcome = failure(LR_E_INTERNAL, fmt::format("loading {} failed: {}", req->path, e.what()));
        }
        core_.load_requests().pop();
        result.code = outcome.code;
        result.sample = outcome.sample.release();
        std::snprintf(result.message, sizeof result.message, "%s", outcome.message.c_str());
        while (!core_.load_results().push(result)) {
            if (stop_.load()) {
                delete result.sample;
                return;
            }
            std::this_thread::sleep_for(2ms);
        }
    }
}

}  // namespace looprig
