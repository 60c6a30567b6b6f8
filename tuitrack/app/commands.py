"""The command palette (ctrl+p): every action of the app, and a jump to any run or experiment."""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Matcher, Provider
from textual.content import Content

from tuitrack.app.store_text import store_content
from tuitrack.safe_text import visible

from tuitrack.formatting import shown_name

ACTIONS = [  # (title, help, action name on the main screen)
    ("Filter runs", "Narrow runs by name, id, param, tag or metric text", "filter"),
    ("Toggle deleted runs", "Show or hide deleted runs and trashed experiments", "toggle_deleted"),
    ("Copy run id", "Copy the selected run's id to the clipboard (OSC 52)", "copy_run_id"),
    ("Open run detail", "Show the selected run full screen", "open_detail"),
    ("Choose columns", "Pick the runs table's columns", "choose_columns"),
    ("Reload store", "Read the store again from disk", "reload"),
    ("Tag runs", "Set (key=value) or remove (-key) a tag on the marked runs", "tag"),
    ("Edit note", "Edit the run's note", "edit_note"),
    ("Rename run", "Rename the run", "rename"),
    ("Delete runs", "Soft-delete the marked runs (asks first; u undoes)", "delete"),
    ("Restore runs", "Restore deleted runs", "restore"),
    ("Purge runs", "Purge deleted runs for good (type purge)", "purge"),
    ("Mark stale runs killed", "Set stale RUNNING runs to KILLED", "kill_stale"),
    ("Prune runs", "Compose a retention policy, preview what it deletes, apply", "prune"),
    ("Compare marked runs", "Params, metrics and curves of the marked runs side by side", "compare"),
    ("Scatter: param against metric", "Which setting gave the best result, over the experiment's runs", "scatter"),
    ("Undo", "Undo the last change", "undo"),
    ("Export runs as CSV", "Write the runs the table shows to ./tuitrack-*.csv", "export('csv')"),
    ("Export runs as Markdown", "Write the runs the table shows to ./tuitrack-*.md", "export('md')"),
    ("Export runs as JSON", "Write the runs the table shows to ./tuitrack-*.json", "export('json')"),
    ("Mark all runs", "Mark every run the table shows", "mark_all"),
    ("Invert marks", "Invert the marks of the runs the table shows", "invert_marks"),
    ("Show plot / detail", "Switch between metric curves and the run's detail", "toggle_plot"),
    ("Show system metrics", "The run's CPU, memory, GPU, disk and network use, under the table (3)",
     "show_view('system')"),
    ("Help: keys", "Every key binding, grouped", "app.help"),
]


class TuitrackCommands(Provider):
    def _main(self):
        from tuitrack.app.screens.main import MainScreen

        for screen in self.app.screen_stack:
            if isinstance(screen, MainScreen):
                return screen
        return None

    def _commands(self):
        main = self._main()
        if main is None:
            return
        for title, help_text, action in ACTIONS:
            target = self.app if action.startswith("app.") else main
            name = action.removeprefix("app.")
            yield title, help_text, partial(target.run_action, name)
        for experiment in main.index.sorted_experiments():
            yield (f"Go to experiment: {experiment.name or experiment.experiment_id}",
                   f"id {experiment.experiment_id}",
                   partial(self._go_experiment, main, experiment.experiment_id))
        for run in main.index.all_runs():
            if run.is_deleted and not main.show_deleted:
                continue
            experiment = main.index.experiments.get(run.experiment_id)
            where = experiment.name or experiment.experiment_id if experiment else run.experiment_id
            yield (f"Go to run: {shown_name(run)} in {where}", f"id {run.run_id}",
                   partial(main.select_run, run.run_id))

    @staticmethod
    def _go_experiment(main, experiment_id: str) -> None:
        from tuitrack.app.widgets.run_tree import RunTree

        main.query_one(RunTree).select_experiment(experiment_id)

    async def discover(self) -> Hits:
        for title, help_text, callback in self._commands():
            if not title.startswith("Go to run"):
                yield DiscoveryHit(store_content(title), callback, text=visible(title),
                                   help=store_content(help_text))

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_text, callback in self._commands():
            score = max(matcher.match(title), matcher.match(help_text) * 0.8)
            if score > 0:
                yield Hit(score, _highlight(matcher, title), callback, text=visible(title),
                          help=store_content(help_text))


def _highlight(matcher: Matcher, title: str) -> Content:
    """`matcher.highlight` without its markup parsing (titles hold run and experiment names):
    the matched characters of the visible title in the match style."""
    shown = visible(title)
    content = Content(shown)
    score, offsets = matcher.fuzzy_search.match(matcher.query, shown)
    for offset in offsets if score else ():
        if not shown[offset].isspace():
            content = content.stylize(matcher.match_style, offset, offset + 1)
    return content
