/*
 * liblooprig-shm: the C ABI that clients (the Python package, the CLI, any
 * C program) use to talk to a running looprigd through its shared-memory
 * segment. Layout: looprig/shm_layout.h.
 *
 * Thread-safety: one lr_client is one single-producer command ring; use one
 * lr_client per thread that sends (or serialise sends yourself). Polling
 * events is single-consumer too. Several lr_clients may live in one process.
 * Functions marked "RT safe" neither allocate, lock, block nor do I/O.
 */
#ifndef LOOPRIG_SHM_CLIENT_H
#define LOOPRIG_SHM_CLIENT_H

#include "shm_layout.h"

#ifdef __cplusplus
extern "C" {
#endif

/* LR_CDEF_BEGIN */
typedef struct lr_client lr_client;

typedef struct lr_layout_entry {
    const char *name;   /* "struct.field" or "sizeof(struct)" */
    uint64_t value;
} lr_layout_entry;

/* lr_client_attach() results (negative). */
enum lr_attach_error {
    LR_ATTACH_NO_ENGINE = -1,     /* no segment: engine not running */
    LR_ATTACH_ENGINE_DEAD = -2,   /* segment left by an engine that died */
    LR_ATTACH_BAD_SEGMENT = -3,   /* wrong magic / ABI version / size */
    LR_ATTACH_NO_CLIENT_SLOT = -4,/* all LR_MAX_CLIENTS places taken */
    LR_ATTACH_PERMISSION = -5,    /* segment belongs to another user */
    LR_ATTACH_SYSTEM = -6         /* other OS error (message says which) */
};

/* lr_client_send() results (negative). */
enum lr_send_error {
    LR_SEND_FULL = -1,            /* command ring full: poll events, retry */
    LR_SEND_DETACHED = -2,        /* this client's place was reclaimed */
    LR_SEND_TOO_LONG = -3,        /* text_len > LR_TEXT_MAX */
    LR_SEND_BAD_BATCH = -4        /* lr_client_send_batch: n is 0 or more than LR_CMD_RING_SIZE */
};

/* Shared-memory object name for engine `engine_name` of the calling user:
 * "/looprig-<uid>-<engine_name>". Returns the length, or -1 if it does not
 * fit or the name is invalid (empty, '/' in it, longer than LR_NAME_MAX-1). */
int lr_segment_name(const char *engine_name, char *out, uint32_t out_len);

/* Map the segment of engine `engine_name` and claim a client place.
 * On failure returns an lr_attach_error and writes a message to err.
 * Not RT safe. */
int lr_client_attach(const char *engine_name, lr_client **out, char *err, uint32_t err_len);

/* Release the client place (the engine discards unread commands) and unmap.
 * Not RT safe. */
void lr_client_detach(lr_client *client);

/* The mapped segment (read-only use: lr_header at offset 0). RT safe. */
const void *lr_client_base(const lr_client *client);
uint64_t lr_client_segment_size(const lr_client *client);
int lr_client_index(const lr_client *client);

/* Queue one command. id 0 gets the next id of this client. Returns the id
 * (> 0) or an lr_send_error. Wait-free, RT safe. */
int64_t lr_client_send(lr_client *client, lr_command *cmd);

/* Queue n commands (1..LR_CMD_RING_SIZE) as one batch: all are written,
 * then the ring's write index is published once, so the engine sees all of
 * them or none. LR_CMD_F_BATCH is set on all but the last (and cleared on the
 * last); the engine reads a batch in one period, so commands of it without
 * LR_CMD_F_AT take effect on the same frame (and at_frame/quantize, if given,
 * are resolved in that period). Ids 0 get the next ids of this client, in
 * order, and are written back into cmds. Returns the first command's id (> 0)
 * or an lr_send_error; on any error nothing is sent (LR_SEND_FULL: fewer than
 * n free places; poll events, retry). Wait-free, RT safe. */
int64_t lr_client_send_batch(lr_client *client, lr_command *cmds, uint32_t n);

/* Copy the next event to out. Returns 1 if there was one, 0 if not.
 * Wait-free, RT safe. */
int lr_client_poll(lr_client *client, lr_event *out);

/* Copy the meter area (lr_meter_header, slot meters, slot infos;
 * header->meter_area_size bytes) consistently into dst. Returns 0, or -1 if
 * dst is too small or no consistent copy was had in many tries. RT safe. */
int lr_client_read_meters(const lr_client *client, void *dst, uint64_t dst_size);

/* 1 if the engine process that owns the segment is alive, else 0 (no such
 * process, not a looprigd, or a zombie: killed and not yet reaped). An engine
 * waiting for its JACK server (lr_header.engine_state LR_ENGINE_JACK_LOST) is
 * alive. Reads /proc: not RT safe. */
int lr_client_engine_alive(const lr_client *client);

/* Microseconds since the engine last ran a period (CLOCK_MONOTONIC against
 * lr_header.heartbeat_usecs), or UINT64_MAX before its first period. Grows
 * while the engine is stopped (SIGSTOP), stalled or waiting for its JACK
 * server. RT safe. */
uint64_t lr_client_heartbeat_age_usecs(const lr_client *client);

/* JACK frame time at the start of the engine's last period. RT safe. */
uint64_t lr_client_frame_time(const lr_client *client);

/* Sizes and offsets as the C compiler lays them out, for layout tests. */
const lr_layout_entry *lr_layout_table(uint32_t *count);

/* "LR_E_BAD_SLOT" etc. for an lr_error code; "LR_E_?" if unknown. */
const char *lr_error_name(int code);

/* What a param (lr_param, LR_CMD_PARAM) addresses. */
enum lr_param_target {
    LR_TARGET_SLOT = 0,    /* lr_command.slot = the slot */
    LR_TARGET_GROUP = 1,   /* lr_command.slot = the group bus, 0..LR_GROUPS-1 */
    LR_TARGET_GLOBAL = 2   /* lr_command.slot ignored */
};

/* How a param's value is read. */
enum lr_param_kind {
    LR_KIND_CONTINUOUS = 0,  /* any value in [min, max]; changes are ramped */
    LR_KIND_SWITCH = 1,      /* 0 or 1; switching crossfades */
    LR_KIND_INDEX = 2        /* a whole number in [min, max] */
};

/* lr_param_desc.flags */
enum lr_param_flags {
    LR_PARAM_F_ZERO_OFF = 1  /* 0 is accepted besides [min, max] and means "off / not set" */
};

/* One row of the params table: the one place that defines names, ranges,
 * defaults and units, for the engine's validation and for every client. */
typedef struct lr_param_desc {
    uint32_t id;            /* lr_param */
    uint32_t target;        /* lr_param_target */
    uint32_t kind;          /* lr_param_kind */
    uint32_t flags;         /* lr_param_flags */
    const char *name;       /* "hp-freq", "delay-beats", ... */
    const char *unit;       /* "Hz", "dB", "Q", "beats", "ms", "s", "" */
    double min;
    double max;
    double def;             /* value at engine start */
    const char *help;       /* one line */
} lr_param_desc;

/* The params table in id order; *count = its length. RT safe. */
const lr_param_desc *lr_param_table(uint32_t *count);

/* The row of param `id`, or NULL if there is none. RT safe. */
const lr_param_desc *lr_param_info(uint32_t id);

/* LR_OK if `value` is one param `id` accepts (the engine's own rules:
 * finite, not subnormal, within [min, max] (or 0 with LR_PARAM_F_ZERO_OFF),
 * 0/1 for a switch, whole for an index), else LR_E_BAD_VALUE with the reason in why (NUL-terminated,
 * truncated to why_len; why may be NULL). RT safe. */
int lr_param_check(uint32_t id, double value, char *why, uint32_t why_len);
/* The effect send bus `bus` (lr_send_bus) feeds: "delay", "reverb"; NULL
 * for no such bus. The one spelling of these names (JACK ports, CLI,
 * Python). RT safe. */
const char *lr_send_name(uint32_t bus);

/* Where the parts of the meter area start, in bytes from its start
 * (lr_header.meters_offset), and its size, for an engine of `slot_count`
 * slots: the rule the engine lays out its segment by (each part starts on
 * a multiple of 64 bytes). A running engine publishes the same offsets in
 * lr_header; this is for buffers made without one (tests, tools). */
typedef struct lr_meter_area_layout {
    uint64_t slot_meters;   /* lr_slot_meter[slot_count] */
    uint64_t slot_infos;    /* lr_slot_info[slot_count] */
    uint64_t mix_meter;     /* lr_mix_meter */
    uint64_t slot_params;   /* lr_slot_params[slot_count] */
    uint64_t size;          /* bytes of the whole area */
} lr_meter_area_layout;

/* Fill *out for `slot_count` slots. 0, or -1 if slot_count is over
 * LR_MAX_SLOTS or out is NULL. RT safe. */
int lr_meter_area_layout_of(uint32_t slot_count, lr_meter_area_layout *out);
/* LR_CDEF_END */

#ifdef __cplusplus
}
#endif

#endif
