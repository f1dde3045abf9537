"""Text rendering of status tables and meter bars for the CLI."""

from __future__ import annotations

import math
from typing import Any, Dict, List, Optional

from ._names import SEND_BUS_NAMES, SLOT_FLAGS
from .meters import SILENCE_DBFS, to_dbfs

__all__ = ["fmt_db", "bar", "bar_cells", "METER_LEGEND", "FLAGS_LEGEND", "status_table", "tempo_line", "session_line", "meter_lines", "params_table", "lufs_line", "mixer_lines",
           "bus_lines"]

BAR_FLOOR_DB = -60.0


def fmt_db(v: Optional[float], width: int = 6) -> str:
    """Format a dB value (``None``/-inf = silence as ``-inf``)."""
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "-inf".rjust(width)
    return ("%.1f" % v).rjust(width)


#: The line under the meter bars that says what they show.
METER_LEGEND = ("# RMS (300 ms) = the number after the bar, dBFS, bar -60..0; | peak of the last period"
                " (! clipped); hold: 2 s peak hold; -inf: silence (<= %g dBFS)" % SILENCE_DBFS)
#: The line under the status table that says what its flags column shows.
FLAGS_LEGEND = "flg: M muted, S soloed, > start pending, x stop pending (a play / stop scheduled), - no"


def bar_cells(db: float, width: int = 20) -> int:
    """Cells of a bar filled by a level of ``db`` dBFS (-60..0 dBFS; 0 for ``-inf``)."""
    if not db > BAR_FLOOR_DB:
        return 0
    return max(0, min(width, int(round((db - BAR_FLOOR_DB) / -BAR_FLOOR_DB * width))))


def bar(rms_lin: float, peak_lin: float, width: int = 20) -> str:
    """ASCII meter: ``#`` up to the RMS level, ``|`` at the peak, -60..0 dBFS.

    Both levels go through :func:`~looprig.meters.to_dbfs`, so silence (at or
    below :data:`~looprig.meters.SILENCE_DBFS`) fills nothing, the same value
    :func:`fmt_db` shows as ``-inf``.
    """

    def pos(x: float) -> int:
        return bar_cells(to_dbfs(x), width)

    if to_dbfs(rms_lin) == -math.inf:  # its number says -inf: an empty bar
        return "[" + "." * width + "]"

    r = max(0, min(width, pos(rms_lin)))
    p = max(0, min(width, pos(peak_lin)))
    cells = ["#"] * r + ["."] * (width - r)
    if p > 0:
        cells[p - 1] = "!" if peak_lin >= 1.0 else "|"
    return "[" + "".join(cells) + "]"


def _secs(frames: int, rate: int) -> str:
    return "%.2f" % (frames / rate) if rate else str(frames)


def _flags(s: Dict[str, Any]) -> str:
    return ("M" if s["muted"] else "-") + ("S" if s["soloed"] else "-") + (
        ">" if s["start_pending"] else ("x" if s["stop_pending"] else "-")
    )


def _num(v: Optional[float]) -> str:
    """Short form of a float: ``120``, ``95.5``, ``?`` for None."""
    if v is None:
        return "?"
    return ("%.2f" % v).rstrip("0").rstrip(".")


def _follow(s: Dict[str, Any]) -> str:
    """``"120/16"`` (loop BPM / length in beats) while following the master tempo, else ``"-"``."""
    bpm, beats = s.get("loop_bpm"), s.get("loop_beats")
    if not bpm and not beats:
        return "-"
    return "%s/%s" % (_num(bpm), _num(beats))


def tempo_line(m: Dict[str, Any]) -> str:
    """``tempo 120 BPM  4 beats/bar  beat 1234.56  renders pending 0`` from a meters dict."""
    beat = m.get("beat")
    return "tempo %s BPM  %d beats/bar  beat %s  renders pending %d" % (
        _num(m.get("tempo_bpm")),
        m.get("beats_per_bar") or 0,
        ("%.2f" % beat) if beat is not None else "?",
        m.get("renders_pending") or 0,
    )


