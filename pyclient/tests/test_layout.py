"""cffi's view of the segment layout must equal the C compiler's.

``lr_layout_table()`` (compiled into liblooprig-shm) lists ``sizeof(struct)``
and ``struct.field`` offsets as the C compiler laid them out; cffi computes
its own from the cdef (the marked blocks of the headers).  Any difference
means Python would read or write the wrong bytes of the shared segment.
"""

from __future__ import annotations

import re

import pytest

from conftest import require_library

MIN_ENTRIES = 80  # the table lists ~100 entries; far fewer means it is broken


def _table():
    require_library()
    from looprig._ffi import ffi, get_lib

    lib = get_lib()
    n = ffi.new("uint32_t *")
    t = lib.lr_layout_table(n)
    assert t != ffi.NULL
    return [(ffi.string(t[i].name).decode("ascii"), int(t[i].value)) for i in range(n[0])]


def _struct_names():
    """Structs defined in the shm_layout.h cdef block (these must be fully covered)."""
    from looprig._ffi import _MARKERS, header_paths

    layout_h = header_paths()[0].read_text()
    block = _MARKERS.search(layout_h).group(1)
    return sorted(set(re.findall(r"typedef\s+struct\s+(\w+)\s*\{", block)))


def test_layout_table_matches_cffi():
    from looprig._ffi import ffi

    entries = _table()
    assert len(entries) >= MIN_ENTRIES, "only %d layout entries" % len(entries)
    mismatches = []
    unresolved = []
    compared = 0
    seen = set()
    for name, value in entries:
        m = re.fullmatch(r"sizeof\((\w+)\)", name)
        try:
            if m:
                got = ffi.sizeof(m.group(1))
                seen.add(name)
            else:
                struct, _, field = name.partition(".")
                if not field:
                    unresolved.append(name)
                    continue
                got = ffi.offsetof(struct, field)
                seen.add(name)
        except (ffi.error, KeyError, TypeError, AttributeError) as e:
            unresolved.append("%s (%s)" % (name, e))
            continue
        compared += 1
        if got != value:
            mismatches.append("%s: C %d, cffi %d" % (name, value, got))
    assert not unresolved, "entries cffi cannot resolve: %s" % unresolved
    assert not mismatches, "layout mismatches: %s" % mismatches
    assert compared >= MIN_ENTRIES


def test_every_layout_struct_and_field_is_in_the_table():
    """Every struct/field of shm_layout.h's cdef is checked against C (no silent gaps)."""
    from looprig._ffi import ffi

    names = {n for n, _ in _table()}
    structs = _struct_names()
    assert len(structs) >= 8, structs
    missing = []
    for s in structs:
        if "sizeof(%s)" % s not in names:
            missing.append("sizeof(%s)" % s)
        for fname, _ in ffi.typeof(s).fields:
            if "%s.%s" % (s, fname) not in names:
                missing.append("%s.%s" % (s, fname))
    assert not missing, "not in lr_layout_table(): %s" % missing


def test_header_offsets_are_cache_aligned_and_layout_sizes():
    """Sanity of the cdef itself: 64-byte multiples where the layout promises them."""
    from looprig._ffi import ffi

    assert ffi.sizeof("lr_command") % 64 == 0
    assert ffi.sizeof("lr_event") % 64 == 0
    assert ffi.offsetof("lr_ring_index", "read") == 64


def test_cdef_comes_from_the_headers():
    """The package's headers are the repository's (symlinks in the checkout)."""
    from looprig._ffi import cdef_source, header_paths

    src = cdef_source()
    assert "lr_client_attach" in src and "lr_slot_meter" in src
    repo_inc = header_paths()[0].resolve().parent
    assert repo_inc.name in ("looprig", "include")


@pytest.mark.parametrize(
    "enum,prefix",
    [
        ("enum lr_command_type", "LR_CMD_"),
        ("enum lr_error", "LR_E_"),
    ],
)
def test_error_and_command_names_from_c(enum, prefix):
    """lr_error_name() agrees with the cdef's enum names."""
    from looprig._ffi import ffi, get_lib

    require_library()
    lib = get_lib()
    if enum == "enum lr_error":
        for name, value in ffi.typeof(enum).relements.items():
            assert ffi.string(lib.lr_error_name(value)).decode() == name
        assert ffi.string(lib.lr_error_name(9999)).decode() == "LR_E_?"
    else:
        names = ffi.typeof(enum).relements
        assert all(n.startswith(prefix) for n in names)


ABI2_ENTRIES = [
    "sizeof(lr_bus_meter)", "lr_bus_meter.peak", "lr_bus_meter.rms", "lr_bus_meter.peak_hold",
    "sizeof(lr_mix_meter)", "lr_mix_meter.groups", "lr_mix_meter.sends", "lr_mix_meter.returns",
    "lr_mix_meter.group_params", "lr_mix_meter.global_params", "lr_mix_meter.delay_frames",
    "sizeof(lr_slot_params)", "lr_slot_params.value",
    "lr_slot_meter.peak_hold", "lr_slot_meter.group", "sizeof(lr_slot_meter)",
    "lr_meter_header.master_peak_hold", "lr_meter_header.lufs_momentary", "lr_meter_header.lufs_short_term",
    "lr_meter_header.lufs_integrated", "lr_meter_header.loudness_periods", "sizeof(lr_meter_header)",
    "lr_header.mix_meter_offset", "lr_header.slot_params_offset", "lr_header.smooth_frames", "lr_header.jack_frame_offset", "sizeof(lr_header)",
    "lr_command.param", "sizeof(lr_command)",
]


def test_abi2_structs_and_fields_match_c():
    """The mixer additions of ABI 2 are in lr_layout_table() and cffi agrees with C on each."""
    from looprig._ffi import ffi, get_lib

    table = dict(_table())
    assert get_lib().LR_ABI_VERSION >= 2
    for name in ABI2_ENTRIES:
        assert name in table, name
        m = re.fullmatch(r"sizeof\((\w+)\)", name)
        if m:
            got = ffi.sizeof(m.group(1))
        else:
            struct, _, field = name.partition(".")
            got = ffi.offsetof(struct, field)
        assert got == table[name], "%s: C %d, cffi %d" % (name, table[name], got)
