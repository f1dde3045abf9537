// The engine's shared-memory segment: naming, geometry, creation (engine) and
// mapping (clients), on Boost.Interprocess shared_memory_object + mapped_region.
// Nothing here is RT safe (system calls); the audio thread only uses the
// pointers a Segment hands out.
#pragma once

#include "looprig/shm_layout.h"

#include <boost/interprocess/mapped_region.hpp>
#include <boost/interprocess/shared_memory_object.hpp>

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>

namespace looprig::shm {

/// Byte offsets of every area for a given slot count (all multiples of 64).
struct Geometry {
    uint32_t slot_count = 0;
    uint64_t clients_offset = 0;
    uint64_t meters_offset = 0;
    uint64_t slot_meters_offset = 0;
    uint64_t slot_infos_offset = 0;
    uint64_t mix_meter_offset = 0;
    uint64_t slot_params_offset = 0;
    uint64_t meter_area_size = 0;
    uint64_t segment_size = 0;
};
Geometry compute_geometry(uint32_t slot_count);

/// "/looprig-<uid>-<name>"; throws std::invalid_argument for a bad name.
std::string segment_name(const std::string& engine_name);

/// True if `pid` has exited: no such process, or a zombie ('Z'/'X' in
/// /proc/PID/stat) that its parent has not reaped yet (kill(pid, 0) still
/// succeeds for those).
bool process_exited(int32_t pid);

/// True if `pid` is a live (not zombie) looprigd process, not just any
/// process reusing the pid.
bool engine_process_alive(int32_t pid);

struct SegmentError : std::runtime_error {
    enum class Kind { missing, permission, invalid, in_use, system };
    SegmentError(Kind k, const std::string& what) : std::runtime_error(what), kind(k) {}
    Kind kind;
};

/// A mapped segment. The engine creates it (and unlinks it on destruction);
/// clients open it.
class Segment {
public:
    /// Create the segment for `engine_name` with mode 0600. A segment left by
    /// a dead engine is reclaimed; a live engine of that name is an error.
    static std::unique_ptr<Segment> create(const std::string& engine_name, uint32_t slot_count);
    /// Map an existing segment read-write and check magic, ABI and size.
    static std::unique_ptr<Segment> open(const std::string& engine_name);
    ~Segment();
    Segment(const Segment&) = delete;
    Segment& operator=(const Segment&) = delete;

    lr_header* header() const { return static_cast<lr_header*>(region_.get_address()); }
    uint8_t* base() const { return static_cast<uint8_t*>(region_.get_address()); }
    uint64_t size() const { return region_.get_size(); }
    lr_client_place* client(uint32_t index) const;
    lr_meter_header* meter_header() const;
    lr_slot_meter* slot_meters() const;
    lr_slot_info* slot_infos() const;
    lr_mix_meter* mix_meter() const;
    lr_slot_params* slot_params() const;
    const std::string& name() const { return name_; }

private:
    Segment(std::string name, boost::interprocess::shared_memory_object object,
            boost::interprocess::mapped_region region, bool owner);
    std::string name_;
    boost::interprocess::shared_memory_object object_;
    boost::interprocess::mapped_region region_;
    bool owner_;
};

}  // namespace looprig::shm
