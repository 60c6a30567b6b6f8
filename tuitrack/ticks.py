"""Axis ticks a person reads at a glance: 1-2-5 steps, whole steps, clock times, `1e-9`.

plotext picks its own ticks: fractional steps (`12.5`), wall time as epoch seconds
(`1795000000`), log axes as `0.0000000008`, and at 80x24 spacings that look uneven. These choose
round positions and short labels; the plot hands them to plotext.
"""

from __future__ import annotations

import math
import time

STEPS = (1, 2, 5)  # a tick spacing is one of these times a power of ten
# Clock spacings (seconds) for the wall-time axis, and for durations on the relative axis.
CLOCK_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200,
               86400, 2 * 86400, 7 * 86400, 14 * 86400, 30 * 86400)


def nice_step(span: float, count: int) -> float:
    """The 1-2-5 spacing nearest to cutting `span` into `count` parts."""
    if span <= 0 or not math.isfinite(span):
        return 1.0
    rough = span / max(1, count)
    power = 10 ** math.floor(math.log10(rough))
    return min((factor * power for factor in (*STEPS, 10)), key=lambda step: abs(math.log(step / rough)))


def linear_ticks(low: float, high: float, count: int = 5, whole: bool = False) -> list[float]:
    """Round positions between `low` and `high` (inclusive), about `count` of them; whole numbers
    only when `whole` (steps)."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return []
    if high < low:
        low, high = high, low
    if high == low:
        return [low]
    step = nice_step(high - low, count)
    if whole:
        step = max(1.0, math.ceil(step))
    first = math.ceil(low / step - 1e-9) * step
    ticks = []
    value = first
    while value <= high + step * 1e-9 and len(ticks) < 100:
        ticks.append(0.0 if abs(value) < step * 1e-9 else float(f"{value:.12g}"))  # 0.6, not 0.6000000001
        value = first + step * len(ticks)
    return ticks


def clock_ticks(low: float, high: float, count: int = 5, local: bool = True) -> list[float]:
    """Positions (seconds) on round clock times: every 15 min, every hour, every day... For wall
    time (`local`) rounded in the local time zone (midnight, not 01:00); else durations."""
    if not (math.isfinite(low) and math.isfinite(high)) or high <= low:
        return [low] if math.isfinite(low) else []
    rough = (high - low) / max(1, count)
    step = next((s for s in CLOCK_STEPS if s >= rough), CLOCK_STEPS[-1])
    offset = time.localtime(low).tm_gmtoff if local else 0
    first = math.ceil((low + offset) / step) * step - offset
    return [first + step * i for i in range(int((high - first) // step) + 1)][:100]


def number_label(value: float) -> str:
    """`0`, `250`, `0.05`, `1.5k`, `2M`, `1e-9`: short, and never a row of zeros."""
    if value == 0:
        return "0"
    magnitude = abs(value)
    if magnitude >= 1e15 or magnitude < 1e-3:
        mantissa, exponent = f"{value:.2e}".split("e")
        return f"{float(mantissa):g}e{int(exponent)}"
    for threshold, unit, suffix in ((1e12, 1e12, "T"), (1e9, 1e9, "G"), (1e6, 1e6, "M"), (1e4, 1e3, "k")):
        if magnitude >= threshold:
            return f"{value / unit:.3g}{suffix}"
    return f"{value:.4g}"


def power_label(exponent: float) -> str:
    """The label of a log-axis tick at 10**exponent: `1e-3`, `1`, `1e6`."""
    exponent = int(exponent)
    return "1" if exponent == 0 else f"1e{exponent}"


def clock_label(seconds: float, span: float) -> str:
    """A wall-time tick: `14:30` within a day, `12-01 14:30` within weeks, else a date."""
    moment = time.localtime(seconds)
    if span < 120:
        return time.strftime("%H:%M:%S", moment)
    if span <= 2 * 86400:
        return time.strftime("%H:%M", moment)
    if span <= 60 * 86400:
        return time.strftime("%m-%d %H:%M", moment) if span <= 7 * 86400 else time.strftime("%m-%d", moment)
    return time.strftime("%Y-%m-%d", moment)


def duration_label(hours: float) -> str:
    """A tick on the time-since-start axis (in hours): `0`, `360ms`, `45m`, `2h`, `1h30m`, `3d`
    (under half a second in milliseconds: a log axis has ticks there, which were all `0`)."""
    exact = hours * 3600
    if exact != 0 and abs(exact) < 0.5:
        ms = abs(exact) * 1000
        return ("-" if exact < 0 else "") + (f"{ms:.0f}ms" if ms >= 1 else f"{ms:.2g}ms")
    seconds = round(exact)
    if seconds == 0:
        return "0"
    sign, seconds = ("-" if seconds < 0 else ""), abs(seconds)
    days, rest = divmod(seconds, 86400)
    hours_, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{sign}{days}d" + (f"{hours_}h" if hours_ else "")
    if hours_:
        return f"{sign}{hours_}h" + (f"{minutes:02d}m" if minutes else "")
    if minutes:
        return f"{sign}{minutes}m" + (f"{secs:02d}s" if secs else "")
    return f"{sign}{secs}s"


def x_ticks(axis: str, low: float, high: float, count: int) -> tuple[list[float], list[str]]:
    """Positions and labels for the x axis: steps, hours since start, or wall time (seconds)."""
    if axis == "step":
        ticks = linear_ticks(low, high, count, whole=True)
        return ticks, [number_label(t) for t in ticks]
    if axis == "relative":
        ticks = [t / 3600 for t in clock_ticks(low * 3600, high * 3600, count, local=False)]
        return ticks, [duration_label(t) for t in ticks]
    ticks = clock_ticks(low, high, count)
    return ticks, [clock_label(t, high - low) for t in ticks]


def y_ticks(low: float, high: float, count: int, log: bool = False) -> tuple[list[float], list[str]]:
    """Positions and labels for the y axis; with `log`, positions are log10 of the values."""
    if log:
        ticks = [float(e) for e in range(math.ceil(low - 1e-9), math.floor(high + 1e-9) + 1)]
        if len(ticks) > 8:
            every = math.ceil(len(ticks) / 8)
            ticks = ticks[::every]
        return ticks, [power_label(t) for t in ticks]
    ticks = linear_ticks(low, high, count)
    return ticks, [number_label(t) for t in ticks]


def log_ticks(low: float, high: float, label) -> tuple[list[float], list[str]]:
    """Ticks of a log axis whose positions are log10 of the values (`low`, `high` too): one per
    power of ten, at most 8, each labelled by `label(value)`."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return [], []
    ticks = [float(e) for e in range(math.ceil(low - 1e-9), math.floor(high + 1e-9) + 1)]
    if len(ticks) > 8:
        ticks = ticks[:: math.ceil(len(ticks) / 8)]
    return ticks, [label(10.0 ** t) for t in ticks]


def symlog_ticks(low: float, high: float, threshold: float) -> list[float]:
    """Values for the ticks of a symlog axis from `low` to `high`: 0 and plus or minus the
    threshold times each power of ten (at most 9, thinned evenly); label them with number_label."""
    if not (math.isfinite(low) and math.isfinite(high)) or threshold <= 0:
        return []
    values = [0.0] if low <= 0 <= high else []
    magnitude = threshold
    top = max(abs(low), abs(high))
    while magnitude <= top * (1 + 1e-9) and len(values) < 60:
        values += [v for v in (-magnitude, magnitude) if low <= v <= high]
        magnitude *= 10
    values.sort()
    if len(values) > 9:
        every = math.ceil(len(values) / 9)
        zero = values.index(0.0) if 0.0 in values else 0
        values = [v for i, v in enumerate(values) if (i - zero) % every == 0]
    return values
