"""The artifacts view (`4`): the selected run's artifacts as a tree with sizes, and a preview.

Listing and reading happen on worker threads, within the store layer's bounds (a listing stops at
MAX_WALKED entries and says where; a preview is at most READ_BOUND bytes: the start of a small
file, the tail of a large one). Enter previews a file: text coloured by its kind (JSON, YAML,
Python, Markdown), a CSV as a table, an image described by its size and pixels (read from its
header) and drawn where the terminal has kitty or sixel graphics (app/pictures.py), anything else
described. A text preview that reaches the file's end follows it like
`tail -f` (live/artifact_tail.py reads what was appended, off the UI thread). `y` copies the
artifact's path. While the view shows a run that is running (or changed in the last
RELIST_RECENT seconds), its artifacts are listed again every `relist_every` seconds (2; 5 on a
server) and the tree updated in place when they changed. Every name and every byte shown is store text: never markup, escapes visible.
"""

from __future__ import annotations

import csv
import io
import time

from rich.console import Group, RenderableType
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Static, Tree
from textual.widgets.tree import TreeNode

from tuitrack.app import pictures
from tuitrack.app.store_text import store_text
from tuitrack.app.widgets.vim_tree import VimTree
from tuitrack.formatting import format_bytes, shown_name
from tuitrack.live.artifact_tail import ArtifactTail, TailNews
from tuitrack.model import Run, RunStatus
from tuitrack.safe_text import visible
from tuitrack.store.artifacts import READ_BOUND, ArtifactEntry, ArtifactSource, ArtifactTree, Chunk
from tuitrack.store.artifacts.kinds import HEAD_BYTES, Kind, guess
from tuitrack.store.artifacts.text import chunk_text, last_lines
from tuitrack.store.base import StoreError

FOLLOW_EVERY = 1.0  # seconds between two looks at a followed file
SHOWN_LINES = 2000  # of a text preview (its last ones, when following)
COLOURED_CHARS = 64 * 1024  # syntax colouring costs the UI thread: larger previews are plain
TABLE_ROWS, TABLE_COLUMNS = 200, 30
RELIST_RECENT = 300.0  # seconds after the run's last change (or end) its artifacts are still listed again


def size_text(size: int | None) -> str:
    return "" if size is None else format_bytes(size)


class ArtifactTreeWidget(VimTree[ArtifactEntry]):
    """The tree of artifacts; its labels are store text."""


