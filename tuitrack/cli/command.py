"""The shape of a subcommand: what `tuitrack --help` says, its arguments, and what it does.
A module with HELP, add_parser and run has the same shape (ls, show, demo)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import NamedTuple


class Command(NamedTuple):
    HELP: str
    add_parser: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]
