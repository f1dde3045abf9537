// Loads (loads.hpp). Audio thread only, except the constructor; everything
// else is RT safe.
#include "loads.hpp"

#include "client_protocol.hpp"
#include "slot.hpp"
#include "rt_text.hpp"
#include "segment.hpp"

#include <cstring>

namespace looprig::rt {

using shm::load_acquire;

Loads::Loads(shm::Segment& segment, WorkerQueues& queues, ClientProtocol& protocol, SampleRefs& refs, Voices& voices,
             SteadyRenders& renders, SlotMixer& mixer, const std::atomic<uint32_t>& sample_rate)
    : segment_(segment), queues_(queues), protocol_(protocol), refs_(refs), voices_(voices), renders_(renders),
      mixer_(mixer), sample_rate_(sample_rate) {}

void Loads::request_load(uint32_t place, const lr_command& cmd, uint64_t frame0) {
    LoadRequest req;
    req.client = place;
    req.generation = segment_.client(place)->generation;
    req.id = cmd.id;
    req.slot = cmd.slot;
    req.sample_rate = sample_rate_.load(std::memory_order_relaxed);
    std::memcpy(req.path, cmd.text, cmd.text_len);
    req.path[cmd.text_len] = '\0';
    if (!queues_.load_requests.push(req)) {
        Text why(message_, sizeof message_);
        why << "the loader is busy (" << static_cast<uint64_t>(queues_.load_requests.capacity())
            << " loads queued); try again";
        protocol_.reply(place, cmd, LR_EVT_ERROR, LR_E_BUSY, frame0, message_);
    }
    // Otherwise answered when the loader's result is installed.
}

void Loads::install_loads(std::vector<Slot>& slots, uint64_t frame0) {
    LoadResult* r = nullptr;
    while ((r = queues_.load_results.front()) != nullptr) {
        const uint32_t place = r->client;
        lr_client_place* c = segment_.client(place);
        const bool client_still_there = load_acquire(c->state) == LR_CLIENT_ACTIVE && c->generation == r->generation;
        lr_command answered{};
        answered.id = r->id;
        answered.type = LR_CMD_LOAD;
        answered.slot = r->slot;
        if (r->code == LR_OK && r->sample) {
            Slot& s = slots[static_cast<uint32_t>(r->slot)];
            Sample* fresh = r->sample;
            Sample* old = s.loaded.sample;
            hold(slots, s, fresh);
            SlotPlayback& p = s.play;
            if (p.main.active() && !p.main.releasing && !p.main.grid_locked && s.timing.loop_beats == 0.0) {
                // Swap what plays, keeping the slot's place on its grid.
                const uint64_t origin = p.main.origin;
                voices_.main_to_tail(p);
                voices_.start_main(p, fresh, origin);
            }
            renders_.refresh_render(s, r->slot, frame0);  // followers rebind at the same phase
            refs_.release(old);
            queues_.rig_changes.fetch_add(1, std::memory_order_relaxed);
            if (client_still_there)
                protocol_.reply(place, answered, LR_EVT_ACK, LR_OK, frame0, r->message,
                                static_cast<double>(fresh->frames), static_cast<double>(fresh->source_rate));
        } else if (client_still_there) {
            protocol_.reply(place, answered, LR_EVT_ERROR, r->code, frame0, r->message);
        }
        queues_.load_results.pop();
    }
}

void Loads::unload(std::vector<Slot>& slots, uint32_t place, const lr_command& cmd, uint64_t frame0) {
    Slot& s = slots[static_cast<uint32_t>(cmd.slot)];
    Text why(message_, sizeof message_);
    if (!s.loaded.sample) {
        why << "slot " << cmd.slot << " is empty";
        protocol_.reply(place, cmd, LR_EVT_ERROR, LR_E_NOT_LOADED, frame0, message_);
        return;
    }
    voices_.main_to_tail(s.play);
    refs_.release(s.loaded.sample);
    s.loaded.sample = nullptr;
    renders_.refresh_render(s, cmd.slot, frame0);
    s.play.playing = false;
    s.play.grid_valid = false;
    std::memset(&s.loaded.info, 0, sizeof s.loaded.info);
    s.loaded.info_dirty = true;
    why << "slot " << cmd.slot << " unloaded";
    protocol_.reply(place, cmd, LR_EVT_ACK, LR_OK, frame0, message_);
}

void Loads::hold(std::vector<Slot>& slots, Slot& s, Sample* fresh) {
    SampleRefs::retain(fresh);
    s.loaded.sample = fresh;
    lr_slot_info& info = s.loaded.info;
    const uint64_t loads = info.load_count;
    std::memset(&info, 0, sizeof info);
    if (fresh) {
        info.channels = fresh->channels;
        info.source_rate = fresh->source_rate;
        info.source_frames = fresh->source_frames;
        info.load_count = loads + 1;
        std::memcpy(info.name, fresh->name, sizeof info.name);
        std::memcpy(info.path, fresh->path, sizeof info.path);
    }
    s.loaded.info_dirty = true;
    renders_.update_loop_beats(s.timing, fresh);
    // The pan law follows the source's channels.
    if (fresh) mixer_.update_gain_targets(s.strip, fresh->channels, SlotMixer::any_solo(slots));
}

void Loads::show_saved_path(Slot& s, const char* path) {
    lr_slot_info& info = s.loaded.info;
    const std::size_t n = strnlen(path, sizeof info.path - 1);
    std::memcpy(info.path, path, n);
    info.path[n] = '\0';
    const char* slash = std::strrchr(info.path, '/');
    const char* name = slash ? slash + 1 : info.path;
    const std::size_t m = strnlen(name, sizeof info.name - 1);
    std::memcpy(info.name, name, m);
    info.name[m] = '\0';
    s.loaded.info_dirty = true;
}

void Loads::replace_stopped(std::vector<Slot>& slots, int32_t slot, Sample* fresh, uint64_t frame0) {
    Slot& s = slots[static_cast<uint32_t>(slot)];
    voices_.main_to_tail(s.play);
    s.play.playing = false;
    s.play.grid_valid = false;
    Sample* old = s.loaded.sample;
    hold(slots, s, fresh);
    renders_.refresh_render(s, slot, frame0);
    refs_.release(old);
}

}  // namespace looprig::rt
