/*
 * looprig shared-memory layout: the one definition of the segment that the
 * engine (looprigd) creates and every client (C ABI, Python) maps.
 *
 * Rules for this file:
 *  - fixed-width fields only, no pointers, explicit padding; every struct keeps
 *    reserved words for forward compatibility;
 *  - the part between LR_CDEF_BEGIN and LR_CDEF_END is also the cffi cdef of
 *    the Python client, so it holds only integer #defines, enums and structs;
 *  - C++ pins sizes/offsets with static_assert (shm/src/layout_check.cpp),
 *    Python compares cffi's layout with the C compiler's (lr_layout_table()).
 *
 * Segment: [lr_header][lr_client_place x max_clients][lr_meter_area]
 * lr_meter_area: [lr_meter_header][lr_slot_meter x slot_count][lr_slot_info x slot_count]
 *                [lr_mix_meter][lr_slot_params x slot_count]
 * All offsets are stored in lr_header and are multiples of 64.
 *
 * Concurrency: ring indices and sequence counters are accessed with atomic
 * acquire/release operations (C++ std::atomic_ref, C __atomic builtins).
 * Nothing here is a lock: a crashed process can never block another.
 */
#ifndef LOOPRIG_SHM_LAYOUT_H
#define LOOPRIG_SHM_LAYOUT_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* LR_CDEF_BEGIN */
#define LR_MAGIC 1280266066
#define LR_ABI_VERSION 3
#define LR_MAX_CLIENTS 16
#define LR_CMD_RING_SIZE 64
#define LR_EVT_RING_SIZE 256
#define LR_TEXT_MAX 1024
#define LR_MESSAGE_MAX 192
#define LR_NAME_MAX 64
#define LR_SLOT_NAME_MAX 128
#define LR_MAX_SLOTS 1024
#define LR_CHANNELS 2
#define LR_GROUPS 8          /* group buses */
#define LR_SENDS 2           /* send buses: enum lr_send_bus */
#define LR_SLOT_PARAMS 32    /* lr_slot_params.value entries (ids 0..31) */
#define LR_GROUP_PARAMS 4    /* lr_mix_meter.group_params[g] entries (ids 32..35) */
#define LR_GLOBAL_PARAMS 32  /* lr_mix_meter.global_params entries (ids 64..95) */

/* Commands, client -> engine. */
enum lr_command_type {
    LR_CMD_NOP = 0,
    LR_CMD_PING = 1,   /* acked with the current frame time */
    LR_CMD_LOAD = 2,   /* text = file path; answered when the load has finished */
    LR_CMD_UNLOAD = 3,
    LR_CMD_PLAY = 4,   /* honours at_frame / quantize */
    LR_CMD_STOP = 5,   /* honours at_frame / quantize */
    LR_CMD_GAIN = 6,   /* value[0] = gain in dB */
    LR_CMD_PAN = 7,    /* value[0] = pan -1 (left) .. +1 (right) */
    LR_CMD_MUTE = 8,   /* value[0] = 0 or 1 */
    LR_CMD_SOLO = 9,   /* value[0] = 0 or 1 */
    LR_CMD_DECLICK = 10, /* slot ignored; value[0] = ramp length in ms (0 = exact) */
    LR_CMD_TEMPO = 11,   /* slot ignored; value[0] = master tempo in BPM (20..400); honours at/quantize */
    LR_CMD_TIME_SIGNATURE = 12, /* slot ignored; value[0] = beats per bar (1..32); was LR_CMD_METER
                                   ("meter" names the level meters) */
    LR_CMD_LOOP_TEMPO = 13, /* value[0] = the loop's own BPM, or value[1] = its length in beats;
                               both 0 = not following (plays at its own speed) */
    LR_CMD_PITCH = 14,   /* value[0] = semitones (-24..+24, fractions are cents) */
    LR_CMD_MODE = 15,    /* value[0] = lr_slot_mode */
    LR_CMD_TRANSPORT = 16, /* slot ignored; value[0] = lr_transport_mode */
    LR_CMD_PARAM = 17,   /* param = lr_param, value[0] = its value; slot = the slot (slot
                            params), the group 0..LR_GROUPS-1 (group params), ignored
                            (global params); honours at_frame / quantize; ramped */
    LR_CMD_METER_RESET = 18, /* slot ignored; restarts peak holds and integrated loudness */
    LR_CMD_SESSION_SAVE = 19, /* slot ignored; text = session folder (absolute; created if absent),
                                 empty = the session in use; answered when written (docs/SESSIONS.md) */
    LR_CMD_SESSION_OPEN = 20, /* slot ignored; text = session folder (absolute), empty = the session
                                 in use; value[0] = 1: start the slots that were playing, together;
                                 answered when the rig is restored (all or nothing) */
    LR_CMD_MIDI_LEARN = 21,   /* text = the target ("toggle 3", "gain 2 -60 6", ...: docs/MIDI.md);
                                 answered when the next note/CC on midi_in is bound to it */
    LR_CMD_MIDI_MAP = 22,     /* value[0] = lr_midi_map_op; text = the map file (absolute) */
    LR_CMD_TYPE_COUNT = 23
};