def session_line(session: Dict[str, Any]) -> str:
    """``session: clean, 3 saves`` from ``status()["engine"]["session"]``."""
    saves = session.get("saves") or 0
    if session.get("state") == "none" and not saves:
        return "session: none (not saved or opened yet)"
    return "session: %s, %d save%s" % (session.get("state"), saves, "" if saves == 1 else "s")


def status_table(st: Dict[str, Any], show_all: bool = False) -> str:
    """Human-readable form of :meth:`looprig.Rig.status`."""
    e = st["engine"]
    m = st["meters"]
    rate = e["sample_rate"]
    lines: List[str] = []
    lines.append(
        "engine %r  pid %d  %s  jack %s%s  %d Hz  %d frames/period  declick %s ms"
        % (
            e["name"],
            e["pid"],
            e["state"],
            e["jack_client_name"] or "?",
            (" @ " + e["jack_server_name"]) if e["jack_server_name"] else "",
            rate,
            e["buffer_size"],
            ("%.2f" % e["declick_ms"]) if e["declick_ms"] is not None else "?",
        )
    )
    lines.append(
        "frame %d  period %d  callback load %.1f%% (max %.1f%%)  xruns %d"
        % (
            m["frame_time"],
            m["period"],
            100.0 * (m["callback_load"] or 0.0),
            100.0 * (m["callback_load_max"] or 0.0),
            m["xruns"],
        )
    )
    if "session" in e:
        lines.append(session_line(e["session"]))
    lines.append(tempo_line(m))
    mm = m["master"]
    hold = mm.get("peak_hold_dbfs") or [None, None]
    lines.append(
        "master  peak %s %s dBFS  rms %s %s dBFS  hold %s %s dBFS"
        % (fmt_db(mm["peak_dbfs"][0]), fmt_db(mm["peak_dbfs"][1]), fmt_db(mm["rms_dbfs"][0]), fmt_db(mm["rms_dbfs"][1]),
           fmt_db(hold[0]), fmt_db(hold[1]))
    )
    if "loudness" in m:
        lines.append(lufs_line(m["loudness"]))
    if "mixer" in st:
        lines.extend(mixer_lines(st))
    slots = st["slots"]
    loaded = [s for s in slots if s["state"] != "empty"]
    shown = slots if show_all else loaded
    lines.append("slots: %d of %d loaded, %d playing" % (
        len(loaded), e["slot_count"], sum(1 for s in slots if s["state"] == "playing")))
    if shown:
        lines.append(
            "%4s %-8s %-24s %8s %8s %7s %6s %3s %13s %13s %-13s %6s %-9s %-7s"
            % ("slot", "state", "name", "len s", "pos s", "gain dB", "pan", "flg", "peak L/R dB", "rms L/R dB",
               "bpm/beats", "pitch", "mode", "render")
        )
        for s in shown:
            lines.append(
                "%4d %-8s %-24s %8s %8s %7s %6s %3s %6s %6s %6s %6s %-13s %6s %-9s %-7s"
                % (
                    s["slot"],
                    s["state"],
                    (s["name"] or "-")[:24],
                    _secs(s["length"], rate),
                    _secs(s["playhead"], rate),
                    fmt_db(s["gain_db"], 7),
                    ("%+.2f" % s["pan"]) if s["pan"] is not None else "?",
                    _flags(s),
                    fmt_db(s["peak_dbfs"][0]),
                    fmt_db(s["peak_dbfs"][1]),
                    fmt_db(s["rms_dbfs"][0]),
                    fmt_db(s["rms_dbfs"][1]),
                    _follow(s),
                    ("%+.2f" % s["pitch"]) if s["pitch"] is not None else "?",
                    s["mode"],
                    s["render"],
                )
            )
        lines.append(FLAGS_LEGEND + "; peak/rms -inf = silence")
    lines.extend(slot_mixer_lines(st))
    return "\n".join(ln.rstrip() for ln in lines)


