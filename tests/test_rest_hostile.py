"""A tracking server is untrusted input: what a hostile one on 127.0.0.1 can do to tuitrack.

Credentials never leave the server's origin, a change is never reported done unless MLflow's
answer came, every request ends by its deadline whatever the server sends (or does not), answers
and listings are capped, and any JSON shape gives a one-line error or a problem on the run.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from tests.hostile_server import EXPERIMENTS, HostileServer, Request, experiments_then, mlflow_run
from tuitrack.cli import main
from tuitrack.model import Run
from tuitrack.store import StoreError
from tuitrack.store.mlflow_rest import client as rest_client
from tuitrack.store.mlflow_rest import store as rest_store
from tuitrack.store.mlflow_rest.client import MlflowHttp
from tuitrack.store.mlflow_rest.store import MlflowRestStore

RUN_ID = "a" * 32
AUTH = {
    "bearer": ({"MLFLOW_TRACKING_TOKEN": "s3cret"}, "Bearer s3cret"),
    "basic": ({"MLFLOW_TRACKING_USERNAME": "ann", "MLFLOW_TRACKING_PASSWORD": "pw"}, "Basic YW5uOnB3"),
}


@pytest.fixture
def servers():
    started: list[HostileServer] = []

    def start(behave) -> HostileServer:
        started.append(HostileServer(behave).start())
        return started[-1]

    yield start
    for server in started:
        server.stop()


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch):
    monkeypatch.setattr(rest_client, "BACKOFF_S", 0.01)


def store_on(server: HostileServer, **env: str) -> MlflowRestStore:
    return MlflowRestStore(server.url, http=MlflowHttp(server.url, env={"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1", **env}))


def one_line(exc: pytest.ExceptionInfo) -> str:
    text = str(exc.value)
    assert "\n" not in text and "Traceback" not in text
    return text


# -- redirects ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("auth", AUTH)
@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_to_another_origin_gets_no_credentials(servers, auth, status):
    env, header = AUTH[auth]
    elsewhere = servers(lambda r: r.send(body={"run": mlflow_run()}))
    server = servers(experiments_then(lambda r: r.redirect(status, elsewhere.url + r.path)))
    store = store_on(server, **env)
    run = Run(RUN_ID, "1")
    with pytest.raises(StoreError, match="redirects runs/set-tag to another server, http://127.0.0.1"):
        store.set_tags(run, {"stage": "prod"})
    with pytest.raises(StoreError, match="redirects runs/get to another server"):
        store.get_run(RUN_ID)
    assert elsewhere.seen == []  # not a request, so no Authorization either
    assert [r.headers["Authorization"] for r in server.seen] == [header] * 3


@pytest.mark.parametrize("location", ["https://127.0.0.1:{port}/x", "http://localhost:{port}/x",
                                      "//127.0.0.2:{port}/x", "http://127.0.0.1:{other}/x"])
def test_another_scheme_host_or_port_is_another_origin(servers, location):
    server = servers(experiments_then(lambda r: r.redirect(302, location.format(
        port=r.server.url.rsplit(":", 1)[1], other=1))))
    with pytest.raises(StoreError, match="another server"):
        store_on(server, MLFLOW_TRACKING_TOKEN="t").set_note(Run(RUN_ID, "1"), "note")


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_redirect_on_the_same_origin_resends_the_post_as_it_was(servers, status):
    def behave(request: Request) -> None:
        if request.path.startswith("/moved/"):
            request.send(body={})
        else:
            request.redirect(status, "/moved" + request.path)

    server = servers(experiments_then(behave))
    store_on(server, **AUTH["basic"][0]).set_tags(Run(RUN_ID, "1"), {"stage": "prod"})
    first, second = server.requests_to("runs/set-tag")
    assert (second.method, second.path, second.body) == ("POST", "/moved" + first.path, first.body)
    assert json.loads(second.body) == {"run_id": RUN_ID, "key": "stage", "value": "prod"}
    assert second.headers["Authorization"] == AUTH["basic"][1]


def test_a_post_answered_with_see_other_is_not_a_success(servers):
    server = servers(experiments_then(lambda r: r.redirect(303, "/done")))
    with pytest.raises(StoreError, match=r"redirect \(HTTP 303\) instead of MLflow's answer; the change may not"):
        store_on(server).delete_run(Run(RUN_ID, "1"))
    assert [r.method for r in server.seen] == ["POST", "POST"]  # never a GET of /done


def test_redirects_without_end_or_without_location(servers):
    server = servers(experiments_then(lambda r: r.redirect(307, r.path)))
    with pytest.raises(StoreError, match="redirects runs/get more than 5 times"):
        store_on(server).get_run(RUN_ID)
    server = servers(experiments_then(lambda r: r.send(302, b"")))
    with pytest.raises(StoreError, match="without saying where"):
        store_on(server).get_run(RUN_ID)
    server = servers(experiments_then(lambda r: r.redirect(302, "/a b\x01")))
    with pytest.raises(StoreError, match="cannot send runs/get .*can't contain control characters"):
        store_on(server).get_run(RUN_ID)


# -- answers without MLflow's payload --------------------------------------------------------------------

@pytest.mark.parametrize("body", [b"<html>login</html>", b"", b"[]", b'"ok"', b"null", b"[" * 100_000])
def test_a_change_answered_without_mlflows_answer_is_an_error(servers, body):
    server = servers(experiments_then(lambda r: r.send(200, body)))
    with pytest.raises(StoreError, match="is this an MLflow tracking server") as exc:
        store_on(server).set_tags(Run(RUN_ID, "1"), {"stage": "prod"})
    assert "runs/set-tag" in one_line(exc)


def test_an_empty_object_is_mlflows_answer_to_a_change(servers):
    server = servers(experiments_then(lambda r: r.send(200, b"{}")))
    store_on(server).set_tags(Run(RUN_ID, "1"), {"stage": "prod"})
    assert len(server.requests_to("runs/set-tag")) == 1


@pytest.mark.parametrize("answer, message", [
    ({}, "the answer has no `run`"),
    ({"run": None}, "not a JSON object with an `info` object"),
    ({"run": {"info": {"run_id": "b" * 32}}}, "asked for run a{32}, the server sent 'b{32}'"),
])
def test_runs_get_needs_the_run_asked_for(servers, answer, message):
    server = servers(experiments_then(lambda r: r.send(body=answer)))
    with pytest.raises(StoreError, match=message):
        store_on(server).get_run(RUN_ID)


# -- paging --------------------------------------------------------------------------------------------

def paging(tokens):
    """runs/search answers: one run a page, each with the next token from `tokens`."""
    count = iter(range(10**9))

    def behave(request: Request) -> None:
        page = {"runs": [mlflow_run(f"{next(count):032x}")]}
        token = tokens(request)
        request.send(body={**page, **({"next_page_token": token} if token else {})})
    return experiments_then(behave)


def test_a_token_that_never_ends_stops_at_the_page_cap(servers, monkeypatch):
    monkeypatch.setattr(rest_store, "MAX_PAGES", 7)
    count = iter(range(10**9))
    server = servers(paging(lambda r: f"t{next(count)}"))
    with pytest.raises(StoreError, match="the server keeps paging: still a next_page_token after 7 pages") as exc:
        store_on(server).search_runs(["1"])
    one_line(exc)
    assert len(server.requests_to("runs/search")) == 7


def test_a_repeated_token_is_an_error(servers):
    server = servers(paging(lambda r: "same"))
    with pytest.raises(StoreError, match="keeps paging: it sent the same next_page_token twice"):
        store_on(server).search_runs(["1"])
    assert len(server.requests_to("runs/search")) == 2


def test_a_page_without_runs_that_promises_more_is_an_error(servers):
    server = servers(experiments_then(lambda r: r.send(body={"next_page_token": "more"})))
    with pytest.raises(StoreError, match="a page without runs and a next_page_token"):
        store_on(server).search_runs(["1"])


def test_more_items_than_a_listing_holds_is_an_error(servers, monkeypatch):
    monkeypatch.setattr(rest_store, "MAX_PAGES", 2)
    monkeypatch.setattr(rest_store, "PAGE", 3)
    server = servers(experiments_then(lambda r: r.send(body={"runs": [mlflow_run(f"{i:032x}") for i in range(7)]})))
    with pytest.raises(StoreError, match="sent more than 6 runs"):
        store_on(server).search_runs(["1"])


def test_histories_page_with_the_same_caps(servers, monkeypatch):
    monkeypatch.setattr(rest_store, "MAX_PAGES", 3)

    def behave(request: Request) -> None:
        token = request.path.split("page_token=")[-1] if "page_token=" in request.path else "0"
        request.send(body={"metrics": [{"key": "loss", "value": 1.0, "timestamp": 1, "step": int(token)}],
                           "next_page_token": str(int(token) + 1)})

    server = servers(experiments_then(behave))
    store = store_on(server)
    with pytest.raises(StoreError, match=r"metrics/get-history\): the server keeps paging"):
        store.metric_history(Run(RUN_ID, "1"), "loss")
    assert len(server.requests_to("metrics/get-history")) == 3


# -- time: slow, hung and cut-short answers --------------------------------------------------------------

@pytest.mark.parametrize("in_headers", [False, True], ids=["body", "headers"])
def test_a_dripping_server_ends_at_the_deadline(servers, in_headers):
    """A byte every 0.2 s keeps each read well inside any per-read timeout; only a deadline for
    the whole answer ends it (the server gives up after 30 s with a different error)."""
    server = servers(experiments_then(lambda r: r.drip(0.2, in_headers=in_headers)))
    store = store_on(server, MLFLOW_HTTP_REQUEST_TIMEOUT="1")
    with pytest.raises(StoreError, match=r"no complete answer to runs/search within 1s \(MLFLOW_HTTP_REQUEST_TIMEOUT\)"):
        store.search_runs(["1"])
    assert len(server.requests_to("runs/search")) == 1  # out of time is not tried again
    assert server.hung_up.wait(5)  # and tuitrack hung up: the server's next byte failed


def test_a_connection_closed_mid_answer_is_tried_again_then_an_error(servers):
    server = servers(experiments_then(lambda r: r.send(body=b'{"runs": [', length=1000)))
    with pytest.raises(StoreError, match=r"closed the connection in the middle of its answer; 2 tries"):
        store_on(server).search_runs(["1"])
    assert len(server.requests_to("runs/search")) == 2


def test_close_stops_a_call_waiting_on_a_hung_server(servers):
    server = servers(experiments_then(Request.hang))
    store = store_on(server, MLFLOW_HTTP_REQUEST_TIMEOUT="600")
    failed = []

    def call():
        try:
            store.search_runs(["1"])
        except StoreError as exc:
            failed.append(str(exc))

    caller = threading.Thread(target=call)
    caller.start()
    assert server.hanging.wait(10)
    store.close()
    caller.join(timeout=10)
    assert not caller.is_alive() and failed == [f"{server.url}: closed (tuitrack is quitting)"]
    with pytest.raises(StoreError, match="closed"):
        store.experiments()
    assert len(server.seen) == 2  # nothing sent after close


# -- size --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("say_length", [True, False])
def test_an_answer_over_the_cap_is_an_error(servers, monkeypatch, say_length):
    monkeypatch.setattr(rest_client, "MAX_ANSWER_BYTES", 2**20)
    chunk = b" " * 65536
    if say_length:
        server = servers(experiments_then(lambda r: r.send(body=b"{" + chunk * 40 + b"}")))
    else:
        server = servers(experiments_then(lambda r: r.stream(iter(lambda: chunk, None))))  # endless
    with pytest.raises(StoreError, match=r"the answer to runs/search is over 1 MiB, the most tuitrack reads"):
        store_on(server).search_runs(["1"])
    assert len(server.requests_to("runs/search")) == 1


def serve_huge(request: Request) -> None:
    """300 MB of one run's tags, streamed without Content-Length."""
    if request.endpoint == "experiments/search":
        return request.send(body=EXPERIMENTS)
    tag = json.dumps({"key": "k", "value": "v" * 1000}).encode() + b","
    request.stream(iter([b'{"runs": [{"info": {"run_id": "x"}, "data": {"tags": [']
                        + [tag * 1000] * 300 + [b"]}}]}"]))


