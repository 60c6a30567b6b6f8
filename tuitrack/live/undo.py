"""What `u` undoes: each change made in this session, with the change that reverts it.

Purging is never on the stack: it cannot be undone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from tuitrack.store.base import Change


@dataclass
class Edit:
    description: str  # "tagged 3 runs team=vision"
    revert: Callable[[], None]
    touched: list[Change] = field(default_factory=list)  # what to read again after either way


class UndoStack:
    def __init__(self, limit: int = 200) -> None:
        self.limit = limit
        self._edits: list[Edit] = []

    def push(self, edit: Edit) -> None:
        self._edits.append(edit)
        del self._edits[: -self.limit]

    def pop(self) -> Edit | None:
        return self._edits.pop() if self._edits else None

    def __len__(self) -> int:
        return len(self._edits)