def meter_lines(m: Any, rate: int, show_all: bool = False, width: int = 20) -> List[str]:
    """Meter bars of a :class:`~looprig.Meters` snapshot, one line per slot + master."""
    out: List[str] = []
    names = m.names
    for i in range(m.slot_count):
        state = m.state_name(i)
        if state == "empty" and not show_all:
            continue
        pk = m.peak[i]
        rm = m.rms[i]
        length = int(m.length[i])
        pos = int(m.playhead[i])
        flags = int(m.flags[i])
        ms = ("M" if flags & SLOT_FLAGS["muted"] else " ") + ("S" if flags & SLOT_FLAGS["soloed"] else " ")
        hold = m.peak_hold[i]
        grp = int(m.group[i])
        out.append(
            "%3d %-12s %-7s %2s L%s%s R%s%s hold %s %s %2s %6s/%ss"
            % (
                i,
                (names[i] or "-")[:12],
                state,
                ms,
                bar(rm[0], pk[0], width),
                fmt_db(to_dbfs(rm[0])),
                bar(rm[1], pk[1], width),
                fmt_db(to_dbfs(rm[1])),
                fmt_db(to_dbfs(hold[0]), 5),
                fmt_db(to_dbfs(hold[1]), 5),
                ("G%d" % grp) if grp >= 0 else "",
                _secs(pos, rate),
                _secs(length, rate),
            )
        )
    out.extend(bus_lines(m, width, show_all=show_all))
    mp, mr, mh = m.master_peak, m.master_rms, m.master_peak_hold
    out.append(
        "    %-12s %-7s %2s L%s%s R%s%s hold %s %s"
        % ("MASTER", "", "", bar(mr[0], mp[0], width), fmt_db(to_dbfs(mr[0])), bar(mr[1], mp[1], width),
           fmt_db(to_dbfs(mr[1])), fmt_db(to_dbfs(mh[0]), 5), fmt_db(to_dbfs(mh[1]), 5))
    )
    loud = m.loudness
    out.append("    " + lufs_line({"periods": m.loudness_periods, "momentary": _finite(loud.momentary),
                                   "short_term": _finite(loud.short_term), "integrated": _finite(loud.integrated)}))
    out.append(
        "    load %5.1f%% (max %5.1f%%)  xruns %d  frame %d  %s BPM %d/bar beat %.2f"
        % (100.0 * m.callback_load, 100.0 * m.callback_load_max, m.xruns, m.frame_time,
           _num(m.tempo_bpm), m.beats_per_bar, m.beat)
    )
    out.append("    " + METER_LEGEND)
    return out


def _finite(v: Optional[float]) -> Optional[float]:
    return v if v is not None and math.isfinite(v) else None


def params_table(rows: List[Any], slot: int = 0, group: int = 0, values: bool = True) -> str:
    """Table of the params: name, target, kind, range, default, current value, help.

    Parameters
    ----------
    rows : list of (Param, float or None)
        Each param with its current value (slot params: of ``slot``; group
        params: of ``group``).
    values : bool
        False: the engine gave no values (column shows ``-``).
    """
    lines = []
    if values:
        lines.append("values: slot params of slot %d, group params of group %d (--slot N, --group G)" % (slot, group))
    lines.append("%-16s %-6s %-10s %-6s %8s %8s %10s %10s  %s"
                 % ("name", "target", "kind", "unit", "min", "max", "default", "value", "help"))
    for p, v in rows:
        lines.append("%-16s %-6s %-10s %-6s %8s %8s %10s %10s  %s" % (
            p.name, p.target, p.kind, p.unit, ("0|" if p.zero_off else "") + _num(p.min), _num(p.max),
            _short(p, p.default),
            _short(p, v) if values else "-", p.help))
    return "\n".join(ln.rstrip() for ln in lines)


def _short(p: Any, v: Optional[float]) -> str:
    """A param value without its unit (the table has a unit column)."""
    if v is None:
        return "-"
    if p.kind == "switch":
        return p.format(v)
    if p.name == "group":
        return p.format(v)
    return _num(float(v))


def lufs_line(loud: Dict[str, Any]) -> str:
    """``loudness M -23.1  S -22.8  I -23.0 LUFS`` from a meters dict's ``loudness``."""
    def f(v: Optional[float]) -> str:
        return "-inf" if v is None else "%.1f" % v

    if not loud.get("periods"):
        return "loudness: not measured yet"
    return "loudness M %s  S %s  I %s LUFS" % (f(loud["momentary"]), f(loud["short_term"]), f(loud["integrated"]))


