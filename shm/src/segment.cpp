#include "segment.hpp"
#include "looprig/shm_client.h"

#include "ring.hpp"

#include <boost/interprocess/exceptions.hpp>
#include <boost/interprocess/permissions.hpp>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fstream>
#include <unistd.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <cstdio>

namespace bip = boost::interprocess;

namespace looprig::shm {

namespace {
constexpr uint64_t align64(uint64_t n) { return (n + 63) & ~uint64_t{63}; }

// Boost adds the leading slash itself on POSIX.
std::string boost_name(const std::string& posix_name) { return posix_name.substr(1); }

/// Why a segment file is not one this user's engine made ("" if it is):
/// it must belong to our effective uid and give no access to anyone else.
std::string foreign_reason(const struct stat& st) {
    if (st.st_uid != ::geteuid())
        return "it belongs to uid " + std::to_string(st.st_uid) + ", not to this user (uid " +
               std::to_string(::geteuid()) + ")";
    if (st.st_mode & 077) {
        char mode[8];
        std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
        return std::string("its mode is ") + mode + ", not 0600";
    }
    return {};
}
}  // namespace

Geometry compute_geometry(uint32_t slot_count) {
    Geometry g;
    g.slot_count = slot_count;
    g.clients_offset = align64(sizeof(lr_header));
    g.meters_offset = align64(g.clients_offset + uint64_t{LR_MAX_CLIENTS} * sizeof(lr_client_place));
    g.slot_meters_offset = align64(g.meters_offset + sizeof(lr_meter_header));
    g.slot_infos_offset = align64(g.slot_meters_offset + uint64_t{slot_count} * sizeof(lr_slot_meter));
    g.mix_meter_offset = align64(g.slot_infos_offset + uint64_t{slot_count} * sizeof(lr_slot_info));
    g.slot_params_offset = align64(g.mix_meter_offset + sizeof(lr_mix_meter));
    const uint64_t end = align64(g.slot_params_offset + uint64_t{slot_count} * sizeof(lr_slot_params));
    g.meter_area_size = end - g.meters_offset;
    g.segment_size = end;
    return g;
}

std::string segment_name(const std::string& engine_name) {
    if (engine_name.empty() || engine_name.size() >= LR_NAME_MAX ||
        engine_name.find('/') != std::string::npos)
        throw std::invalid_argument("engine name must be 1.." + std::to_string(LR_NAME_MAX - 1) +
                                    " characters without '/'");
    return "/looprig-" + std::to_string(::getuid()) + "-" + engine_name;
}

bool process_exited(int32_t pid) {
    if (pid <= 0) return true;
    if (::kill(pid, 0) != 0 && errno == ESRCH) return true;
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (!std::getline(stat, line)) return false;  // no /proc: trust kill()
    const auto close = line.rfind(')');  // the command name may hold ')' and spaces
    if (close == std::string::npos || close + 2 >= line.size()) return false;
    const char state = line[close + 2];
    return state == 'Z' || state == 'X';
}

bool engine_process_alive(int32_t pid) {
    if (process_exited(pid)) return false;
    // The pid may have been reused by an unrelated process after a crash.
    std::ifstream comm("/proc/" + std::to_string(pid) + "/comm");
    std::string name;
    if (!std::getline(comm, name)) return true;  // no /proc: trust kill()
    return name.rfind("looprigd", 0) == 0;
}

Segment::Segment(std::string name, bip::shared_memory_object object, bip::mapped_region region,
                 bool owner)
    : name_(std::move(name)), object_(std::move(object)), region_(std::move(region)), owner_(owner) {}

Segment::~Segment() {
    if (owner_) bip::shared_memory_object::remove(boost_name(name_).c_str());
}

std::unique_ptr<Segment> Segment::create(const std::string& engine_name, uint32_t slot_count) {
    if (slot_count == 0 || slot_count > LR_MAX_SLOTS)
        throw SegmentError(SegmentError::Kind::invalid, "slot count must be 1.." + std::to_string(LR_MAX_SLOTS));
    const std::string name = segment_name(engine_name);
    const Geometry g = compute_geometry(slot_count);

    // A segment under our name that this user's engine did not make (another
    // user planted it, or loosened its mode) is never trusted: remove it, or
    // refuse clearly if we cannot.
    if (struct stat st {}; ::stat(("/dev/shm" + name).c_str(), &st) == 0) {
        if (const std::string why = foreign_reason(st); !why.empty()) {
            if (!bip::shared_memory_object::remove(boost_name(name).c_str()))
                throw SegmentError(SegmentError::Kind::permission,
                                   "cannot use /dev/shm" + name + ": " + why + ", and it cannot be removed; remove it "
                                   "(as its owner) or start the engine with another --name");
        }
    }
    // Reclaim a segment left behind by a crashed engine; refuse if its engine lives.
    try {
        bip::shared_memory_object old(bip::open_only, boost_name(name).c_str(), bip::read_only);
        bip::offset_t size = 0;
        int32_t pid = 0;
        if (old.get_size(size) && size >= static_cast<bip::offset_t>(sizeof(lr_header))) {
            bip::mapped_region r(old, bip::read_only, 0, sizeof(lr_header));
            pid = static_cast<const lr_header*>(r.get_address())->engine_pid;
        }
        if (pid != ::getpid() && engine_process_alive(pid))
            throw SegmentError(SegmentError::Kind::in_use, "an engine named '" + engine_name + "' is already running (pid " +
                               std::to_string(pid) + ", segment /dev/shm" + name + ")");
        bip::shared_memory_object::remove(boost_name(name).c_str());
    } catch (const bip::interprocess_exception&) {
        // No such segment (or not readable): create below reports real problems.
    }

    bip::permissions perms;
    perms.set_permissions(0600);
    bip::shared_memory_object object;
    try {
        object = bip::shared_memory_object(bip::create_only, boost_name(name).c_str(), bip::read_write,
                                           perms);
        object.truncate(static_cast<bip::offset_t>(g.segment_size));
    } catch (const bip::interprocess_exception& e) {
        throw SegmentError(SegmentError::Kind::system, "cannot create shared memory /dev/shm" + name + ": " + e.what());
    }
    // Reserve every page now: a tmpfs file is sparse, and a page first touched
    // when /dev/shm is full kills the toucher (engine or client) with SIGBUS.
    if (const int rc = ::posix_fallocate(object.get_mapping_handle().handle, 0,
                                         static_cast<off_t>(g.segment_size));
        rc != 0 && rc != EOPNOTSUPP && rc != EINVAL) {
        bip::shared_memory_object::remove(boost_name(name).c_str());
        throw SegmentError(SegmentError::Kind::system,
                           "cannot reserve " + std::to_string(g.segment_size) + " bytes for /dev/shm" + name + ": " +
                               std::strerror(rc) + (rc == ENOSPC ? " (/dev/shm is full: df -h /dev/shm)" : ""));
    }
    bip::mapped_region region(object, bip::read_write);
    std::memset(region.get_address(), 0, region.get_size());
    std::unique_ptr<Segment> seg(new Segment(name, std::move(object), std::move(region), true));

    lr_header* h = seg->header();
    h->abi_version = LR_ABI_VERSION;
    h->header_size = sizeof(lr_header);
    h->engine_state = LR_ENGINE_STARTING;
    h->segment_size = g.segment_size;
    h->slot_count = slot_count;
    h->max_clients = LR_MAX_CLIENTS;
    h->cmd_ring_size = LR_CMD_RING_SIZE;
    h->evt_ring_size = LR_EVT_RING_SIZE;
    h->clients_offset = g.clients_offset;
    h->client_slot_size = sizeof(lr_client_place);
    h->meters_offset = g.meters_offset;
    h->slot_meters_offset = g.slot_meters_offset;
    h->slot_infos_offset = g.slot_infos_offset;
    h->mix_meter_offset = g.mix_meter_offset;
    h->slot_params_offset = g.slot_params_offset;
    h->meter_area_size = g.meter_area_size;
    h->engine_pid = ::getpid();
    seg->meter_header()->slot_count = slot_count;
    std::strncpy(h->jack_client_name, engine_name.c_str(), LR_NAME_MAX - 1);
    store_release(h->magic, LR_MAGIC);  // last: the segment is now valid
    return seg;
}

std::unique_ptr<Segment> Segment::open(const std::string& engine_name) {
    const std::string name = segment_name(engine_name);
    bip::shared_memory_object object;
    try {
        object = bip::shared_memory_object(bip::open_only, boost_name(name).c_str(), bip::read_write);
    } catch (const bip::interprocess_exception& e) {
        const auto kind = e.get_error_code() == bip::not_found_error       ? SegmentError::Kind::missing
                          : e.get_error_code() == bip::security_error ? SegmentError::Kind::permission
                                                                      : SegmentError::Kind::system;
        throw SegmentError(kind, "cannot open /dev/shm" + name + ": " + e.what());
    }
    // Only a segment this user's engine made is trusted (another user could
    // plant one under our name to read our commands or forge answers).
    if (struct stat st {}; ::fstat(object.get_mapping_handle().handle, &st) != 0)
        throw SegmentError(SegmentError::Kind::system, "cannot stat /dev/shm" + name + ": " + std::strerror(errno));
    else if (const std::string why = foreign_reason(st); !why.empty())
        throw SegmentError(SegmentError::Kind::permission,
                           "refusing /dev/shm" + name + ": " + why + "; it was not made by this user's engine");
    bip::offset_t size = 0;
    if (!object.get_size(size) || size < static_cast<bip::offset_t>(sizeof(lr_header)))
        throw SegmentError(SegmentError::Kind::invalid, "segment /dev/shm" + name + " is too small");
    bip::mapped_region region(object, bip::read_write);
    std::unique_ptr<Segment> seg(new Segment(name, std::move(object), std::move(region), false));
    const lr_header* h = seg->header();
    if (load_acquire(h->magic) != LR_MAGIC) throw SegmentError(SegmentError::Kind::invalid, "segment /dev/shm" + name + " has no valid header");
    if (h->abi_version != LR_ABI_VERSION)
        throw SegmentError(SegmentError::Kind::invalid, "segment ABI version " + std::to_string(h->abi_version) + ", this library speaks " +
                           std::to_string(LR_ABI_VERSION));
    const Geometry g = compute_geometry(h->slot_count);
    if (h->slot_count == 0 || h->slot_count > LR_MAX_SLOTS || h->segment_size != g.segment_size ||
        seg->size() < g.segment_size || h->clients_offset != g.clients_offset ||
        h->meters_offset != g.meters_offset || h->slot_params_offset != g.slot_params_offset ||
        h->max_clients != LR_MAX_CLIENTS)
        throw SegmentError(SegmentError::Kind::invalid, "segment /dev/shm" + name + " has an unexpected layout");
    return seg;
}

lr_client_place* Segment::client(uint32_t index) const {
    return reinterpret_cast<lr_client_place*>(base() + header()->clients_offset) + index;
}
lr_meter_header* Segment::meter_header() const {
    return reinterpret_cast<lr_meter_header*>(base() + header()->meters_offset);
}
lr_slot_meter* Segment::slot_meters() const {
    return reinterpret_cast<lr_slot_meter*>(base() + header()->slot_meters_offset);
}
lr_slot_info* Segment::slot_infos() const {
    return reinterpret_cast<lr_slot_info*>(base() + header()->slot_infos_offset);
}
lr_mix_meter* Segment::mix_meter() const {
    return reinterpret_cast<lr_mix_meter*>(base() + header()->mix_meter_offset);
}
lr_slot_params* Segment::slot_params() const {
    return reinterpret_cast<lr_slot_params*>(base() + header()->slot_params_offset);
}

}  // namespace looprig::shm

extern "C" int lr_meter_area_layout_of(uint32_t slot_count, lr_meter_area_layout* out) {
    if (!out || slot_count > LR_MAX_SLOTS) return -1;
    const looprig::shm::Geometry g = looprig::shm::compute_geometry(slot_count);
    out->slot_meters = g.slot_meters_offset - g.meters_offset;
    out->slot_infos = g.slot_infos_offset - g.meters_offset;
    out->mix_meter = g.mix_meter_offset - g.meters_offset;
    out->slot_params = g.slot_params_offset - g.meters_offset;
    out->size = g.meter_area_size;
    return 0;
}
