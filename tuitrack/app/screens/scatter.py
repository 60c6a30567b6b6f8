"""`S`: which setting gave the best result: a param (or metric) against a metric, one dot per
run of the experiment. x and y cycle through what the runs have; l and L make an axis log."""

from __future__ import annotations

import math

import plotext
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import Footer, Static

from tuitrack.app.store_text import store_text
from tuitrack.app.widgets.metric_plot import build_strips, default_metric, start_figure
from tuitrack.model import Run
from tuitrack.safe_text import visible


def numeric_params(runs: list[Run]) -> list[str]:
    """Params whose every value (where present) is a number: those can be an x axis."""
    keys = sorted({k for r in runs for k in r.params})
    out = []
    for key in keys:
        values = [r.params[key] for r in runs if key in r.params]
        try:
            [float(v) for v in values]
        except ValueError:
            continue
        if len(set(values)) > 1:
            out.append(key)
    return out


def axis_value(run: Run, field: str) -> float | None:
    kind, _, key = field.partition(":")
    if kind == "param":
        value = run.params.get(key)
        return None if value is None else float(value)
    point = run.metrics.get(key)
    return None if point is None or not math.isfinite(point.value) else point.value


class Scatter(Widget):
    DEFAULT_CSS = "Scatter { height: 1fr; background: $surface; }"

    def __init__(self, runs: list[Run], **kwargs) -> None:
        super().__init__(**kwargs)
        self.runs = runs
        self.x = ""
        self.y = ""
        self.log_x = False
        self.log_y = False
        self._key = None
        self._strips: list[Strip] = []

    def points(self) -> list[tuple[float, float, Run]]:
        out = []
        for run in self.runs:
            x, y = axis_value(run, self.x), axis_value(run, self.y)
            if x is None or y is None or (self.log_x and x <= 0) or (self.log_y and y <= 0):
                continue
            out.append((x, y, run))
        return out

    def render_line(self, y: int) -> Strip:
        key = (self.size, self.x, self.y, self.log_x, self.log_y)
        if key != self._key:
            self._strips, self._key = self._build(), key
        return self._strips[y] if y < len(self._strips) else Strip.blank(self.size.width, self.rich_style)

    def _build(self) -> list[Strip]:
        width, height = self.size
        if width < 10 or height < 4:
            return []
        start_figure(width, height)
        points = self.points()
        if points:
            plotext.scatter([p[0] for p in points], [p[1] for p in points], marker="dot", color="cyan")
        name_x, name_y = visible(self.x.partition(":")[2]), visible(self.y.partition(":")[2])  # plotext writes raw
        if not self.x:
            plotext.title("nothing for the x axis: the runs share every param, and have one metric")
            return build_strips(self, width, height)
        plotext.title(f"{name_y} against {name_x}: {len(points)} of {len(self.runs)} runs" if points
                      else f"no run has both {name_x} and {name_y}")
        plotext.xlabel(name_x + (" (log)" if self.log_x else ""))
        if points and self.log_x:
            plotext.xscale("log")
        if points and self.log_y:
            plotext.yscale("log")
        return build_strips(self, width, height)


class ScatterScreen(Screen):
    HELP_TITLE = "Scatter"  # its section of `?` help
    BINDINGS = [
        Binding("escape,q", "app.pop_screen", "Back"),
        Binding("x", "next_x(1)", "Next x"),
        Binding("X", "next_x(-1)", "Previous x", show=False),
        Binding("y", "next_y(1)", "Next y"),
        Binding("Y", "next_y(-1)", "Previous y", show=False),
        Binding("l", "toggle('log_x')", "Log x"),
        Binding("L", "toggle('log_y')", "Log y"),
    ]

    def __init__(self, runs: list[Run], experiment_name: str) -> None:
        super().__init__()
        self.runs = runs
        self.experiment_name = experiment_name
        metrics = sorted({k for r in runs for k in r.metrics})
        self.x_fields = [f"param:{k}" for k in numeric_params(runs)] + [f"metric:{k}" for k in metrics]
        self.y_fields = [f"metric:{k}" for k in metrics]

    def compose(self) -> ComposeResult:
        yield Static(store_text(f" {self.experiment_name}: a param or metric against a metric, one dot per run "
                                "· x/y change the axes · l/L log · esc back"), id="scatter-title")
        yield Scatter(self.runs, id="scatter")
        yield Footer()

    def on_mount(self) -> None:
        scatter = self.query_one(Scatter)
        if self.y_fields:
            scatter.y = "metric:" + default_metric([f.partition(":")[2] for f in self.y_fields])
        scatter.x = next((f for f in self.x_fields if f != scatter.y), "")

    def _cycle(self, fields: list[str], current: str, step: int) -> str:
        if not fields:
            return current
        index = fields.index(current) if current in fields else -1
        return fields[(index + step) % len(fields)]

    def action_next_x(self, step: int) -> None:
        scatter = self.query_one(Scatter)
        scatter.x = self._cycle(self.x_fields, scatter.x, step)
        scatter.refresh()

    def action_next_y(self, step: int) -> None:
        scatter = self.query_one(Scatter)
        scatter.y = self._cycle(self.y_fields, scatter.y, step)
        scatter.refresh()

    def action_toggle(self, attribute: str) -> None:
        scatter = self.query_one(Scatter)
        setattr(scatter, attribute, not getattr(scatter, attribute))
        scatter.refresh()
