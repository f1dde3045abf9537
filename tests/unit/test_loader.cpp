// Decoding and loop-aware sample-rate conversion of real files.
#include "loader.hpp"

#include <doctest/doctest.h>
#include <sndfile.h>

#include <cmath>
#include <cstdlib>
#include <cstdio>
#include <fstream>
#include <numbers>
#include <string>
#include <unistd.h>
#include <fcntl.h>
#include <vector>

using namespace looprig;

namespace {
std::string temp_path(const std::string& name) {
    return "/tmp/looprig-unit-" + std::to_string(getpid()) + "-" + name;
}

std::string write_wav(const std::string& name, const std::vector<float>& interleaved, int channels, int rate,
                      int format = SF_FORMAT_WAV | SF_FORMAT_FLOAT) {
    const std::string path = temp_path(name);
    SF_INFO info{};
    info.channels = channels;
    info.samplerate = rate;
    info.format = format;
    SNDFILE* f = sf_open(path.c_str(), SFM_WRITE, &info);
    REQUIRE(f != nullptr);
    sf_writef_float(f, interleaved.data(), static_cast<sf_count_t>(interleaved.size() / channels));
    sf_close(f);
    return path;
}

std::vector<float> sine(double freq, int rate, std::size_t frames, double amp = 0.5) {
    std::vector<float> v(frames);
    for (std::size_t i = 0; i < frames; ++i) v[i] = static_cast<float>(amp * std::sin(2 * std::numbers::pi * freq * i / rate));
    return v;
}

// Frequency from zero crossings (rising) over the whole buffer.
double measured_freq(const std::vector<float>& x, int rate) {
    int first = -1, last = -1, count = 0;
    for (std::size_t i = 1; i < x.size(); ++i)
        if (x[i - 1] < 0 && x[i] >= 0) {
            const double frac = x[i - 1] / (x[i - 1] - x[i]);
            const int pos = static_cast<int>(i);
            (void)frac;
            if (first < 0) first = pos;
            last = pos;
            ++count;
        }
    return (count - 1) * static_cast<double>(rate) / (last - first);
}
}  // namespace

TEST_CASE("a file at the engine rate loads bit-exact") {
    const auto x = sine(441, 48000, 4999);
    const std::string p = write_wav("exact.wav", x, 1, 48000);
    auto out = decode_loop_file(p, 48000, 1 << 30);
    REQUIRE(out.code == LR_OK);
    REQUIRE(out.sample->frames == 4999);
    CHECK(out.sample->channels == 1);
    for (std::size_t i = 0; i < x.size(); ++i) REQUIRE(out.sample->left[i] == x[i]);
    std::remove(p.c_str());
}

TEST_CASE("44.1 and 96 kHz files are converted to the right length, frequency and seam") {
    for (int rate : {44100, 96000}) {
        // 1 s of a 441 Hz sine: exactly 441 cycles, so the loop is seamless.
        const auto x = sine(441, rate, static_cast<std::size_t>(rate));
        std::vector<float> stereo;
        for (float v : x) {
            stereo.push_back(v);
            stereo.push_back(-v);
        }
        const std::string p = write_wav("rate.wav", stereo, 2, rate);
        auto out = decode_loop_file(p, 48000, 1 << 30);
        REQUIRE(out.code == LR_OK);
        CHECK(out.sample->frames == 48000);
        CHECK(out.sample->channels == 2);
        CHECK(out.sample->source_rate == static_cast<uint32_t>(rate));
        CHECK(measured_freq(out.sample->left, 48000) == doctest::Approx(441.0).epsilon(0.001));
        // The seam: the step from the last frame to the first is an ordinary step of the sine.
        const auto& l = out.sample->left;
        const double max_step = 2 * std::numbers::pi * 441 / 48000 * 0.5 * 1.01;
        CHECK(std::fabs(l.front() - l.back()) <= max_step);
        for (std::size_t i = 0; i < l.size(); ++i) {
            const double expect = 0.5 * std::sin(2 * std::numbers::pi * 441 * i / 48000.0);
            REQUIRE(std::fabs(l[i] - expect) < 2e-3);
            REQUIRE(out.sample->right[i] == doctest::Approx(-l[i]).epsilon(1e-3));
        }
        std::remove(p.c_str());
    }
}

TEST_CASE("resample_loop: length is round(frames * to / from)") {
    std::vector<float> x(1000, 0.25f);
    CHECK(resample_loop(x.data(), x.size(), 44100, 48000).size() == 1088);
    CHECK(resample_loop(x.data(), x.size(), 96000, 48000).size() == 500);
    CHECK(resample_loop(x.data(), 1, 96000, 48000).size() == 1);
    // A constant stays constant all the way round (circular context).
    for (float v : resample_loop(x.data(), x.size(), 44100, 48000)) REQUIRE(v == doctest::Approx(0.25f).epsilon(1e-3));
}

