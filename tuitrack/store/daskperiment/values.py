"""The values tuitrack knows, taken from an inert pickle's `Global`/`Made` stand-ins.

daskperiment's records hold pandas Timestamps and Timedeltas (times of trials and metric points)
and, when a script passes them, numpy scalars. Each is pickled as a call of a known function
with plain arguments, so the value can be computed from those arguments without pandas or numpy:

- `pandas._libs.tslibs.timestamps._unpickle_timestamp(value, freq, tz, reso)`: `value` counts
  `reso` units (numpy's: 7 s, 8 ms, 9 us, 10 ns; older pandas: no reso, ns) since the epoch.
  A Timestamp without tz is a wall time: `pd.Timestamp.now()` on the machine that ran the trial,
  read here as this machine's local time (a LocalBackend is one PC's).
- `pandas._libs.tslibs.timedeltas._timedelta_unpickle(value, reso)`; older: `Timedelta(value)`.
- `numpy.core.multiarray.scalar(dtype, raw bytes)` (numpy 2: `numpy._core`), dtype itself
  `numpy.dtype("f8", ...)` with its byte order in the BUILD state.

`text` shows any other value the way Python's `str` would (what MLflow stores for a param), but
bounded in depth, items and length, since a hostile pickle can nest lists a million deep.
"""

from __future__ import annotations

import datetime
import struct
from typing import Any

from tuitrack.store.daskperiment.inert import Global, Made

UNIT_PER_MS = {8: 1, 9: 1_000, 10: 1_000_000, 11: 1_000_000_000}  # numpy's datetime units (7: s)
NS = 10
EPOCH = datetime.datetime(1970, 1, 1)
NUMPY_SCALAR_FORMATS = {"f": {2: "e", 4: "f", 8: "d"}, "i": {1: "b", 2: "h", 4: "i", 8: "q"},
                        "u": {1: "B", 2: "H", 4: "I", 8: "Q"}, "b": {1: "?"}}
MAX_TEXT = 1_000
MAX_ITEMS = 100
MAX_NESTING = 8


def made_by(value: Any, *names: str) -> bool:
    """True when `value` is a stand-in built by a pandas/numpy global named one of `names`."""
    return (isinstance(value, Made) and isinstance(value.made_by, Global)
            and value.made_by.module.split(".", 1)[0] in ("pandas", "numpy") and value.made_by.name in names)


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _to_ms(count: int, reso: Any) -> int | None:
    unit = _int(reso) if reso is not None else NS
    if unit == 7:
        return count * 1000
    per_ms = UNIT_PER_MS.get(unit)
    return None if per_ms is None else count // per_ms


def timestamp_ms(value: Any) -> int | None:
    """Milliseconds since the epoch of a pickled pandas Timestamp; None if it is not one."""
    if not made_by(value, "_unpickle_timestamp", "Timestamp") or not value.args:
        return None
    count = _int(value.args[0])
    if count is None:
        return None
    reso = value.args[3] if len(value.args) > 3 else None
    ms = _to_ms(count, reso)
    tz = value.args[2] if len(value.args) > 2 else None
    if ms is None or tz is not None:
        return ms  # a Timestamp with a zone counts from the epoch in UTC
    try:
        wall = EPOCH + datetime.timedelta(milliseconds=ms)  # naive: local time, as datetime reads it
        return int(wall.replace(microsecond=0).timestamp()) * 1000 + wall.microsecond // 1000
    except (OverflowError, ValueError, OSError):
        return None


def timedelta_ms(value: Any) -> int | None:
    """Milliseconds of a pickled pandas Timedelta; None if it is not one."""
    if not made_by(value, "_timedelta_unpickle", "Timedelta") or not value.args:
        return None
    count = _int(value.args[0])
    if count is None:
        return None
    return _to_ms(count, value.args[1] if len(value.args) > 1 else None)


def numpy_scalar(value: Any) -> float | int | bool | None:
    """The number in a pickled numpy scalar (np.float64(0.5)...); None if it is not one."""
    if not made_by(value, "scalar") or len(value.args) < 2 or not isinstance(value.args[1], bytes):
        return None
    dtype = value.args[0]
    if not made_by(dtype, "dtype") or not dtype.args or not isinstance(dtype.args[0], str):
        return None
    code = dtype.args[0]
    kind, size = code[:1], code[1:]
    fmt = NUMPY_SCALAR_FORMATS.get(kind, {}).get(int(size) if size.isdigit() else 0)
    state = dtype.state
    order = state[1] if isinstance(state, tuple) and len(state) > 1 and state[1] in ("<", ">") else "<"
    raw = value.args[1]
    if fmt is None or len(raw) != struct.calcsize(fmt):
        return None
    return struct.unpack(order + fmt, raw)[0]


def number(value: Any) -> float | int | None:
    """A plain or numpy number (not a bool); None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return value
    found = numpy_scalar(value)
    return None if isinstance(found, bool) else found


def text(value: Any) -> str:
    """`str(value)` for plain values; pandas and numpy values as their value; other objects as
    `<module.name>`. At most MAX_TEXT characters."""
    out: list[str] = []
    _render(value, out, 0)
    joined = "".join(out)
    return joined if len(joined) <= MAX_TEXT else joined[: MAX_TEXT - 1] + "…"


def _render(value: Any, out: list[str], depth: int) -> None:
    if sum(map(len, out)) > MAX_TEXT:
        return
    if isinstance(value, str):
        out.append(value if depth == 0 else repr(value[:MAX_TEXT]))
    elif value is None or isinstance(value, (bool, int, float)):
        out.append(str(value) if not isinstance(value, int) or abs(value) < 10**100 else "<a huge int>")
    elif isinstance(value, (bytes, bytearray)):
        out.append(repr(bytes(value[:MAX_TEXT])))
    elif isinstance(value, Made):
        scalar = numpy_scalar(value)
        ms = timestamp_ms(value)
        if scalar is not None:
            out.append(str(scalar))
        elif ms is not None:
            out.append(datetime.datetime.fromtimestamp(ms / 1000).isoformat(sep=" "))
        elif (delta := timedelta_ms(value)) is not None:
            out.append(str(datetime.timedelta(milliseconds=delta)))
        else:
            out.append(f"<{value.dotted}>")
    elif isinstance(value, Global):
        out.append(f"<{value.dotted}>")
    elif isinstance(value, (list, tuple, set, frozenset, dict)):
        _render_container(value, out, depth)
    else:
        out.append(f"<{type(value).__name__}>")


def _render_container(value: Any, out: list[str], depth: int) -> None:
    opening, closing = {list: "[]", tuple: "()", dict: "{}"}.get(type(value), "{}")
    if depth >= MAX_NESTING:
        out.append(opening + "…" + closing)
        return
    out.append(opening)
    items = list(value.items()) if isinstance(value, dict) else list(value)
    for i, item in enumerate(items[:MAX_ITEMS]):
        if i:
            out.append(", ")
        if isinstance(value, dict):
            _render(item[0], out, depth + 1)
            out.append(": ")
            _render(item[1], out, depth + 1)
        else:
            _render(item, out, depth + 1)
    if len(items) > MAX_ITEMS:
        out.append(", …")
    if isinstance(value, tuple) and len(value) == 1:
        out.append(",")
    out.append(closing)
