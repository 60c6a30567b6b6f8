"""A faster stand-in for one function of plotext 5, `_utility.hd_group`, with the same results.

plotext draws a braille curve by grouping every point of its lines into the 2x4 dot cell it
falls in. Its `hd_group` builds a fresh dot matrix for every point, also for the many points
that share a cell, and that was 60 % of a plot's build: a noisy curve of 4 runs x 100,000
points at 120x40 took 70 ms to zoom. This one builds a matrix per cell. It takes the fast path
only when every point has the same marker size (one marker per curve: always, in tuitrack's
plots); anything else goes to plotext's own. tests/test_plotext_speed.py compares the two on
random input, NaN and infinities included.
"""

from __future__ import annotations

import math
from itertools import chain

import plotext
import plotext._utility as plotext_utility

_original = plotext_utility.hd_group


def hd_group(x, y, xf, yf):
    """What plotext's hd_group returns: the cell of each marker, and the dots set in it."""
    count = len(x)
    if not count or xf.count(xf[0]) != count or yf.count(yf[0]) != count:
        return _original(x, y, xf, yf)
    fx, fy = xf[0], yf[0]
    floor = math.floor
    cells: dict[tuple, list[list[int]]] = {}
    for xi, yi in zip(x, y):
        # plotext's numerical(v) for its numbers, None and NaN: `v is not None and v == v`
        x_ok = xi is not None and xi == xi
        y_ok = yi is not None and yi == yi
        cell_x = xi // fx if x_ok else xi
        cell_y = yi // fy if y_ok else yi
        key = (cell_x, cell_y)
        dots = cells.get(key)
        if dots is None:
            dots = cells[key] = [[0] * fx for _ in range(fy)]
        if x_ok and y_ok and cell_x == cell_x and cell_y == cell_y:  # inf // 2 is NaN
            dots[floor(yi % fy)][floor(xi % fx)] = 1
    xs, ys = plotext_utility.transpose(cells.keys(), 2)
    return xs, ys, [tuple(chain.from_iterable(reversed(dots))) for dots in cells.values()]

def install() -> None:
    """Use the faster hd_group in plotext 5 (plotext 6 is another library: left alone)."""
    if plotext.__version__.startswith("5.") and plotext_utility.hd_group is _original:
        plotext_utility.hd_group = hd_group  # plotext._build calls it as ut.hd_group: this module
