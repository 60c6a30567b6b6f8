"""The text of a snapshot or screenshot SVG, line by line: to assert on what a screen shows, and
to read a snapshot's difference as text (`python -m tests.svg_text FILE.svg`)."""

from __future__ import annotations

import html
import re
import sys


def lines_of(svg: str) -> list[str]:
    rows: dict[float, list[str]] = {}
    for m in re.finditer(r'<text[^>]*y="([\d.]+)"[^>]*>(.*?)</text>', svg):
        rows.setdefault(float(m.group(1)), []).append(html.unescape(re.sub("<[^>]+>", "", m.group(2))))
    return ["".join(rows[y]).replace("\xa0", " ") for y in sorted(rows)]


def screen_lines(app) -> list[str]:
    """What a running app shows now, line by line."""
    return lines_of(app.export_screenshot())


if __name__ == "__main__":
    with open(sys.argv[1], encoding="utf-8") as f:
        print("\n".join(lines_of(f.read())))
