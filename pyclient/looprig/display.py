"""Text rendering of status tables and meter bars for the CLI."""

from __future__ import annotations

import math
from typing import Any, Dict, List, Optional

from ._names import SLOT_FLAGS
from .meters import to_dbfs

__all__ = ["fmt_db", "bar", "status_table", "tempo_line", "meter_lines"]

BAR_FLOOR_DB = -60.0


def fmt_db(v: Optional[float], width: int = 6) -> str:
    """Format a dB value (``None``/-inf = silence as ``-inf``)."""
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "-inf".rjust(width)
    return ("%.1f" % v).rjust(width)


def bar(rms_lin: float, peak_lin: float, width: int = 20) -> str:
    """ASCII meter: ``#`` up to the RMS level, ``|`` at the peak, -60..0 dBFS."""

    def pos(x: float) -> int:
        db = to_dbfs(x, floor=BAR_FLOOR_DB)
        return int(round((db - BAR_FLOOR_DB) / -BAR_FLOOR_DB * width))

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
    lines.append(tempo_line(m))
    mm = m["master"]
    lines.append(
        "master  peak %s %s dBFS  rms %s %s dBFS"
        % (fmt_db(mm["peak_dbfs"][0]), fmt_db(mm["peak_dbfs"][1]), fmt_db(mm["rms_dbfs"][0]), fmt_db(mm["rms_dbfs"][1]))
    )
    slots = st["slots"]
    loaded = [s for s in slots if s["state"] != "empty"]
    shown = slots if show_all else loaded
    lines.append("slots: %d of %d loaded, %d playing" % (
        len(loaded), e["slot_count"], sum(1 for s in slots if s["state"] == "playing")))
    if shown:
        lines.append(
            "%4s %-8s %-24s %8s %8s %7s %6s %3s %13s %13s %-13s %6s %-9s %-7s"
            % ("slot", "state", "name", "len s", "pos s", "gain dB", "pan", "MS", "peak L/R dB", "rms L/R dB",
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
        out.append(
            "%3d %-12s %-7s %2s L%s%s R%s%s %6s/%ss"
            % (
                i,
                (names[i] or "-")[:12],
                state,
                ms,
                bar(rm[0], pk[0], width),
                fmt_db(to_dbfs(pk[0])),
                bar(rm[1], pk[1], width),
                fmt_db(to_dbfs(pk[1])),
                _secs(pos, rate),
                _secs(length, rate),
            )
        )
    mp, mr = m.master_peak, m.master_rms
    out.append(
        "    %-12s %-7s %2s L%s%s R%s%s"
        % ("MASTER", "", "", bar(mr[0], mp[0], width), fmt_db(to_dbfs(mp[0])), bar(mr[1], mp[1], width), fmt_db(to_dbfs(mp[1])))
    )
    out.append(
        "    load %5.1f%% (max %5.1f%%)  xruns %d  frame %d  %s BPM %d/bar beat %.2f"
        % (100.0 * m.callback_load, 100.0 * m.callback_load_max, m.xruns, m.frame_time,
           _num(m.tempo_bpm), m.beats_per_bar, m.beat)
    )
    return out