/* LR_CMD_MIDI_MAP value[0] */
enum lr_midi_map_op {
    LR_MIDI_MAP_LOAD = 0,     /* replace the map by the file's (empty text: the default map) */
    LR_MIDI_MAP_SAVE = 1,     /* write the map in use to the file */
    LR_MIDI_MAP_CLEAR = 2     /* no bindings at all */
};

/* lr_command.flags */
enum lr_command_flags {
    LR_CMD_F_AT = 1,     /* take effect at JACK frame at_frame (else: next period) */
    LR_CMD_F_BATCH = 2   /* more commands of the same batch follow in this ring: the engine
                            reads the whole batch in one period, so commands without at_frame
                            take effect on the same frame (lr_client_send_batch) */
};

/* lr_command.quantize: launch/stop on a grid, after at_frame if given. */
enum lr_quantize {
    LR_Q_NONE = 0,
    LR_Q_SLOT = 1,    /* next loop start of slot quantize_arg (playing, or its scheduled start) */
    LR_Q_FRAMES = 2,  /* next multiple of quantize_arg frames of JACK frame time */
    LR_Q_BEAT = 3,    /* next beat of the master grid (every quantize_arg beats; 0 = 1) */
    LR_Q_BAR = 4      /* next bar start (every quantize_arg bars; 0 = 1) */
};

/* lr_header.session_state (docs/SESSIONS.md). */
enum lr_session_state {
    LR_SESSION_NONE = 0,   /* no session saved or opened yet */
    LR_SESSION_CLEAN = 1,  /* the rig is as last saved or opened */
    LR_SESSION_DIRTY = 2   /* changed since (autosave, when on, writes it soon) */
};

/* Events, engine -> client. */
enum lr_event_type {
    LR_EVT_ACK = 1,     /* command accepted; frame = when it takes effect */
    LR_EVT_ERROR = 2,   /* command rejected; code + text say why; nothing changed */
    LR_EVT_INFO = 3     /* unsolicited notice (id = 0) */
};

enum lr_error {
    LR_OK = 0,
    LR_E_UNKNOWN_COMMAND = 1,
    LR_E_BAD_SLOT = 2,
    LR_E_BAD_VALUE = 3,
    LR_E_NOT_LOADED = 4,
    LR_E_FILE = 5,           /* cannot open/read the file */
    LR_E_FORMAT = 6,         /* not audio / unsupported encoding or channel count */
    LR_E_EMPTY = 7,          /* no frames */
    LR_E_BUSY = 8,           /* loader queue full: try again */
    LR_E_SCHEDULE_FULL = 9,  /* too many pending scheduled actions */
    LR_E_BAD_MESSAGE = 10,   /* malformed message (bad flags, lengths, ...) */
    LR_E_QUANTIZE = 11,      /* bad quantize mode or argument */
    LR_E_TOO_LARGE = 12,     /* file exceeds the engine's memory cap */
    LR_E_INTERNAL = 13
};

enum lr_engine_state {
    LR_ENGINE_STARTING = 0,
    LR_ENGINE_RUNNING = 1,
    LR_ENGINE_STOPPING = 2,
    LR_ENGINE_JACK_LOST = 3     /* the JACK server went away: no periods until the engine reconnects
                                   (it keeps its loops and settings; commands wait in the rings) */
};