class ArtifactsView(Horizontal):
    HELP_TITLE = "Artifacts"  # its section of `?` help
    BINDINGS = [
        Binding("enter", "preview", "Preview", tooltip="Preview the file under the cursor"),
        Binding("y", "copy_path", "Copy path", tooltip="Copy the artifact's path (or URI) to the clipboard"),
        Binding("f", "toggle_follow", "Follow", show=False, tooltip="Follow the previewed file as it grows, or stop"),
    ]

    DEFAULT_CSS = """
    ArtifactsView {
        height: 1fr;
        background: $surface;
        border-top: hkey $panel-lighten-2;
        border-title-color: $text-accent;
        &:focus-within { background-tint: $foreground 4%; }
        & > ArtifactTreeWidget { width: 2fr; min-width: 24; background: $surface; }
        & > #artifact-preview-pane { width: 3fr; padding: 0 0 0 1; }
        & #artifact-preview-title { text-style: bold; }
        & .artifact-picture { width: auto; height: 1fr; max-width: 100%; }
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.source: ArtifactSource | None = None
        self.run_id: str | None = None
        self.run: Run | None = None  # the latest the screen told (its status says if it still logs)
        self._changed_at = float("-inf")  # when the screen last said the run changed (time.monotonic)
        self._last_listed = 0.0  # when the artifacts were last listed (time.monotonic)
        self.listed: ArtifactTree | None = None
        self.previewed: ArtifactEntry | None = None
        self.kind: Kind | None = None
        self.text = ""  # what the text preview shows (when following, its end)
        self.part = ""  # "first" or "last" when the text is only part of the file
        self.tail: ArtifactTail | None = None
        self._last_look = 0.0  # when the followed file was last read (time.monotonic)

    def compose(self):
        tree = ArtifactTreeWidget(Text("artifacts"), id="artifact-tree")
        tree.show_root = False
        yield tree
        with Vertical(id="artifact-preview-pane"):
            yield Static(id="artifact-preview-title")
            with VerticalScroll(id="artifact-preview"):
                yield Static(id="artifact-preview-body")

    def on_mount(self) -> None:
        # Paused while the view is hidden: an idle app's timers cost it more than its sweeps.
        self._looking = self.set_interval(FOLLOW_EVERY, self._look, pause=True)
        self._say("Enter previews the file under the cursor.")

    def on_show(self) -> None:
        self._looking.resume()

    def on_hide(self) -> None:
        self._looking.pause()

    def _look(self) -> None:
        self._follow()
        self._relist_if_due()

    def focus(self, scroll_visible: bool = True):
        """Focus goes to the tree: the keys of the view are its keys."""
        self.query_one(ArtifactTreeWidget).focus(scroll_visible)
        return self

    # -- the run -----------------------------------------------------------------------------

    def show_run(self, source: ArtifactSource | None, run: Run | None) -> None:
        """List `run`'s artifacts (None: no run is selected); what was previewed is dropped."""
        self.run_id = run.run_id if run is not None else None
        self.run, self._changed_at = run, float("-inf")  # shown is not changed: its status and end say
        self.source = source
        self.listed, self.tail, self.previewed, self.kind = None, None, None, None
        self.border_title = store_text(f"Artifacts of {shown_name(run)}") if run else "Artifacts"
        tree = self.query_one(ArtifactTreeWidget)
        tree.clear()
        if source is None or run is None:
            tree.root.set_label(Text("no run selected"))
            self._say("")
            return
        tree.root.set_label(Text("reading…"))
        self._say("")
        self._walk(source, run.run_id)

    @work(thread=True, exclusive=True, group="artifacts-walk", exit_on_error=False)
    def _walk(self, source: ArtifactSource, run_id: str) -> None:
        try:
            listed: ArtifactTree | str = source.walk()
        except StoreError as exc:
            listed = str(exc)
        self.app.call_from_thread(self._walked, source, run_id, listed)

    def _walked(self, source: ArtifactSource, run_id: str, listed: ArtifactTree | str) -> None:
        if source is not self.source or run_id != self.run_id:
            return  # another run was selected meanwhile
        self._last_listed = time.monotonic()
        tree = self.query_one(ArtifactTreeWidget)
        tree.clear()
        if isinstance(listed, str):
            tree.root.set_label(Text("no artifacts listed"))
            self._say(listed, error=True)
            return
        self._fill(listed)
        tree.cursor_line = 0

    def _fill(self, listed: ArtifactTree, expanded: set[str] | None = None) -> None:
        """The (cleared) tree made of `listed`; `expanded`: the folders to open (None: the top
        ones of a small listing)."""
        tree = self.query_one(ArtifactTreeWidget)
        self.listed = listed
        tree.root.data = listed.root
        tree.show_root = False
        stack: list[tuple[TreeNode, ArtifactEntry]] = [(tree.root, listed.root)]
        while stack:  # no recursion: a tree's depth is the store's to choose
            node, entry = stack.pop()
            for child in entry.children or ():
                label = self._label(child)
                if child.kind == "folder":
                    opened = (node is tree.root and len(entry.children or ()) < 20) if expanded is None \
                        else child.path in expanded
                    inner = node.add(label, child, expand=opened)
                    stack.append((inner, child))
                    if child.cut and not child.children:
                        inner.add_leaf(store_text(f"({child.cut})", "dim"))
                else:
                    node.add_leaf(label, child)
            if entry.cut and entry.children:
                node.add_leaf(store_text(f"… {entry.cut}", "dim"))
        if not listed.root.children:
            tree.root.add_leaf(Text("(no artifacts)", "dim"))
        tree.root.expand()
        self._summary(listed)

    def _summary(self, listed: ArtifactTree) -> None:
        """Where the artifacts are and their total, in the preview pane until a file is previewed."""
        if self.previewed is not None:
            return  # the preview stays
        total = size_text(listed.root.size)
        self._say(f"{listed.where}\n{total} in all" + (f"; listing cut in {len(listed.cut)} place(s)" if listed.cut else "")
                  + "\nEnter previews the file under the cursor; y copies its path.")

    # -- listing again while the run logs ----------------------------------------------------

    def run_changed(self, run: Run) -> None:
        """The screen's word that the shown run changed (it logged): its artifacts may have too."""
        if run.run_id == self.run_id:
            self.run, self._changed_at = run, time.monotonic()

    def _still_logging(self, run: Run) -> bool:
        if run.status is RunStatus.RUNNING or time.monotonic() - self._changed_at < RELIST_RECENT:
            return True
        return run.end_time is not None and self.app.clock() - run.end_time / 1000 < RELIST_RECENT

    def _relist_if_due(self) -> None:
        source, run = self.source, self.run
        if source is None or run is None or self.listed is None or not self.display or not self.is_on_screen:
            return
        if not self._still_logging(run) or time.monotonic() - self._last_listed < source.relist_every - FOLLOW_EVERY / 2:
            return
        if any(w.group in ("artifacts-walk", "artifacts-relist") and w.is_running for w in self.workers):
            return
        self._last_listed = time.monotonic()
        self._relist(source, run.run_id)

    @work(thread=True, exclusive=True, group="artifacts-relist", exit_on_error=False)
    def _relist(self, source: ArtifactSource, run_id: str) -> None:
        try:
            listed = source.walk()
        except StoreError:
            return  # gone for now (the server down): the next look tries again
        shown = self.listed
        if shown is not None and _shape(listed) == _shape(shown):  # compared here, off the UI thread
            return
        self.app.call_from_thread(self._relisted, source, run_id, listed)

    def _relisted(self, source: ArtifactSource, run_id: str, listed: ArtifactTree) -> None:
        """The tree updated in place when the listing changed: the same folders open, the cursor
        on the same path (or the same line, when that path went)."""
        if source is not self.source or run_id != self.run_id or self.listed is None:
            return
        tree = self.query_one(ArtifactTreeWidget)
        if _shape(listed, sizes=False) == _shape(self.listed, sizes=False):
            self._resized(tree, listed)  # a growing log: only sizes changed, labels updated
            return
        expanded, stack = set(), list(tree.root.children)
        while stack:
            node = stack.pop()
            if node.data is not None and node.data.kind == "folder" and node.is_expanded:
                expanded.add(node.data.path)
            stack.extend(node.children)
        cursor = tree.cursor_node
        at, line = (cursor.data.path if cursor is not None and cursor.data is not None else None), tree.cursor_line
        tree.clear()
        self._fill(listed, expanded)
        tree.cursor_line = min(line, tree.last_line)  # last_line lays the new lines out
        stack = list(tree.root.children)
        while stack and at is not None:
            node = stack.pop()
            if node.data is not None and node.data.path == at:
                tree.move_cursor(node)
                break
            stack.extend(node.children)

    def _resized(self, tree: ArtifactTreeWidget, listed: ArtifactTree) -> None:
        """The same entries with new sizes: each node takes its new entry, and a new label when
        its size changed (no rebuild: the cursor and the scroll do not move)."""
        by_path, stack = {}, [listed.root]
        while stack:
            entry = stack.pop()
            by_path[entry.path] = entry
            stack.extend(entry.children or ())
        nodes = list(tree.root.children)
        while nodes:
            node = nodes.pop()
            nodes.extend(node.children)
            new = by_path.get(node.data.path) if node.data is not None else None
            if new is not None:
                if new.size != node.data.size:
                    node.set_label(self._label(new))
                node.data = new
        tree.root.data, self.listed = listed.root, listed
        self._summary(listed)

    @staticmethod
    def _label(entry: ArtifactEntry) -> Text:
        label = store_text(entry.name + ("/" if entry.kind == "folder" else ""))
        if entry.kind == "symlink":
            label.append("  symlink, not followed", "dim")
        elif entry.kind == "other":
            label.append("  not a regular file", "dim")
        elif entry.size is not None:  # a folder listed only in part holds at least that much
            label.append(f"  {'≥ ' if entry.cut else ''}{size_text(entry.size)}", "dim")
        return label

    # -- preview -----------------------------------------------------------------------------

    def action_preview(self) -> None:
        node = self.query_one(ArtifactTreeWidget).cursor_node
        if node is None or node.data is None:
            return
        if node.data.kind == "folder":
            node.toggle()
            return
        self.preview(node.data)

    @on(Tree.NodeHighlighted)
    @on(Tree.NodeExpanded)
    @on(Tree.NodeCollapsed)
    def _own_tree(self, message) -> None:
        message.stop()  # the main screen's tree handlers are for the runs' tree

    @on(Tree.NodeSelected)
    def _selected(self, message: Tree.NodeSelected) -> None:
        message.stop()
        entry = message.node.data
        if entry is not None and entry.kind != "folder":
            self.preview(entry)

    def preview(self, entry: ArtifactEntry) -> None:
        self.previewed, self.tail, self.kind, self.text = entry, None, None, ""
        if entry.kind == "symlink":
            self._say(f"{entry.path}: a symlink; not read (tuitrack never reads through a symlink)", error=True)
            return
        if entry.kind == "other":
            self._say(f"{entry.path}: not a regular file (a FIFO or a device); not read", error=True)
            return
        self._title(entry, "reading…")
        self._drop_picture()  # not under another file's title
        if self.source is not None:
            self._read(self.source, entry)

    @work(thread=True, exclusive=True, group="artifacts-preview", exit_on_error=False)
    def _read(self, source: ArtifactSource, entry: ArtifactEntry) -> None:
        try:
            head = source.read(entry.path, 0, HEAD_BYTES)
            kind = guess(entry.path, head.data)
            chunk, picture = head, None
            if kind.kind == "image" and pictures.picture_widget() is not None:
                picture = self._picture(source, entry, kind, head)
            elif kind.kind == "table" and not head.whole:  # a table's start: its header, its first rows
                chunk = source.read(entry.path, 0, READ_BOUND)
            elif kind.kind == "text" and not head.whole:  # a large text: its end, as `tail` shows it
                chunk = source.read(entry.path, -READ_BOUND, READ_BOUND)
                if guess(entry.path, chunk.data[-HEAD_BYTES:]).kind == "binary":
                    kind = Kind("binary", "binary data")
        except StoreError as exc:
            self.app.call_from_thread(self._read_failed, entry, str(exc))
            return
        self.app.call_from_thread(self._previewed, source, entry, kind, chunk, picture)

    @staticmethod
    def _picture(source: ArtifactSource, entry: ArtifactEntry, kind: Kind, head: Chunk):
        """The decoded picture of an image artifact, or why there is none (one line)."""
        why = pictures.refused(head.size if head.size is not None else entry.size, kind.dimensions)
        if why:
            return why
        whole = head if head.whole else source.read(entry.path, 0, pictures.MAX_IMAGE_BYTES)
        if not whole.whole:  # it grew past the bound, or the server does not say its size
            return pictures.refused(pictures.MAX_IMAGE_BYTES + 1, None)
        try:
            return pictures.decode(whole.data)
        except pictures.PictureError as exc:
            return str(exc)

    def _read_failed(self, entry: ArtifactEntry, error: str) -> None:
        if entry is self.previewed:
            self._say(error, error=True)

    def _previewed(self, source: ArtifactSource, entry: ArtifactEntry, kind: Kind, chunk: Chunk,
                   picture=None) -> None:
        if entry is not self.previewed or source is not self.source:
            return
        self.kind = kind
        size = chunk.size if chunk.size is not None else entry.size
        if kind.kind == "image":
            pixels = f", {kind.dimensions[0]} x {kind.dimensions[1]} pixels" if kind.dimensions else ""
            self._title(entry, f"{kind.what}{pixels}, {size_text(size) or 'size unknown'}")
            widget = pictures.picture_widget()
            if widget is None:
                self._body(Text(pictures.why_no_picture(), "dim"))
            elif isinstance(picture, str):
                self._body(store_text(f"{kind.what}{pixels}: {picture}", "dim"))
            else:
                self._body(Text(""))
                pane = self.query_one("#artifact-preview-pane", Vertical)
                self.query_one("#artifact-preview", VerticalScroll).display = False
                pane.mount(widget(picture, classes="artifact-picture"))
            return
        if kind.kind == "binary":
            self._title(entry, kind.what)
            self._body(Text(f"{kind.what}, {size_text(size) or 'size unknown'}: binary, not shown.", "dim"))
            return
        self.text = last_lines(chunk_text(chunk), SHOWN_LINES)
        # A preview that holds the file's end follows it as it grows.
        if chunk.size is None or chunk.end >= chunk.size:
            self.tail = ArtifactTail(source, entry.path, chunk.end)
        self.part = "last" if chunk.start > 0 else "" if chunk.size is None or chunk.end >= chunk.size else "first"
        self._show_text(size)
        scroll = self.query_one("#artifact-preview", VerticalScroll)
        if self.part == "last" or not kind.language:  # a log (plain text) opens at its end, as `tail` shows it
            self.call_after_refresh(scroll.scroll_end, animate=False)
        else:
            scroll.scroll_home(animate=False)

    def _show_text(self, size: int | None) -> None:
        entry, kind = self.previewed, self.kind
        assert entry is not None and kind is not None
        part = f"{self.part} {format_bytes(len(self.text.encode()))} of " if self.part else ""
        self._title(entry, f"{kind.what}, {part}{size_text(size)}", following=self.tail is not None)
        self._body(self._rendered(self.text, kind))

    @staticmethod
    def _rendered(text: str, kind: Kind) -> RenderableType:
        shown = visible(text, newlines=True)
        if kind.kind == "table":
            table = _csv_table(text, kind.delimiter)
            if table is not None:
                return table
        if kind.language and len(shown) <= COLOURED_CHARS:
            return Syntax(shown, kind.language, theme="ansi_dark", background_color="default", word_wrap=False)
        return Text(shown)

    # -- following ---------------------------------------------------------------------------

    def action_toggle_follow(self) -> None:
        if self.tail is not None:
            self.tail = None
        elif self.previewed is not None:
            self.preview(self.previewed)  # read the end again, then follow it
            return
        if self.previewed is not None and self.kind is not None and self.kind.kind in ("text", "table"):
            self._show_text(self.previewed.size)

    def _follow(self) -> None:
        if self.tail is None or not self.display or self.source is None:
            return
        if any(w.group == "artifacts-tail" and w.is_running for w in self.workers):
            return
        now = time.monotonic()
        if now - self._last_look < self.source.follow_every - FOLLOW_EVERY / 2:
            return
        self._last_look = now
        self._poll(self.tail)

    @work(thread=True, exclusive=True, group="artifacts-tail", exit_on_error=False)
    def _poll(self, tail: ArtifactTail) -> None:
        try:
            news = tail.poll()
        except StoreError:
            return  # gone for now (rotated, the server down): the next look tries again
        if news is not None:
            self.app.call_from_thread(self._appended, tail, news)

    def _appended(self, tail: ArtifactTail, news: TailNews) -> None:
        if tail is not self.tail or self.previewed is None:
            return
        scroll = self.query_one("#artifact-preview", VerticalScroll)
        at_end = scroll.scroll_y >= scroll.max_scroll_y
        text = news.text if news.restarted else self.text + news.text
        self.text = last_lines(text, SHOWN_LINES)
        if len(self.text) > READ_BOUND:  # one huge line: its end
            self.text = self.text[-READ_BOUND:]
        if news.restarted or len(self.text) < len(text):
            self.part = "last"
        if news.size is not None:
            self.previewed.size = news.size
        self._show_text(self.previewed.size)
        if at_end:
            self.call_after_refresh(scroll.scroll_end, animate=False)

    # -- copying -----------------------------------------------------------------------------

    def action_copy_path(self) -> None:
        node = self.query_one(ArtifactTreeWidget).cursor_node
        entry = node.data if node is not None and node.data is not None else self.previewed
        if entry is None or self.source is None:
            return
        where = self.source.location_of(entry.path)
        self.app.copy_to_clipboard(where)
        self.notify(f"Copied {where}", timeout=2)

    # -- drawing -----------------------------------------------------------------------------

    def _title(self, entry: ArtifactEntry, what: str, following: bool = False) -> None:
        """One line: `● ` while followed like `tail -f`, the path, what it is."""
        title = Text("● ", "green") if following else Text()
        title.append_text(store_text(entry.path))
        title.append(f"  {what}", "dim")
        title.no_wrap, title.overflow = True, "ellipsis"
        self.query_one("#artifact-preview-title", Static).update(title)

    def _body(self, renderable: RenderableType) -> None:
        """Show `renderable` in the preview (a picture shown before goes)."""
        self._drop_picture()
        self.query_one("#artifact-preview-body", Static).update(renderable)

    def _drop_picture(self) -> None:
        self.query(".artifact-picture").remove()
        self.query_one("#artifact-preview", VerticalScroll).display = True

    def _say(self, text: str, error: bool = False) -> None:
        self.query_one("#artifact-preview-title", Static).update("")
        self._body(store_text(text, "red" if error else "dim", newlines=True))


