"""Store text made safe to show: terminal control characters and bidi overrides written as
visible escapes, and spreadsheet cells that cannot run as formulas.

A store is written by other programs and people. A run name holding ESC can set the terminal's
title, write its clipboard (OSC 52) or clear the screen when printed; a bidi override (U+202E)
makes text read backwards; a CSV cell starting with `=` runs as a formula in a spreadsheet.
Every human-readable output (the CLI's tables, `show`, plans, messages; the app) passes store
text through `visible`; CSV cells also through `spreadsheet_cell`. JSON output stays exact.
"""

from __future__ import annotations

import re

# C0 controls, DEL, C1 controls, the bidi embeddings/overrides (U+202A-202E) and isolates
# (U+2066-2069), the bidi marks (U+200E, U+200F, U+061C) and the line/paragraph separators
# (U+2028, U+2029), which some terminals and editors take for a new line.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_UNSAFE_BUT_NEWLINE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\n": "\\n", "\t": "\\t", "\r": "\\r"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    named = _NAMED.get(char)
    if named is not None:
        return named
    code = ord(char)
    # \x1b for C0 (as Python writes them); \u009b above: that is also a valid JSON escape, so
    # `visible` may run over JSON text (where C0 controls are escaped already) and keep it exact.
    return f"\\x{code:02x}" if code < 0x20 else f"\\u{code:04x}"


def visible(text: str, newlines: bool = False) -> str:
    """`text` with every control character and bidi control written as a visible escape
    (`\\x1b`, `\\n`, `\\u202e`); with `newlines`, real line breaks stay (multi-line notes).
    Plain text, including every other non-ASCII character, is returned as it is."""
    if text.isprintable():  # the common case, in C: every character escaped here is unprintable
        return text
    return (_UNSAFE_BUT_NEWLINE if newlines else _UNSAFE).sub(_escape, text)


# OWASP's list: a spreadsheet runs a cell that starts with one of these as a formula.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def spreadsheet_cell(text: str) -> str:
    """A CSV cell a spreadsheet shows as typed: a text cell that would start a formula gets a
    leading single quote, as OWASP advises. Numbers (`-0.5`, `+1e-3`) are left as they are, so
    negative metric values and params stay numbers."""
    if text.startswith(_FORMULA_START) and not _NUMBER.match(text):
        return "'" + text
    return text