def _settings(d: Dict[str, Optional[float]]) -> str:
    from .params import lookup

    out = []
    for name, v in d.items():
        try:
            out.append("%s %s" % (name, lookup(name).format(v)))
        except ValueError:  # pragma: no cover - a name the library does not know
            out.append("%s %s" % (name, v))
    return ", ".join(out)


def mixer_lines(st: Dict[str, Any]) -> List[str]:
    """The mixer part of :func:`status_table`: effects, master, groups, slots' non-default settings."""
    mx = st.get("mixer") or {}
    if not mx.get("published"):
        return ["mixer: the engine publishes no param values"]
    from .params import lookup

    g = mx.get("global") or {}
    lines = []
    fx = {"delay": [], "reverb": [], "master": []}  # type: Dict[str, List[str]]
    df = mx.get("delay_frames")
    rate = st.get("engine", {}).get("sample_rate") or 0
    for name, v in g.items():
        head, _, rest = name.partition("-")
        if name == "master-gain":
            fx["master"].append(lookup(name).format(v))
        elif name in ("delay-beats", "delay-ms"):
            beats = g.get("delay-beats")
            if (name == "delay-beats") != bool(beats):
                continue  # the time in force: tempo-synced beats, else ms
            in_frames = (" (%.1f ms)" % (1000.0 * df / rate)) if beats and df and rate else ""
            fx["delay"].append(lookup(name).format(v) + in_frames)
        elif head in fx:
            fx[head].append("%s %s" % (rest, lookup(name).format(v)))
    lines.append("delay %s" % ", ".join(fx["delay"]))
    lines.append("reverb %s" % ", ".join(fx["reverb"]))
    lines.append("master %s" % ", ".join(fx["master"]))
    groups = []
    for i, gd in enumerate(mx.get("groups") or []):
        changed = {k: v for k, v in gd.items() if not _is_default(k, v)}
        if changed:
            groups.append("%d: %s" % (i, _settings(changed)))
    used = sorted({s["group"] for s in st.get("slots", []) if s.get("group") is not None})
    lines.append("groups: %s%s" % ("; ".join(groups) if groups else "all at defaults",
                                   ("  (in use: %s)" % " ".join(map(str, used))) if used else ""))
    return lines


def slot_mixer_lines(st: Dict[str, Any]) -> List[str]:
    """One line per slot whose mixer settings differ from the defaults."""
    rows = [s for s in st.get("slots", []) if s.get("mixer")]
    if not rows:
        return []
    return ["mixer settings that differ from the defaults:"] + [
        "  slot %d: %s" % (s["slot"], _settings(s["mixer"])) for s in rows]


def _is_default(name: str, v: Optional[float]) -> bool:
    from .params import is_default, lookup

    return v is not None and is_default(lookup(name), v)


def bus_lines(m: Any, width: int = 20, show_all: bool = False) -> List[str]:
    """Meter bars of the group buses (those in use or sounding; ``show_all``: all 8),
    the send buses and the effect returns."""
    out: List[str] = []
    used = set(int(g) for g in m.group if int(g) >= 0)

    def line(label: str, pk: Any, rm: Any, hold: Any) -> str:
        return "    %-23s L%s%s R%s%s hold %s %s" % (
            label, bar(rm[0], pk[0], width), fmt_db(to_dbfs(rm[0])), bar(rm[1], pk[1], width),
            fmt_db(to_dbfs(rm[1])), fmt_db(to_dbfs(hold[0]), 5), fmt_db(to_dbfs(hold[1]), 5))

    gb = m.groups
    for i in range(len(gb)):
        sounding = max(float(x) for x in gb.peak_hold[i]) > 0.0
        if show_all or i in used or sounding:
            out.append(line("GROUP %d" % i, gb.peak[i], gb.rms[i], gb.peak_hold[i]))
    names = {i: n.upper() for i, n in SEND_BUS_NAMES.items()}
    for i in range(len(m.sends)):
        n = names.get(i, "FX %d" % (i + 1))
        out.append(line("%s send %d" % (n, i + 1), m.sends.peak[i], m.sends.rms[i], m.sends.peak_hold[i]))
        out.append(line("%s return" % n, m.returns.peak[i], m.returns.rms[i], m.returns.peak_hold[i]))
    return out