def _csv_table(text: str, delimiter: str) -> RenderableType | None:
    """The first rows of a CSV (or TSV) as a table of store text; None if it does not parse."""
    try:
        rows = []
        for row in csv.reader(io.StringIO(text), delimiter=delimiter):
            rows.append(row[:TABLE_COLUMNS])
            if len(rows) > TABLE_ROWS:
                break
    except csv.Error:
        return None
    if not rows:
        return None
    table = Table(box=None, pad_edge=False, header_style="bold")
    for cell in rows[0]:  # headers and cells as Text: a plain string would be read as markup
        table.add_column(store_text(cell))
    for row in rows[1:TABLE_ROWS + 1]:
        table.add_row(*[store_text(cell) for cell in row])
    more = len(rows) > TABLE_ROWS + 1
    return Group(table, Text(f"(first {TABLE_ROWS} rows)", "dim")) if more else table


def _shape(listed: ArtifactTree, sizes: bool = True) -> list[tuple]:
    """What a listing shows (every entry's path, kind, size and cut), to tell whether it changed."""
    shape, stack = [tuple(listed.cut)], [listed.root]
    while stack:
        entry = stack.pop()
        shape.append((entry.path, entry.kind, entry.size if sizes else None, entry.cut))
        stack.extend(entry.children or ())
    return shape