enum lr_client_state {
    LR_CLIENT_FREE = 0,
    LR_CLIENT_ACTIVE = 1,    /* engine reads its command ring */
    LR_CLIENT_CLOSING = 2    /* engine discards what is left, then frees the slot */
};

enum lr_slot_state {
    LR_SLOT_EMPTY = 0,
    LR_SLOT_STOPPED = 1,
    LR_SLOT_PLAYING = 2
};

/* How a slot follows the master tempo (LR_CMD_MODE). */
enum lr_slot_mode {
    LR_MODE_STRETCH = 0,   /* time-stretch (Rubber Band): tempo and pitch independent */
    LR_MODE_VARISPEED = 1  /* resample: pitch follows tempo; the pitch setting is not used */
};

/* The send buses (index into lr_mix_meter.sends/returns; users count them
 * from 1: bus 1 = LR_SEND_DELAY) and the effect each one feeds. Names:
 * lr_send_name(). */
enum lr_send_bus {
    LR_SEND_DELAY = 0,   /* send 1: the tempo-synced stereo delay */
    LR_SEND_REVERB = 1   /* send 2: the algorithmic reverb */
};

/* A level in dB at or below LR_LEVEL_OFF_DB is silence (sends, returns,
 * group and master gains): the one floor of every level param. */
enum lr_level_floor { LR_LEVEL_OFF_DB = -120 };

/* JACK transport (LR_CMD_TRANSPORT). */
enum lr_transport_mode {
    LR_TRANSPORT_OFF = 0,     /* looprig's own grid; the JACK transport is ignored */
    LR_TRANSPORT_FOLLOW = 1,  /* tempo, meter and beat position from the JACK transport
                                 (BBT of the timebase master); followers pause while it is stopped */
    LR_TRANSPORT_MASTER = 2   /* looprig is timebase master: other clients get its tempo and BBT */
};

/* Mixer and effect parameters (LR_CMD_PARAM). Ranges, defaults, units and
 * ramps: lr_param_info() in shm_client.h (one table for engine and clients).
 * Slot params are ids 0..LR_SLOT_PARAMS-1, group params from LR_P_GROUP_BASE,
 * global params from LR_P_GLOBAL_BASE; each is published at
 * [its id - base] of its area (lr_slot_params, lr_mix_meter). */