def test_a_300_mb_answer_fails_cleanly_in_bounded_memory(servers, capsys):
    """`ls` in a process limited to 400 MB of address space; its peak memory is printed."""
    server = servers(serve_huge)
    limit = 400 * 2**20
    script = textwrap.dedent(f"""
        import resource, sys
        resource.setrlimit(resource.RLIMIT_AS, ({limit}, {limit}))
        from tuitrack.cli import main
        code = main(["ls", {server.url!r}])
        peak = [line for line in open("/proc/self/status") if line.startswith("VmHWM:")][0]
        print(peak.strip(), file=sys.stderr)  # ru_maxrss would count pytest's memory (vfork)
        sys.exit(code)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                          env={"MALLOC_ARENA_MAX": "2", "PATH": "/usr/bin:/bin"})
    message, peak = done.stderr.strip().splitlines()
    assert done.returncode == 2, done.stderr
    assert message == (f"tuitrack: {server.url}: the answer to runs/search is over 64 MiB, "
                       f"the most tuitrack reads of one answer")
    with capsys.disabled():
        print(f"\n300 MB answer: ls peak RSS {int(peak.split()[1]) // 1024} MiB (RLIMIT_AS 400 MiB)")


# -- JSON shapes ---------------------------------------------------------------------------------------------

RUN_SHAPES = {
    "answer is a list": b"[1, 2]",
    "runs is an object": b'{"runs": {"a": 1}}',
    "runs holds a string": b'{"runs": ["run"]}',
    "run without info": b'{"runs": [{"data": {}}]}',
    "info is a list": b'{"runs": [{"info": []}]}',
    "run id is null": b'{"runs": [{"info": {"run_id": null}}]}',
    "run id is an object": b'{"runs": [{"info": {"run_id": {"x": 1}}}]}',
    "run id is huge": b'{"runs": [{"info": {"run_id": "' + b"a" * 10_000 + b'"}}]}',
    "token is a number": b'{"runs": [], "next_page_token": 5}',
    "huge number": b'{"runs": [], "x": ' + b"9" * 5000 + b"}",
    "deep nesting": b'{"runs": ' + b"[" * 50_000 + b"]" * 50_000 + b"}",
    "invalid utf-8": b'{"runs": ["\xff\xfe"]}',
}


@pytest.mark.parametrize("body", RUN_SHAPES.values(), ids=RUN_SHAPES.keys())
def test_an_unusable_listing_is_a_one_line_error(servers, body, capsys):
    server = servers(experiments_then(lambda r: r.send(body=body)))
    with pytest.raises(StoreError) as exc:
        store_on(server).search_runs(["1"])
    assert one_line(exc).startswith(server.url)
    assert main(["ls", server.url]) == 2
    err = capsys.readouterr().err
    assert err.startswith("tuitrack: ") and err.count("\n") == 1 and "Traceback" not in err


ODD_FIELDS = {
    "status": ({"status": 5}, "status 5, not an MLflow run status"),
    "unknown status": ({"status": "DONE"}, "status 'DONE', not an MLflow run status"),
    "start_time": ({"start_time": "yesterday"}, "start_time 'yesterday', not a time in milliseconds"),
    "end_time": ({"end_time": [1]}, "end_time a list of 1, not a time"),
    "run_name": ({"run_name": {"a": 1}}, "run_name as a JSON object"),
    "lifecycle": ({"lifecycle_stage": "gone"}, "lifecycle_stage 'gone' is unknown"),
    "tags": ({"data": {"tags": "x=y"}}, "tags as a JSON string, not a list"),
    "tag value": ({"data": {"tags": [{"key": "k", "value": 3}]}}, "an entry of tags that is not a string key"),
    "params": ({"data": {"params": [1, {"key": "p", "value": "v"}]}}, "1 entries of params that are not objects"),
    "metric value": ({"data": {"metrics": [{"key": "m", "value": "abc"}]}}, "metric point .* is not a value"),
    "metric key": ({"data": {"metrics": [{"key": None, "value": 1}]}}, "a metric whose key is a JSON null"),
    "data": ({"data": [1]}, "`data` is a JSON list, not an object"),
    "long name": ({"run_name": "n" * 100_000}, "'run_name' of 100,000 characters; tuitrack keeps the first 65,536"),
    "long tag": ({"data": {"tags": [{"key": "k", "value": "v" * 70_000}]}}, "'k' of 70,000 characters"),
}


@pytest.mark.parametrize("odd, problem", ODD_FIELDS.values(), ids=ODD_FIELDS.keys())
def test_an_odd_field_is_a_problem_on_that_run_only(servers, odd, problem):
    data = odd.pop("data", {})
    bad = {**mlflow_run("b" * 32, **odd), "data": data}
    good = mlflow_run("c" * 32)
    good["data"] = {"params": [{"key": "lr", "value": "0.1"}],
                    "metrics": [{"key": "loss", "value": "NaN", "timestamp": "5", "step": "2"}]}
    server = servers(experiments_then(lambda r: r.send(body={"runs": [bad, good]})))
    runs = {r.run_id: r for r in store_on(server).search_runs(["1"])}
    assert [p.where for p in runs["b" * 32].problems] == [f"runs/{'b' * 32}"]
    assert runs["b" * 32].problems[0].message.startswith("the server sent ")
    assert re.search(problem, runs["b" * 32].problems[0].message)
    assert runs["c" * 32].problems == [] and runs["c" * 32].params == {"lr": "0.1"}
    loss = runs["c" * 32].metrics["loss"]
    assert (loss.timestamp, loss.step) == (5, 2) and loss.value != loss.value  # NaN


def test_odd_experiments_list_with_a_problem(servers):
    answer = {"experiments": [{"experiment_id": 7, "name": ["x"], "lifecycle_stage": "active",
                               "tags": [{"key": "k", "value": "v"}], "creation_time": "12"}]}
    server = servers(lambda r: r.send(body=answer))
    (experiment,) = store_on(server).experiments()
    assert (experiment.experiment_id, experiment.name, experiment.tags, experiment.creation_time) == ("7", "", {"k": "v"}, 12)
    assert [p.message for p in experiment.problems] == ["the server sent name as a JSON list, not a string"]


def test_an_unreadable_history_point_is_an_error(servers):
    server = servers(experiments_then(lambda r: r.send(body={"metrics": [{"value": 1, "step": 1}, {"value": "x"}]})))
    with pytest.raises(StoreError, match=r"get-history\): the server sent metric point .* is not a value") as exc:
        store_on(server).metric_history(Run(RUN_ID, "1"), "loss")
    one_line(exc)


def test_a_huge_error_message_is_cut_short(servers):
    server = servers(experiments_then(lambda r: r.send(400, {"error_code": "INVALID_PARAMETER_VALUE",
                                                               "message": "m" * 100_000})))
    with pytest.raises(StoreError, match=r"m{300} \(INVALID_PARAMETER_VALUE\)$"):
        store_on(server).search_runs(["1"])



# -- the app ---------------------------------------------------------------------------------------------------

QUIT_SCRIPT = r"""
import sys, time
from tuitrack.app.app import TuitrackApp
from tuitrack.store import open_store

async def press_q_once_the_server_hangs(pilot):
    while not open(sys.argv[2]).read():  # the server writes this file once a request hangs
        await pilot.pause(0.05)
    sys.__stdout__.write("pressing q\n")  # print() is Textual's while the app runs
    sys.__stdout__.flush()
    await pilot.press("q")

TuitrackApp(open_store(sys.argv[1])).run(headless=True, auto_pilot=press_q_once_the_server_hangs)
"""


@pytest.mark.parametrize("how", ["hangs", "drips"])
def test_q_quits_at_once_whatever_the_server_does(servers, tmp_path, how, capsys):
    """The real app in its own process (Python joins worker threads before it exits, which a test
    inside pytest's event loop would not show): q while the listing waits on the server."""
    flag = tmp_path / "hanging"
    flag.write_text("")

    def behave(request: Request) -> None:
        flag.write_text("yes")
        request.hang() if how == "hangs" else request.drip(0.5, give_up_s=60)

    server = servers(experiments_then(behave))
    child = subprocess.Popen([sys.executable, "-c", QUIT_SCRIPT, server.url, str(flag)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env={"PATH": "/usr/bin:/bin",
                                                                     "MLFLOW_HTTP_REQUEST_TIMEOUT": "60"})
    try:
        assert child.stdout.readline() == "pressing q\n", child.stderr.read()
        pressed = time.monotonic()
        child.wait(timeout=30)
        quit_s = time.monotonic() - pressed
    finally:
        child.kill()
    errors = child.stderr.read()
    assert child.returncode == 0 and "Traceback" not in errors, errors
    with capsys.disabled():
        print(f"\nq while the server {how}: the process ended {quit_s:.2f}s later")
    assert quit_s < 3, f"q took {quit_s:.1f}s"  # generous: well under a second is expected
