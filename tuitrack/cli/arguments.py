"""Reading the command line: number options (`--stale-after 10`, `--keep-last 3`) checked when
they are read, so that a negative, zero, NaN or non-numeric value is refused instead of
misbehaving later, and every usage error said in one line."""

from __future__ import annotations

import argparse
import math
import os


def _number(text: str, kind: type, what: str) -> float:
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
    if isinstance(value, float) and not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not {what}")
    return value


def positive_float(text: str) -> float:
    """A finite number above 0 (minutes, seconds, a rate)."""
    value = _number(text, float, "a number above 0")
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number above 0")
    return value


def positive_int(text: str) -> int:
    """A whole number above 0 (steps, runs to keep per rule that must keep some)."""
    value = _number(text, int, "a whole number above 0")
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number above 0")
    return value


def count(text: str) -> int:
    """A whole number, 0 or more (how many runs to keep)."""
    value = _number(text, int, "a whole number (0 or more)")
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number (0 or more)")
    return value


class OneLineErrors(argparse.ArgumentParser):
    """argparse, with a usage error said in one line (with where to read more), not a usage dump."""

    def error(self, message: str):  # type: ignore[override]
        if "required" in message and any(a.dest == "store" for a in self._actions) \
                and not os.environ.get("MLFLOW_TRACKING_URI"):
            message += "; STORE comes first, or is left out when $MLFLOW_TRACKING_URI is set"
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")
