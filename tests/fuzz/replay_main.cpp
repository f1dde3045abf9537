// Replays files through LLVMFuzzerTestOneInput without libFuzzer (g++ build):
//   fuzz_replay FILE_OR_DIR...
// Every regular file is one input. Prints what it ran; a failed check aborts
// (the test fails), so the corpus and every crash reproducer in
// tests/fuzz/corpus stay fixed in CI.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size);

int main(int argc, char** argv) {
    namespace fs = std::filesystem;
    std::vector<fs::path> files;
    for (int i = 1; i < argc; ++i) {
        const fs::path p(argv[i]);
        if (fs::is_directory(p)) {
            for (const auto& e : fs::recursive_directory_iterator(p))
                if (e.is_regular_file() && e.path().filename().string()[0] != '.') files.push_back(e.path());
        } else {
            files.push_back(p);
        }
    }
    std::sort(files.begin(), files.end());
    if (files.empty()) {
        std::fprintf(stderr, "fuzz_replay: no inputs\n");
        return 2;
    }
    std::size_t bytes = 0, commands_mode = 0, memory_mode = 0;
    for (const auto& f : files) {
        std::ifstream in(f, std::ios::binary);
        std::vector<uint8_t> data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        bytes += data.size();
        if (!data.empty()) ++((data[0] & 1) ? memory_mode : commands_mode);
        std::printf("replay %s (%zu bytes)\n", f.filename().c_str(), data.size());
        std::fflush(stdout);
        LLVMFuzzerTestOneInput(data.data(), data.size());
    }
    std::printf("fuzz_replay: %zu inputs (%zu command sequences, %zu hostile-memory scripts, %zu bytes) replayed, "
                "all checks held\n", files.size(), commands_mode, memory_mode, bytes);
    return 0;
}
