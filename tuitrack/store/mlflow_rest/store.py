"""An MLflow tracking server as a tuitrack store, over MLflow's REST API.

Reads page through `runs/search` (1,000 runs a page) and `experiments/search`; changes use the
endpoints MLflow's own client calls (`runs/set-tag`, `runs/update`, `runs/delete`...), so the server
applies its own rules and permissions. MLflow's REST API has no purge: that is `mlflow gc`, run
where the server's database is.

Live by polling (see `RunPoller`): every call of `changes` asks the server only for runs that
can have changed, and every tenth call for everything.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, TypeVar

from tuitrack.model import RUN_NAME_TAG, Experiment, MetricPoint, Run, RunStatus
from tuitrack.store.artifacts.remote import RestArtifacts
from tuitrack.store.base import (
    MIN_PREFIX,
    Change,
    MetricHistory,
    PurgeResult,
    RunNotFound,
    Store,
    StoreError,
    refuse_ambiguous,
)
from tuitrack.store.mlflow_rest.answers import (
    BadAnswer,
    experiment_from_json,
    field_list,
    history_point,
    page_token,
    run_from_json,
)
from tuitrack.store.mlflow_rest.client import MlflowHttp, NotFoundOnServer
from tuitrack.store.mlflow_rest.polling import RunPoller
from tuitrack.store.mlflow_rules import ChangeRefused, check_user_tag, validate_key

PAGE = 1000
HISTORY_PAGE = 25_000
T = TypeVar("T")
MAX_PAGES = 200  # of one listing: 200,000 runs or experiments, 5,000,000 points of one metric
DEFAULT_POLL_S = 2.0


class MlflowRestStore(Store):
    """`location` is the server's URL, e.g. http://127.0.0.1:5000 (a path prefix is kept)."""

    default_experiment_id = "0"

    def __init__(self, url: str, location: str | None = None, http: MlflowHttp | None = None):
        self.location = location or url
        self.http = http or MlflowHttp(url)
        self.ask_every = DEFAULT_POLL_S
        self.measures_disk = False  # the server's disk is not ours to walk
        self._poller = RunPoller(self)
        self.experiments()  # fail now, with a clear message, if the server is not there

    # -- reading ------------------------------------------------------------------------------

    def artifacts(self, run: Run) -> RestArtifacts:
        """The server lists and sends a run's artifacts wherever it keeps them."""
        return RestArtifacts(self.http, run.run_id, run.artifact_uri)

    def experiments(self, include_deleted: bool = False) -> list[Experiment]:
        found = []
        where = f"{self.location} (experiments/search)"
        for experiment in self._pages("experiments/search", {"view_type": "ALL"}, "experiments", PAGE,
                                      lambda item: experiment_from_json(item, where)):
            if include_deleted or not experiment.is_deleted:
                found.append(experiment)
        return sorted(found, key=lambda e: int(e.experiment_id) if e.experiment_id.isdigit() else 0)

    def runs(self, experiment: Experiment, include_deleted: bool = False, with_data: bool = True) -> list[Run]:
        return [run for _, run in self.all_runs([experiment], include_deleted, with_data)]

    def all_runs(self, experiments: list[Experiment], include_deleted: bool = False,
                 with_data: bool = True) -> list[tuple[Experiment, Run]]:
        by_id = {e.experiment_id: e for e in experiments}
        if not by_id:
            return []
        runs = self.search_runs(list(by_id), view="ALL" if include_deleted else "ACTIVE_ONLY")
        self._poller.remember(runs)
        return [(by_id[r.experiment_id], r) for r in runs if r.experiment_id in by_id]

    def search_runs(self, experiment_ids: list[str], view: str = "ALL", filter_string: str = "") -> list[Run]:
        body: dict[str, Any] = {"experiment_ids": experiment_ids, "run_view_type": view}
        if filter_string:
            body["filter"] = filter_string
        where = f"{self.location} (runs/search)"
        return self._pages("runs/search", body, "runs", PAGE, lambda item: run_from_json(item, where))

    def _pages(self, endpoint: str, body: dict[str, Any], field: str, size: int, read: Callable[[Any], T]) -> list[T]:
        return self._paged(endpoint, lambda token: self.http.post(
            endpoint, {**body, "max_results": size, **({"page_token": token} if token else {})}), field, size, read)

    def _paged(self, endpoint: str, ask: Callable[[str | None], dict[str, Any]], field: str, size: int,
               read: Callable[[Any], T]) -> list[T]:
        """Every item of a paged listing, each `read` from its JSON as its page comes, asking for
        pages of `size` until no next_page_token comes. A server that keeps paging (a token seen
        before, more than MAX_PAGES pages or their items, a page without items that promises
        another) is an error, not an endless wait."""
        where = f"{self.location} ({endpoint})"
        items: list[T] = []
        seen: set[str] = set()
        token = None
        for _ in range(MAX_PAGES):
            answer = ask(token)
            page = field_list(answer, field, where)
            items += map(read, page)
            if len(items) > MAX_PAGES * size:
                raise BadAnswer(f"{where}: the server sent more than {MAX_PAGES * size:,} {field}, "
                                f"the most tuitrack reads of one listing")
            token = page_token(answer, where)
            if token is None:
                return items
            if not page:
                raise BadAnswer(f"{where}: the server sent a page without {field} and a next_page_token")
            if token in seen:
                raise BadAnswer(f"{where}: the server keeps paging: it sent the same next_page_token twice")
            seen.add(token)
        raise BadAnswer(f"{where}: the server keeps paging: still a next_page_token after {MAX_PAGES} pages "
                        f"of {size:,} {field}; tuitrack stops there")

    def get_run(self, run_id: str) -> Run:
        where = f"{self.location} (runs/get)"
        answer = self.http.get("runs/get", run_id=run_id)
        if "run" not in answer:
            raise BadAnswer(f"{where}: the answer has no `run`")
        run = run_from_json(answer["run"], where)
        if run.run_id != run_id:
            raise BadAnswer(f"{where}: asked for run {run_id}, the server sent {run.run_id[:40]!r}")
        return run

    def load_data(self, run: Run) -> None:
        """Nothing to fetch: every run this store hands out came from runs/search or runs/get,
        which return its params, tags and latest metrics (a request per run would cost the app
        one round trip per run at start)."""

    def read_run(self, experiment: Experiment, run_id: str) -> Run | None:
        fresh = self._poller.take(run_id)
        if fresh is not None:
            return fresh
        try:
            return self.get_run(run_id)
        except NotFoundOnServer:
            return None

    def find_run(self, run_id: str) -> Run:
        try:
            return self.get_run(run_id)
        except NotFoundOnServer:
            pass
        if len(run_id) < MIN_PREFIX:
            raise RunNotFound(f"no run {run_id!r} on {self.location}")
        ids = [e.experiment_id for e in self.experiments(include_deleted=True)]
        matches = [r for r in self.search_runs(ids) if r.run_id.startswith(run_id)]
        refuse_ambiguous(run_id, [r.run_id for r in matches])
        if not matches:
            raise RunNotFound(f"no run {run_id!r} on {self.location}")
        return matches[0]

    def latest_metric(self, run: Run, key: str) -> MetricPoint | None:
        return self.get_run(run.run_id).metrics.get(key)

    def last_write(self, run: Run) -> int | None:
        return max((p.timestamp for p in run.metrics.values()), default=run.start_time)

    def metric_history(self, run: Run, key: str) -> MetricHistory:
        history = MetricHistory(run_id=run.run_id, key=key, where=f"{run.run_id}/metrics/{key}")
        history.points = self._history(run.run_id, key)
        return history

    def read_new_points(self, history: MetricHistory) -> list[MetricPoint]:
        """The REST API has no "points since": the history is fetched again, and only what is new
        returned (all of it when the start differs: the metric was rewritten)."""
        points = self._history(history.run_id, history.key)
        old = history.points
        if points[:len(old)] == old or _same(points[:len(old)], old):
            new = points[len(old):]
            old.extend(new)
            return new
        history.points = points
        return points

    def _history(self, run_id: str, key: str) -> list[MetricPoint]:
        where = f"{self.location} (metrics/get-history)"
        return self._paged("metrics/get-history", lambda token: self.http.get(
            "metrics/get-history", run_id=run_id, metric_key=key, max_results=HISTORY_PAGE, page_token=token),
            "metrics", HISTORY_PAGE, lambda item: history_point(item, where))

    # -- live -----------------------------------------------------------------------------------

    def changes(self, paths: set[str]) -> list[Change]:
        return self._poller.poll()

    def close(self) -> None:
        self.http.close()

    # -- changes through the server's own endpoints --------------------------------------------

    def set_tags(self, run: Run, tags: dict[str, str], force: bool = False) -> None:
        for key in tags:
            validate_key(key)
            if key != RUN_NAME_TAG:
                check_user_tag(key, force)
        for key, value in tags.items():
            if key == RUN_NAME_TAG:
                self.rename_run(run, value)
            else:
                self.http.post("runs/set-tag", {"run_id": run.run_id, "key": key, "value": value})

    def delete_tags(self, run: Run, keys: list[str], force: bool = False) -> None:
        for key in keys:
            validate_key(key)
            check_user_tag(key, force)
        for key in keys:
            self.http.post("runs/delete-tag", {"run_id": run.run_id, "key": key})

    def set_note(self, run: Run, text: str) -> None:
        self.http.post("runs/set-tag", {"run_id": run.run_id, "key": "mlflow.note.content", "value": text})

    def rename_run(self, run: Run, name: str) -> None:
        if not name.strip():
            raise ChangeRefused("a run name cannot be empty")
        self.http.post("runs/update", {"run_id": run.run_id, "run_name": name})

    def delete_run(self, run: Run) -> None:
        self.http.post("runs/delete", {"run_id": run.run_id})

    def restore_run(self, run: Run) -> None:
        self.http.post("runs/restore", {"run_id": run.run_id})

    def terminate_run(self, run: Run, status: RunStatus, end_time: int | None) -> None:
        body: dict[str, Any] = {"run_id": run.run_id, "status": status.name}
        if end_time is not None:
            body["end_time"] = end_time
        self.http.post("runs/update", body)

    def delete_experiment(self, experiment: Experiment) -> None:
        self.http.post("experiments/delete", {"experiment_id": experiment.experiment_id})

    def restore_experiment(self, experiment: Experiment) -> None:
        self.http.post("experiments/restore", {"experiment_id": experiment.experiment_id})

    def cannot_purge(self) -> str | None:
        return (f"{self.location}: MLflow's REST API cannot purge; deleted runs stay until "
                f"`mlflow gc --backend-store-uri <the server's database>` runs on the server")

    def purge(self, runs: list[Run], experiments: list[Experiment]) -> PurgeResult:
        raise StoreError(self.cannot_purge())


def _same(a: list[MetricPoint], b: list[MetricPoint]) -> bool:
    """Equal point lists, NaN values counting as equal."""
    return len(a) == len(b) and all(
        p[0] == q[0] and p[2] == q[2] and (p[1] == q[1] or (math.isnan(p[1]) and math.isnan(q[1])))
        for p, q in zip(a, b))