enum lr_param {
    /* per slot: filters and 3-band EQ (RBJ cookbook responses), in this order */
    LR_P_HP_ON = 0,          /* high-pass on (1) / off (0) */
    LR_P_HP_FREQ = 1,        /* Hz */
    LR_P_HP_Q = 2,           /* resonance (Q) */
    LR_P_LP_ON = 3,
    LR_P_LP_FREQ = 4,
    LR_P_LP_Q = 5,
    LR_P_EQ_ON = 6,
    LR_P_EQ_LOW_FREQ = 7,    /* low shelf (slope S = 1) */
    LR_P_EQ_LOW_GAIN = 8,    /* dB */
    LR_P_EQ_MID_FREQ = 9,    /* peaking */
    LR_P_EQ_MID_GAIN = 10,
    LR_P_EQ_MID_Q = 11,
    LR_P_EQ_HIGH_FREQ = 12,  /* high shelf (slope S = 1) */
    LR_P_EQ_HIGH_GAIN = 13,
    /* per slot: sends and group */
    LR_P_SEND1_LEVEL = 14,   /* dB; <= LR_LEVEL_OFF_DB is off */
    LR_P_SEND1_PRE = 15,     /* 1 = pre-fader (before gain/pan, after mute/solo), 0 = post */
    LR_P_SEND2_LEVEL = 16,
    LR_P_SEND2_PRE = 17,
    LR_P_GROUP = 18,         /* -1 = straight to the master, 0..LR_GROUPS-1 = that group bus */
    /* per slot: level, place and timing (the same as LR_CMD_GAIN .. LR_CMD_MODE
     * and LR_CMD_LOOP_TEMPO, which remain; every per-slot setting is a param, so
     * lr_slot_params holds all a session needs to restore a slot besides its file) */
    LR_P_GAIN = 19,          /* dB; ramped over the declick time */
    LR_P_PAN = 20,           /* -1 (left) .. +1 (right) */
    LR_P_MUTE = 21,
    LR_P_SOLO = 22,
    LR_P_PITCH = 23,         /* semitones (fractions are cents); takes effect at once */
    LR_P_MODE = 24,          /* lr_slot_mode */
    LR_P_LOOP_BPM = 25,      /* the loop's own tempo as declared (0 or 20..400); 0 = not declared
                                by tempo. A non-zero value sets LOOP_BEATS to 0; both 0 = the loop
                                plays at its own speed */
    LR_P_LOOP_BEATS = 26,    /* the loop's length in beats as declared (0 or 0.25..1024); a
                                non-zero value sets LOOP_BPM to 0 */
    LR_P_SLOT_END = 27,
    /* per group bus (slot field = group index 0..LR_GROUPS-1) */
    LR_P_GROUP_BASE = 32,
    LR_P_GROUP_GAIN = 32,    /* dB */
    LR_P_GROUP_MUTE = 33,
    LR_P_GROUP_END = 34,
    /* global: effects and master */
    LR_P_GLOBAL_BASE = 64,
    LR_P_DELAY_BEATS = 64,   /* > 0: delay time in beats of the master tempo (tempo-synced) */
    LR_P_DELAY_MS = 65,      /* delay time in ms; setting it sets DELAY_BEATS to 0 */
    LR_P_DELAY_FEEDBACK = 66,/* 0..0.95 (linear) */
    LR_P_DELAY_LOWCUT = 67,  /* Hz, high-pass in the feedback path */
    LR_P_DELAY_HIGHCUT = 68, /* Hz, low-pass in the feedback path */
    LR_P_DELAY_PINGPONG = 69,/* 1 = echoes alternate left/right */
    LR_P_DELAY_RETURN = 70,  /* dB; return level into the master */
    LR_P_REVERB_DECAY = 71,  /* RT60 in seconds (mid frequencies) */
    LR_P_REVERB_DAMPING = 72,/* Hz above which the decay time is halved */
    LR_P_REVERB_PREDELAY = 73, /* ms */
    LR_P_REVERB_RETURN = 74, /* dB */
    LR_P_MASTER_GAIN = 75,   /* dB */
    LR_P_LAUNCH_QUANTIZE = 76, /* lr_launch_quantize: the rig's launch quantize, used by the GUI and
                                  controllers for play/stop that name none (the engine's own
                                  commands take theirs explicitly) */
    LR_P_GLOBAL_END = 77
};

/* LR_P_LAUNCH_QUANTIZE values */
enum lr_launch_quantize {
    LR_LAUNCH_NONE = 0,    /* at once */
    LR_LAUNCH_BEAT = 1,    /* next beat */
    LR_LAUNCH_BAR = 2,     /* next bar */
    LR_LAUNCH_2_BARS = 3,  /* next 2-bar line */
    LR_LAUNCH_4_BARS = 4,  /* next 4-bar line */
    LR_LAUNCH_8_BARS = 5   /* next 8-bar line */
};

/* lr_slot_meter.render */
enum lr_render_state {
    LR_RENDER_NONE = 0,     /* plays the loaded audio as it is (no stretch or pitch needed) */
    LR_RENDER_PENDING = 1,  /* a render is being made; meanwhile the slot plays varispeed */
    LR_RENDER_READY = 2     /* plays its steady-state render */
};

/* lr_slot_meter.flags */
enum lr_slot_flags {
    LR_SLOT_F_MUTED = 1,
    LR_SLOT_F_SOLOED = 2,
    LR_SLOT_F_START_PENDING = 4,  /* a play is scheduled */
    LR_SLOT_F_STOP_PENDING = 8,   /* a stop is scheduled */
    LR_SLOT_F_AUDIBLE = 16        /* not muted and not silenced by another's solo */
};

/* One command: 128 bytes of fields + text. */
typedef struct lr_command {
    uint32_t id;            /* client-chosen, nonzero, echoed in the answer */
    uint16_t type;          /* lr_command_type */
    uint16_t flags;         /* lr_command_flags */
    int32_t slot;
    uint32_t quantize;      /* lr_quantize */
    uint64_t at_frame;      /* JACK frame time, with LR_CMD_F_AT */
    uint64_t quantize_arg;  /* slot index or frame count */
    double value[4];
    uint32_t text_len;      /* bytes used in text (no NUL needed) */
    uint32_t param;         /* lr_param, for LR_CMD_PARAM */
    uint32_t reserved[14];
    char text[LR_TEXT_MAX];
} lr_command;

