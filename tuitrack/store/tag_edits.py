"""What the tag prompt (and `tuitrack tag`) is asked to do: `a=1 b="two words" -c` sets a and b
and removes c. Parsed apart from doing it, so that the app and the CLI read the same text the
same way, and say exactly what they did."""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field


@dataclass
class TagEdits:
    sets: dict[str, str] = field(default_factory=dict)
    removes: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.sets or self.removes)


def parse_tag_edits(text: str) -> TagEdits:
    """`key=value` sets (quote a value with spaces), `-key` removes. Raises ValueError saying
    which word is neither."""
    try:
        words = shlex.split(text)
    except ValueError as exc:  # an unclosed quote
        raise ValueError(f"cannot read {text!r}: {exc}") from None
    edits = TagEdits()
    for word in words:
        if word.startswith("-") and "=" not in word:
            key = word[1:]
            if not key:
                raise ValueError("'-' needs a key after it: -key removes the tag key")
            edits.removes.append(key)
            edits.sets.pop(key, None)
            continue
        key, sep, value = word.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"{word!r} is not key=value (to set a tag) or -key (to remove one)")
        edits.sets[key.strip()] = value
        if key.strip() in edits.removes:
            edits.removes.remove(key.strip())
    return edits


def describe(sets: dict[str, str], removed: list[str]) -> str:
    """`set a=1, b=2; removed c`: what was done, in the order given."""
    parts = []
    if sets:
        parts.append("set " + ", ".join(f"{k}={v}" for k, v in sets.items()))
    if removed:
        parts.append("removed " + ", ".join(removed))
    return "; ".join(parts)
