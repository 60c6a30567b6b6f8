"""The tree on the left: experiments, their runs, and nested runs under their parent.

Experiments start collapsed with no children; their runs are added when the app has loaded them
(on expand, or in the background), in chunks so that a 2,000-run experiment never blocks a key.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

from rich.style import Style
from rich.text import Text
from textual.binding import Binding
from textual.widgets.tree import TreeNode

from tuitrack.app.status_look import (
    DELETED_GLYPH,
    glyph,
    status_component_classes,
    status_css,
    style_class,
)
from tuitrack.app.store_text import store_text
from tuitrack.app.widgets.vim_tree import VimTree
from tuitrack.formatting import format_age, format_bytes, shown_name
from tuitrack.model import Experiment, Run, RunStatus
from tuitrack.safe_text import visible

CHUNK = 250  # nodes added between two yields to the event loop
MAX_INDENT = 12  # nested runs deeper than this are drawn at this depth, labelled ↳DEPTH


@dataclass(frozen=True, slots=True)
class NodeRef:
    """What a tree node stands for."""

    kind: str  # "experiment" | "run" | "placeholder"
    experiment_id: str
    run_id: str | None = None


class RunTree(VimTree[NodeRef]):
    HELP_TITLE = "Tree"  # its section of `?` help
    BINDINGS = [
        *VimTree.BINDINGS,  # j k h l g G (listed again here: `?` help lists this class's own)
        Binding("enter", "open", "Open", group=Binding.Group("Tree")),
        Binding("space", "screen.toggle_mark", "Mark", show=False),
    ]

    COMPONENT_CLASSES = status_component_classes("run-tree")
    DEFAULT_CSS = """
    RunTree {
        background: $surface;
        & > .tree--guides { color: $text-muted; }
        .tree--cursor { text-style: bold; }
    }
    """ + status_css("RunTree", "run-tree")

    def __init__(self, clock: Callable[[], float] = time.time, **kwargs) -> None:
        super().__init__("runs", data=None, **kwargs)
        self.clock = clock
        self.is_stale: Callable[[Run], bool] = lambda run: False  # set by the screen
        self.is_marked: Callable[[Run], bool] = lambda run: False  # set by the screen
        self.is_previewed: Callable[[Run], bool] = lambda run: False  # a prune would delete it
        self.show_root = False
        self.guide_depth = 2
        self.auto_expand = False
        self.experiment_nodes: dict[str, TreeNode[NodeRef]] = {}
        self.run_nodes: dict[str, TreeNode[NodeRef]] = {}
        self._sizes: dict[str, int | None] = {}  # experiment id -> disk bytes, once known
        self._depths: dict[str, int] = {}  # run id -> its nesting depth (1: under the experiment)
        self._drawn_stale: dict[str, bool] = {}  # running run id -> whether its last label said stale

    # -- labels -------------------------------------------------------------------------------

    def experiment_label(self, experiment: Experiment, count: int | None, size: int | None = None) -> Text:
        name = experiment.name or f"(unnamed {experiment.experiment_id})"
        label = store_text(name, style="bold")
        label.append(f"  {count}" if count is not None else "  …", style="dim")
        if size is not None:
            label.append(f" · {format_bytes(size)}", style="dim")
        if experiment.is_deleted:
            label.stylize("strike dim")
            label.append("  (deleted experiment)", style="dim italic")
        if experiment.problems:
            label.append(" !", style="bold red")
        return label

    def run_label(self, run: Run, depth: int | None = None) -> Text:
        """`depth`: the real nesting depth of a run drawn shallower than it is (see MAX_INDENT)."""
        stale = self.is_stale(run)
        if run.status is RunStatus.RUNNING:
            self._drawn_stale[run.run_id] = stale
        status = self.get_component_rich_style(f"run-tree--{style_class(run, stale)}", default=None)
        label = Text()
        if depth is not None:
            label.append(f"↳{depth} ", style="dim")
        if self.is_previewed(run):
            label.append("× ", style="bold red")
        if self.is_marked(run):
            label.append("▌", style="bold reverse")
        label.append(glyph(run, stale) + " ", style=Style(color=status.color, bold=status.bold) if status else "")
        label.append(visible(shown_name(run)), style=("strike" if run.is_deleted else "") + ("" if run.run_name else " dim"))
        if run.version:  # mini-mlflow: runs of one name told apart by version
            label.append(f" {visible(run.version)}", style="bold")
        if run.is_deleted:
            label.append(f" {DELETED_GLYPH}", style="dim")
        label.append("  " + format_age(run.start_time, int(self.clock() * 1000)), style="dim")
        if stale:
            label.append(" stale", style="italic")
        return label

    # -- building -----------------------------------------------------------------------------

    def set_experiments(self, experiments: list[Experiment], counts: dict[str, int | None]) -> None:
        """Replace the experiment nodes (runs are added later with `show_runs`)."""
        self.clear()
        self.experiment_nodes.clear()
        self.run_nodes.clear()
        self._depths.clear()
        self._drawn_stale.clear()
        for experiment in experiments:
            node = self.root.add(
                self.experiment_label(experiment, counts.get(experiment.experiment_id)),
                data=NodeRef("experiment", experiment.experiment_id),
                allow_expand=True,
            )
            self.experiment_nodes[experiment.experiment_id] = node
        self.root.expand()

    def show_loading(self, experiment_id: str) -> None:
        node = self.experiment_nodes.get(experiment_id)
        if node is not None and not node.children:
            node.add_leaf(Text("loading…", style="dim italic"), data=NodeRef("placeholder", experiment_id))

    async def show_runs(
        self,
        experiment: Experiment,
        roots: list[Run],
        children_of: Callable[[Run], list[Run]],
        count: int,
    ) -> None:
        """(Re)build an experiment's run nodes: `roots` at the top, nested runs under parents."""
        node = self.experiment_nodes.get(experiment.experiment_id)
        if node is None:
            return
        cursor = self.cursor_node.data if self.cursor_node is not None else None
        for child in list(node.children):
            self._forget(child)
        node.remove_children()
        self.update_experiment(experiment, count)  # keeps the size shown
        added = 0
        # Depth-first without recursion. Below MAX_INDENT levels, runs are not nested further:
        # they follow their ancestor at that level, in order, each labelled with its real depth.
        stack: list[tuple[TreeNode[NodeRef], Run, int]] = [(node, run, 1) for run in reversed(roots)]
        while stack:
            parent, run, depth = stack.pop()
            kids = children_of(run)
            deep = depth > MAX_INDENT
            child = parent.add(
                self.run_label(run, depth if deep else None),
                data=NodeRef("run", experiment.experiment_id, run.run_id),
                allow_expand=bool(kids) and not deep,
                expand=bool(kids) and not deep,
            )
            self.run_nodes[run.run_id] = child
            self._depths[run.run_id] = depth
            holder = parent if deep else child
            stack.extend((holder, kid, depth + 1) for kid in reversed(kids))
            added += 1
            if added % CHUNK == 0:
                await asyncio.sleep(0)
        if not roots:
            node.add_leaf(Text("no runs", style="dim italic"), data=NodeRef("placeholder", experiment.experiment_id))
        # Nodes were added above or below: keep the cursor on the node it was on, not on
        # whatever node now sits at its line.
        if cursor is not None and cursor.kind == "run" and cursor.run_id in self.run_nodes:
            self.move_cursor(self.run_nodes[cursor.run_id])
        elif cursor is not None and cursor.kind == "experiment" and cursor.experiment_id in self.experiment_nodes:
            self.move_cursor(self.experiment_nodes[cursor.experiment_id])

    def move_cursor(self, node: TreeNode[NodeRef] | None, animate: bool = False) -> None:
        # Tree numbers its lines lazily: right after nodes were added or removed, a node's line
        # number is stale and the cursor would land on whatever is there. Reading the line
        # table renumbers them first.
        _ = self._tree_lines
        super().move_cursor(node, animate=animate)

    def _forget(self, node: TreeNode[NodeRef]) -> None:
        stack = [node]
        while stack:
            current = stack.pop()
            stack.extend(current.children)
            if current.data is not None and current.data.run_id is not None:
                self.run_nodes.pop(current.data.run_id, None)
                self._depths.pop(current.data.run_id, None)
                self._drawn_stale.pop(current.data.run_id, None)

    def update_run(self, run: Run) -> None:
        node = self.run_nodes.get(run.run_id)
        if node is None:
            return
        depth = self._depths.get(run.run_id, 1)
        label = self.run_label(run, depth if depth > MAX_INDENT else None)
        if label != node.label:  # most changes (a new metric point) leave the label as it was
            self._relabel(node, label)

    def update_stale(self, runs: list[Run]) -> None:
        """Relabel those of `runs` whose label does not say what their staleness is now (it comes
        with the clock): of 7,000 long-dead RUNNING runs, few change between two looks."""
        drawn, nodes = self._drawn_stale, self.run_nodes
        for run in runs:
            if run.run_id in nodes and drawn.get(run.run_id) != self.is_stale(run):
                self.update_run(run)

    def visible_run_ids(self) -> list[str]:
        """The runs whose lines are on screen now."""
        top = self.scroll_offset.y
        lines = self._tree_lines[top : top + self.size.height]
        return [line.node.data.run_id for line in lines if line.node.data is not None and line.node.data.run_id]

    def update_experiment(self, experiment: Experiment, count: int | None, size: int | None = None) -> None:
        node = self.experiment_nodes.get(experiment.experiment_id)
        if node is not None:
            if size is None:  # keep a size already shown
                size = self._sizes.get(experiment.experiment_id)
            self._sizes[experiment.experiment_id] = size
            label = self.experiment_label(experiment, count, size)
            if label != node.label:
                self._relabel(node, label)

    def _relabel(self, node: TreeNode[NodeRef], label: Text) -> None:
        """A new label, and the tree's width measured again: Textual's set_label keeps the width of
        the last full build, so a longer label would be cut off (and a snapshot depend on timing).
        The lines are rebuilt once, lazily, however many labels change."""
        node.set_label(label)
        self._invalidate()

    def select_run(self, run_id: str) -> bool:
        node = self.run_nodes.get(run_id)
        if node is None:
            return False
        parent = node.parent
        while parent is not None and parent is not self.root:
            if not parent.is_expanded:
                parent.expand()
            parent = parent.parent
        self.move_cursor(node)
        return True

    def select_experiment(self, experiment_id: str) -> None:
        node = self.experiment_nodes.get(experiment_id)
        if node is not None:
            self.move_cursor(node)

    # -- keys ---------------------------------------------------------------------------------

    def action_open(self) -> None:
        node = self.cursor_node
        if node is not None:
            self.post_message(self.NodeSelected(node))