/* One event: 64 bytes of fields + message. */
typedef struct lr_event {
    uint32_t id;            /* command id answered, 0 for unsolicited */
    uint16_t type;          /* lr_event_type */
    uint16_t command;       /* lr_command_type answered */
    int32_t slot;
    int32_t code;           /* lr_error */
    uint64_t frame;         /* JACK frame the command takes/took effect at */
    double value[2];        /* LOAD: frames, source sample rate; SESSION_SAVE: slots saved, audio
                               files written; SESSION_OPEN: slots loaded, connections not restored */
    uint64_t seq;           /* per-client event sequence number, from 1 */
    uint32_t reserved[4];
    char message[LR_MESSAGE_MAX]; /* NUL-terminated, human readable */
} lr_event;

/* Two indices on separate cache lines; the data area lives beside it. */
typedef struct lr_ring_index {
    uint32_t write;         /* written by the producer only */
    uint32_t pad0[15];
    uint32_t read;          /* written by the consumer only */
    uint32_t pad1[15];
} lr_ring_index;

/* One client's place in the segment: its command ring (client -> engine) and
 * event ring (engine -> client). Claimed by CAS of owner_pid from 0. "Place",
 * not "slot": a slot is where a loop plays. */
typedef struct lr_client_place {
    uint32_t owner_pid;     /* 0 = free */
    uint32_t state;         /* lr_client_state */
    uint32_t generation;    /* bumped by the engine each time it frees the place */
    uint32_t events_dropped;/* events the engine could not deliver (ring full) */
    uint64_t commands_accepted;
    uint64_t commands_rejected;
    uint32_t reserved[8];
    lr_ring_index cmd;
    lr_ring_index evt;
    lr_command commands[LR_CMD_RING_SIZE];
    lr_event events[LR_EVT_RING_SIZE];
} lr_client_place;
/* The name of ABI 1-2, kept for programs written against it. */
typedef lr_client_place lr_client_slot;

typedef struct lr_header {
    uint32_t magic;         /* LR_MAGIC, written last at creation */
    uint32_t abi_version;
    uint32_t header_size;
    uint32_t engine_state;  /* lr_engine_state */
    uint64_t segment_size;
    uint32_t slot_count;
    uint32_t max_clients;
    uint32_t cmd_ring_size;
    uint32_t evt_ring_size;
    uint64_t clients_offset;
    uint64_t client_slot_size; /* sizeof(lr_client_place) (the field keeps its ABI 1 name) */
    uint64_t meters_offset;   /* lr_meter_header */
    uint64_t slot_meters_offset; /* lr_slot_meter[slot_count] */
    uint64_t slot_infos_offset;  /* lr_slot_info[slot_count] */
    uint64_t meter_area_size;    /* bytes from meters_offset to the end */
    int32_t engine_pid;
    uint32_t sample_rate;
    uint32_t buffer_size;
    uint32_t declick_frames;
    uint64_t heartbeat;       /* +1 every processed period */
    uint64_t frame_time;      /* frame time (the engine's timeline, PROTOCOL.md) at the start of the current (or last) period; written first */
    uint64_t heartbeat_usecs; /* CLOCK_MONOTONIC usecs: start, then end, of the latest period */
    uint64_t rt_violations;   /* allocations/locks caught on the audio thread (trap builds) */
    char jack_client_name[LR_NAME_MAX];
    char jack_server_name[LR_NAME_MAX];
    uint64_t mix_meter_offset;   /* lr_mix_meter */
    uint64_t slot_params_offset; /* lr_slot_params[slot_count] */
    uint32_t smooth_frames;   /* ramp of LR_CMD_PARAM changes */
    uint32_t reserved0;
    uint64_t jack_frame_offset; /* frame times minus JACK's (mod 2^64): 0 until the engine reconnects to a
                                   restarted JACK server; JACK frame time = (frame - offset) mod 2^32 */
    uint32_t session_state;   /* lr_session_state: is a session in use, does the rig differ from it */
    uint32_t session_saves;   /* sessions written (saves and autosaves) since the engine started */
    uint32_t reserved[22];
} lr_header;

