"""How a run's status looks: a glyph that reads without colour (NO_COLOR, monochrome terminals)
and a component class whose colour the theme decides."""

from __future__ import annotations

from tuitrack.model import Run, RunStatus

GLYPHS = {
    RunStatus.RUNNING: "●",
    RunStatus.SCHEDULED: "◌",
    RunStatus.FINISHED: "✓",
    RunStatus.FAILED: "✗",
    RunStatus.KILLED: "■",
    None: "?",
}
PROBLEM_GLYPH = "!"
DELETED_GLYPH = "⌫"


def glyph(run: Run, stale: bool = False) -> str:
    if run.problems:
        return PROBLEM_GLYPH
    if stale:
        return STALE_GLYPH
    return GLYPHS[run.status]


STALE_GLYPH = "◔"  # running, but silent for long: the process probably died


def style_class(run: Run, stale: bool = False) -> str:
    """A CSS-ish class name: status-running, status-failed, ..., status-problem, status-deleted."""
    if run.problems:
        return "status-problem"
    if run.is_deleted:
        return "status-deleted"
    if stale:
        return "status-stale"
    return f"status-{run.status.name.lower()}" if run.status else "status-problem"


# One place decides each status's colour; widgets get component classes named `<prefix>--status-*`.
STATUS_COLOURS = {
    "status-running": "color: $primary-lighten-2;",  # not $warning: 16 colours make it failed's red
    "status-finished": "color: $success;",
    "status-failed": "color: $error;",
    "status-killed": "color: $text-muted;",
    "status-scheduled": "color: $accent;",
    "status-problem": "color: $error; text-style: bold;",
    "status-deleted": "color: $text-disabled;",
    "status-stale": "color: $warning-darken-2; text-style: italic;",
}


def status_component_classes(prefix: str) -> set[str]:
    return {f"{prefix}--{name}" for name in STATUS_COLOURS}


def status_css(widget: str, prefix: str) -> str:
    rules = "\n".join(f"    {widget} .{prefix}--{name} {{ {css} }}" for name, css in STATUS_COLOURS.items())
    return "\n" + rules + "\n"