TEST_CASE("bad files give clear errors") {
    auto expect = [](const std::string& path, int code, const char* words) {
        auto out = decode_loop_file(path, 48000, 1 << 30);
        CHECK(out.code == code);
        CHECK(out.sample == nullptr);
        CHECK_MESSAGE(out.message.find(words) != std::string::npos, out.message);
    };
    expect("/nonexistent/loop.wav", LR_E_FILE, "No such file");
    expect("/tmp", LR_E_FILE, "directory");
    const std::string empty = temp_path("empty.wav");
    std::ofstream(empty).close();
    expect(empty, LR_E_EMPTY, "empty");
    const std::string text = temp_path("text.wav");
    std::ofstream(text) << "this is not audio, just some text that is long enough to look like a file\n";
    expect(text, LR_E_FORMAT, "not a supported audio file");
    const std::string good = write_wav("trunc.wav", sine(100, 48000, 48000), 1, 48000);
    truncate(good.c_str(), 44 + 4 * 20000);
    expect(good, LR_E_FORMAT, "truncated");
    const std::string six = write_wav("six.wav", std::vector<float>(6 * 100, 0.1f), 6, 48000);
    expect(six, LR_E_FORMAT, "6 channels");
    const std::string big = write_wav("big.wav", std::vector<float>(48000, 0.1f), 1, 48000);
    auto out = decode_loop_file(big, 48000, 1000);
    CHECK(out.code == LR_E_TOO_LARGE);
    for (const auto& p : {empty, text, good, six, big}) std::remove(p.c_str());
}

TEST_CASE("16-bit PCM, AIFF and FLAC decode to the same loop") {
    const auto x = sine(300, 48000, 4801, 0.25);
    for (int fmt : {SF_FORMAT_WAV | SF_FORMAT_PCM_16, SF_FORMAT_AIFF | SF_FORMAT_PCM_24, SF_FORMAT_FLAC | SF_FORMAT_PCM_16}) {
        const std::string p = write_wav("fmt.audio", x, 1, 48000, fmt);
        auto out = decode_loop_file(p, 48000, 1 << 30);
        REQUIRE(out.code == LR_OK);
        CHECK(out.sample->frames == 4801);
        for (std::size_t i = 0; i < x.size(); ++i) REQUIRE(std::fabs(out.sample->left[i] - x[i]) < 1e-4);
        std::remove(p.c_str());
    }
}

TEST_CASE("--allow-dir: only paths inside the allowed folders, after resolving symlinks and ..") {
    const std::string root = "/tmp/lr-allow-" + std::to_string(getpid());
    std::system(("rm -rf " + root + " && mkdir -p " + root + "/ok/sub " + root + "/secret").c_str());
    std::ofstream(root + "/ok/sub/a.wav") << "x";
    std::ofstream(root + "/secret/b.wav") << "x";
    REQUIRE(symlink((root + "/secret/b.wav").c_str(), (root + "/ok/link.wav").c_str()) == 0);
    REQUIRE(symlink((root + "/secret").c_str(), (root + "/ok/dirlink").c_str()) == 0);
    const std::vector<std::string> allowed{root + "/ok"};
    CHECK(path_refusal(root + "/ok/sub/a.wav", allowed).empty());
    CHECK(path_refusal(root + "/ok/./sub/../sub/a.wav", allowed).empty());
    CHECK(path_refusal(root + "/secret/b.wav", allowed).find("outside the folders") != std::string::npos);
    CHECK(path_refusal(root + "/ok/../secret/b.wav", allowed).find("outside the folders") != std::string::npos);
    CHECK(path_refusal(root + "/ok/link.wav", allowed).find("outside the folders") != std::string::npos);
    CHECK(path_refusal(root + "/ok/dirlink/b.wav", allowed).find("outside the folders") != std::string::npos);
    CHECK(path_refusal(root + "/okay/x.wav", allowed).find("cannot open") != std::string::npos);
    std::system(("mkdir -p " + root + "/okay && touch " + root + "/okay/x.wav").c_str());
    CHECK(path_refusal(root + "/okay/x.wav", allowed).find("outside the folders") != std::string::npos);  // a prefix is not a folder
    CHECK(path_refusal(root + "/ok/missing.wav", allowed).find("cannot open") != std::string::npos);
    CHECK(path_refusal(root + "/secret/b.wav", {}).empty());  // no --allow-dir: anywhere
    std::system(("rm -rf " + root).c_str());
}

TEST_CASE("refused files leave no descriptor open; long paths keep the reason visible") {
    auto open_fds = [] {
        int n = 0;
        for (int fd = 0; fd < 4096; ++fd)
            if (fcntl(fd, F_GETFD) != -1) ++n;
        return n;
    };
    const std::string text = "/tmp/lr-text-" + std::to_string(getpid()) + ".wav";
    std::ofstream(text) << std::string(4000, 'x');
    const int before = open_fds();
    for (int i = 0; i < 200; ++i) {
        auto out = decode_loop_file(text, 48000, 1 << 30);
        REQUIRE(out.code == LR_E_FORMAT);
        REQUIRE(out.message.find("not a supported audio file") != std::string::npos);
        REQUIRE(out.message.find("does not exist") == std::string::npos);  // the file exists
    }
    CHECK(open_fds() == before);
    std::remove(text.c_str());
    const std::string long_missing = "/tmp/" + std::string(300, 'd') + "/missing.wav";
    auto out = decode_loop_file(long_missing, 48000, 1 << 30);
    CHECK(out.code == LR_E_FILE);
    CHECK(out.message.size() < LR_MESSAGE_MAX);
    CHECK(out.message.rfind("cannot open (", 0) == 0);  // the reason survives the event's size limit
    CHECK(out.message.find("missing.wav") != std::string::npos);
}