/* Published every period under a sequence lock (seq odd while writing). */
typedef struct lr_meter_header {
    uint32_t seq;
    uint32_t nframes;         /* frames in the last period */
    uint64_t period;          /* == heartbeat of the period these meters describe */
    uint64_t frame_time;      /* JACK frame time at the start of that period */
    float master_peak[2];     /* linear, max |x| over the last period */
    float master_rms[2];      /* linear, 300 ms exponential window */
    float callback_load;      /* callback time / period time, last period */
    float callback_load_max;  /* running maximum since start */
    uint32_t xruns;
    uint32_t slot_count;
    double tempo_bpm;         /* master tempo */
    double beat;              /* master beat position at frame_time (0 = first beat) */
    uint32_t beats_per_bar;
    uint32_t renders_pending; /* slots waiting for a steady-state render */
    uint32_t transport_mode;  /* lr_transport_mode in force */
    uint32_t transport_rolling; /* 1 while the JACK transport rolls (follow/master) */
    float master_peak_hold[2];/* linear: largest peak of the last LR hold time (2 s) */
    float lufs_momentary;     /* EBU R128 loudness of the master, 400 ms window (LUFS; -inf silent) */
    float lufs_short_term;    /* 3 s window */
    float lufs_integrated;    /* gated, since start or LR_CMD_METER_RESET */
    uint32_t loudness_periods;/* periods the loudness meter has measured (0: not running) */
    uint32_t reserved[6];
} lr_meter_header;

typedef struct lr_slot_meter {
    float peak[2];            /* linear, after gain/pan/mute */
    float rms[2];
    uint64_t playhead;        /* frame within the loop at the end of the period */
    uint64_t length;          /* frames one loop cycle plays now (a follower's: at the master tempo), 0 = empty */
    uint64_t start_frame;     /* JACK frame where the current play began (frame 0 of the loop) */
    uint32_t state;           /* lr_slot_state */
    uint32_t flags;           /* lr_slot_flags */
    float gain_db;
    float pan;
    float loop_bpm;           /* the loop's own tempo; 0 = not following the master tempo */
    float loop_beats;         /* its length in beats when following */
    float pitch;              /* semitones */
    uint32_t mode;            /* lr_slot_mode */
    uint32_t render;          /* lr_render_state */
    float peak_hold[2];       /* linear: largest peak of the last 2 s (the hold time) */
    int32_t group;            /* -1 = straight to the master, else its group bus */
    uint32_t reserved[1];
} lr_slot_meter;

typedef struct lr_slot_info {
    uint32_t channels;        /* of the source file */
    uint32_t source_rate;
    uint64_t source_frames;
    uint64_t load_count;      /* +1 each time a buffer is installed */
    uint32_t reserved[2];
    char name[LR_SLOT_NAME_MAX]; /* file name (tail of the path), NUL-terminated */
    char path[LR_TEXT_MAX];   /* the absolute path it was loaded from, as given to LR_CMD_LOAD
                                 (NUL-terminated; "" while empty) */
} lr_slot_info;
/* Meters of a bus (group, send or effect return), after its own gain. */
typedef struct lr_bus_meter {
    float peak[2];            /* linear, last period */
    float rms[2];             /* linear, 300 ms exponential window */
    float peak_hold[2];       /* linear, 2 s hold */
    uint32_t reserved[2];
} lr_bus_meter;

/* Buses, effects and the values of group and global params. */
typedef struct lr_mix_meter {
    lr_bus_meter groups[LR_GROUPS];
    lr_bus_meter sends[LR_SENDS];    /* what each send bus feeds its effect */
    lr_bus_meter returns[LR_SENDS];  /* each effect's return (after its return level) */
    float group_params[LR_GROUPS][LR_GROUP_PARAMS]; /* [g][id - LR_P_GROUP_BASE] */
    float global_params[LR_GLOBAL_PARAMS];          /* [id - LR_P_GLOBAL_BASE] */
    uint32_t delay_frames;    /* the delay time in force, in frames */
    uint32_t reserved[15];
} lr_mix_meter;

/* The values in force of one slot's params: value[id] (targets of ramps). */
typedef struct lr_slot_params {
    float value[LR_SLOT_PARAMS];
} lr_slot_params;
/* LR_CDEF_END */

/* The name of ABI 1-2, kept for programs written against it. */
#define LR_CMD_METER LR_CMD_TIME_SIGNATURE

#ifdef __cplusplus
}
#endif

#endif
