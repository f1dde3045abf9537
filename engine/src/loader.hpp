// Decoding and sample-rate conversion of loop files, on the loader thread.
// Nothing here is RT safe.
#pragma once

#include "rt/audio_core.hpp"
#include "sample.hpp"

#include <sys/stat.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace looprig {

struct DecodeOutcome {
    std::unique_ptr<Sample> sample;  // set on success
    int code = LR_OK;                // lr_error otherwise
    std::string message;             // for the client, success or failure
};

/// Read `path` (WAV, FLAC, OGG/Vorbis, AIFF, ... via libsndfile; mono or
/// stereo), converting to `engine_rate` with a band-limited sinc converter
/// that treats the file as one period of a loop, so the seam stays clean.
/// Files whose decoded size would exceed `max_bytes` are refused.
/// With `allowed_dirs` (looprigd --allow-dir), the file opened must lie inside
/// one of them (checked on the open descriptor, so a swapped symlink cannot
/// escape). Messages put the reason first and the path last.
DecodeOutcome decode_loop_file(const std::string& path, uint32_t engine_rate, uint64_t max_bytes,
                               const std::vector<std::string>& allowed_dirs = {});

/// The identity (device, inode, size, mtime) of a file as fstat/stat saw it.
SourceIdentity identity_of(const struct stat& st);

/// Resample one channel of a loop of `frames` frames from `from_rate` to
/// `to_rate`, circularly (the end wraps to the start). Output length is
/// round(frames * to_rate / from_rate), at least 1.
std::vector<float> resample_loop(const float* in, uint64_t frames, uint32_t from_rate, uint32_t to_rate);

/// Where files may be read from: empty = any absolute path; otherwise the
/// path, with every symlink and ".." resolved (realpath), must lie inside one
/// of `dirs` (themselves resolved). Returns "" if allowed, else why not.
std::string path_refusal(const std::string& path, const std::vector<std::string>& dirs);

/// The loader thread: takes LoadRequests from the audio core, answers with
/// LoadResults. It sleeps until the audio thread rings AudioCore::load_bell()
/// (lock-free, non-blocking) after pushing a request.
class Loader {
public:
    /// `allowed_dirs`: see path_refusal().
    Loader(AudioCore& core, uint64_t max_bytes, std::vector<std::string> allowed_dirs = {});
    ~Loader();

private:
    void run();
    AudioCore& core_;
    uint64_t max_bytes_;
    std::vector<std::string> allowed_dirs_;
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

}  // namespace looprig
