"""A store whose text attacks whatever shows it: Rich/Textual markup, a live `[@click=...]`
action, terminal escapes (OSC title and clipboard, screen clear, C1 CSI) and bidi overrides,
in run names, experiment names, params, tags, notes and metric keys (within MLflow's key
rules), written by real MLflow."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from tests.mlflow_stores import T0, client_for
from mlflow.entities import Metric, Param

MARKUP = [
    "[WIP] baseline",
    "model[v2]",
    "regex=[a-z]+",
    "[/]",
    "data[/tmp/x]",
    "[b]not bold[/b]",
    "[link=https://example.com]not a link[/link]",
]
ESCAPES = [
    "title\x1b]0;pwned\x07",  # OSC 0: sets the terminal's title
    "clip\x1b]52;c;cHduZWQ=\x07",  # OSC 52: writes the clipboard
    "clear\x1b[2J\x1b[H",  # clears the screen
    "csi\x9b2J",  # the same with the 8-bit C1 CSI
    "bidi\u202eevil\u202c",  # reads backwards
    "iso\u2066x\u2069mark\u200f",
    "two\nlines",
]


def click_payload(canary: Path) -> str:
    """A run name that, read as markup, is a link running Textual's screenshot action into `canary`."""
    return f"[@click=app.screenshot('x.svg','{canary}')]looks-normal[/]"


@dataclass
class Hostile:
    root: Path
    canary: Path  # the @click payload would write here: it must stay empty
    experiment_id: str = ""
    escape_experiment_id: str = ""
    runs: dict[str, str] = field(default_factory=dict)  # run name -> run id (the last one alone
    # in the experiment with escapes in its name, the others in the one with markup)
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    note: str = ""
    metric_keys: list[str] = field(default_factory=list)

    @property
    def names(self) -> list[str]:
        """The hostile run names (of the markup experiment)."""
        return list(self.runs)[:-1]

    @property
    def click(self) -> str:
        return click_payload(self.canary)


def write_hostile_store(root: Path, canary: Path) -> Hostile:
    canary.mkdir(parents=True, exist_ok=True)
    c = client_for(root)
    store = Hostile(root, canary)
    store.experiment_id = c.create_experiment("[exp] data[/tmp/x] [/]")
    store.escape_experiment_id = c.create_experiment("exp\x1b]0;pwned\x07\u202eevil")
    store.params = {f"p{i}": text for i, text in enumerate(MARKUP + ESCAPES)}
    store.params.update(formula="=HYPERLINK(\"http://x\")", at="@SUM(A1)", plus="+1+1", negative="-0.5")
    store.tags = {f"t{i}": text for i, text in enumerate(MARKUP + ESCAPES)}
    store.note = "note [/] data[/tmp/x]\nsecond line \x1b[2J end"
    store.metric_keys = ["loss", "val/acc: top-1"]
    names = MARKUP + ESCAPES + [store.click]
    for i, name in enumerate(names + ["in-escape-experiment"]):
        experiment = store.experiment_id if i < len(names) else store.escape_experiment_id
        run_id = c.create_run(experiment, start_time=T0 + i * 1000, run_name=name).info.run_id
        store.runs[name] = run_id
        c.log_batch(run_id, params=[Param(k, v) for k, v in store.params.items()],
                    metrics=[Metric(key, -(i + s) / 10 if key == "loss" else (i + s) / 10, T0 + s, s)
                             for key in store.metric_keys for s in range(5)])
        for key, value in {**store.tags, "mlflow.note.content": store.note}.items():
            c.set_tag(run_id, key, value)
        c.set_terminated(run_id, "FAILED" if i % 3 == 0 else "FINISHED", end_time=T0 + i * 1000 + 500)
    # Keys MLflow would refuse, as another program could write them: files of the last run.
    last = root / store.escape_experiment_id / run_id
    (last / "params" / OUTLAW_PARAM).write_text("outlaw value")
    (last / "metrics" / OUTLAW_METRIC).write_text("".join(f"{T0 + s} {s / 2} {s}\n" for s in range(5)))
    return store


OUTLAW_PARAM = "[red]k"  # outside MLflow's key rules: written as files, not through MLflow
OUTLAW_METRIC = "[b]m"
