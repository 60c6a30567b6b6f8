"""Issue 16's table: the app and `ls` on 2,000 / 10,000 / 50,000 runs, live, on two cores.

    python bench/bench_scale.py [--sizes 2000,10000,50000] [--quick] [--idle-seconds 20]
                                [--write-seconds 20] [--repeats 3] [--timeout 600] [--profile]

(about 1 minute for 2,000 runs, 1.5 for 10,000, 5-10 for 50,000 on the 2-core machine.)

Each store is N runs x 3 metrics x 10 steps in 20 experiments, written by `make_store.py` in
MLflow's exact format (1 run in 7 RUNNING with no end_time, long dead: the issue's ~7,000
RUNNING runs at 50k). Stores are cached under /tmp/tuitrack-bench/ (a `.done` file beside a
store says it is complete), so reruns skip generation. The page cache is warmed before timing
(the C reader below reads every file the app reads). Each app session runs headless (Textual's
`run_test`, 120x40) in a fresh Python process of its own, so memory and "next open" are honest.

The rows, in the issue's order (the target is printed beside each figure):

1. all data loaded, first open (s): from opening the store (imports done) to the screen's loader
   posting LoadingDone (`screen.loaded`). No cache exists yet, so "first" means the first process.
   The process's CPU seconds (all threads) are printed beside rows 1-3: on a loaded machine the
   wall times mostly measure the wait for a core, the CPU seconds what the app itself spends.
2. all data loaded, next open (s): the same, in a second fresh process on the same store, with
   the read cache the first wrote (each size gets a fresh $XDG_CACHE_HOME, so row 1 has none); the
   runs taken from the cache and those read again are printed beside it.
3. watching reached after first paint (s): from the tree first painted (`screen._painted`) to
   the status first saying `live (...)` (`screen.watch_mode`), which for a folder store watched
   with inotify comes before all data is loaded (live/follow.py: runs are watched as listed).
4. idle CPU once live (% of one core): process CPU time / wall time over --idle-seconds (60 s
   from 50,000 runs) with nothing writing, after the loader (disk sizes included) has finished.
   A periodic sweep is timed too (run once more, as the sweeper runs it, when none fell in the
   window; the sweeper waits 30 s, longer when a sweep costs more CPU): its CPU (thread time), wall
   time, and its share of a core averaged over its interval. The row shows the window's CPU
   without sweeps + that average.
5. CPU while 20 writers log 50 points/s each into 20 RUNNING runs (% of one core): the app's
   process only (the writers are other processes), over --write-seconds.
6. resident memory after loading (MiB): VmRSS, and the peak VmHWM, when `screen.loaded`; and
   VmRSS again once live and the loader's last part (disk sizes) is done.
7. `tuitrack ls --all --json` CPU (user+sys of the child and its workers, os.wait4) against
   `read_needed.c`, a C program compiled with `cc` into a temporary folder that opens and reads
   exactly the files ls needs (every meta.yaml, param and tag file, the last 4 KiB of every metric
   file) -- best of --repeats each, and the ratio: `ls --no-cache` (every file read, as the C program
   does), and `ls` through the cache a previous `ls` wrote (a stat per file instead of a read).
   --opens-only prints rows 1, 2 and 7 only (a few minutes at 50,000 runs).
8. append to index p95 with the 20 writers (ms; the issue's target is for 10,000 runs): each line's
   timestamp field is its write time; a line "arrived" when the app's index (`RunIndex.apply`)
   first holds that step or a later one as the metric's latest point. The screen repaints from
   that delta right after, so this is the screen's latency minus the repaint.

Also printed: each thread's share of a core while idle and while the writers write (from
/proc/self/task, by Python thread name; `--profile` adds a profile of the writes: every
thread's with yappi if it is installed, else the UI thread's with cProfile), the inotify watches the app holds once live, and whether it watches every run or
only the hot ones (`FolderWatcher.whole`). The writers' metric files are put back as they were
afterwards, so the cached store stays the same for the next run. Every wait has a timeout; the
50,000-run store takes minutes (progress goes to stderr). On a shared machine, say how loaded it
was (the load average is printed at the start and the end).
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

CACHE = Path("/tmp/tuitrack-bench")
EXPERIMENTS, METRICS, STEPS = 20, 3, 10
WRITERS, WRITE_RATE = 20, 50.0
WRITTEN_KEY = "loss"  # the metric every writer appends to (make_store's first key)

TARGETS = {  # row -> the target, as printed
    "first_open": "<= 10 s", "next_open": "<= 2 s", "live_after_paint": "<= 3 s", "idle_cpu": "<= 1 %",
    "write_cpu": "<= 8 %", "rss": "<= 250 MiB", "ls_ratio": "<= 2x", "append_p95": "<= 150 ms (10k)",
}

WRITER = textwrap.dedent("""
    import sys, time
    path, rate, seconds, step, start_at = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
    time.sleep(max(0.0, start_at - time.time()))
    began, first, interval = time.monotonic(), step, 1 / rate
    while time.monotonic() - began < seconds:
        with open(path, "a") as f:
            f.write(f"{int(time.time() * 1000)} {step * 0.001} {step}\\n")
        step += 1
        delay = began + (step - first) * interval - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    print(step - first)
""")


def progress(text: str) -> None:
    print(f"  [{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def thread_cpu() -> dict[str, float]:
    """CPU seconds (user+sys) of each thread of this process, by Python thread name (the kernel's
    name for threads Python did not start), from /proc/self/task/*/stat."""
    import threading

    names = {t.native_id: t.name for t in threading.enumerate()}
    tick = os.sysconf("SC_CLK_TCK")
    out: dict[str, float] = {}
    for task in Path("/proc/self/task").iterdir():
        try:
            stat = (task / "stat").read_text()
        except OSError:  # the thread ended meanwhile
            continue
        comm, fields = stat[stat.index("(") + 1 : stat.rindex(")")], stat[stat.rindex(")") + 2 :].split()
        name = names.get(int(task.name), comm)
        out[name] = out.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / tick
    return out


def cpu_by_thread(before: dict[str, float], after: dict[str, float], wall: float) -> dict[str, float]:
    """Each thread's share of one core between two `thread_cpu` readings (the busy ones)."""
    shares = {name: (after[name] - before.get(name, 0.0)) / wall for name in after}
    return {name: share for name, share in sorted(shares.items(), key=lambda kv: -kv[1]) if share >= 0.001}


def memory_mib() -> tuple[float, float]:
    """VmRSS and VmHWM of this process, in MiB."""
    fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def start_profile():
    """A CPU profile of every thread with yappi when it is installed (`pip install yappi`: not a
    dependency), else a cProfile of the UI thread (this one: run_test runs the app here)."""
    try:
        import yappi
    except ImportError:
        import cProfile

        profile = cProfile.Profile()
        profile.enable()
        return profile
    yappi.set_clock_type("cpu")
    yappi.clear_stats()
    yappi.start(builtins=True)
    return yappi


def stop_profile(profile, top: int = 40) -> str:
    """The profile's busiest functions, by own time and by time inside them."""
    import io

    text = io.StringIO()
    if getattr(profile, "__name__", "") == "yappi":
        profile.stop()
        stats = profile.get_func_stats()
        for key, title in (("tsub", "own CPU time"), ("ttot", "CPU time inside")):
            print(f"-- yappi, every thread, by {title}", file=text)
            for row in sorted(stats, key=lambda s: -getattr(s, key))[:top]:
                print(f"{row.tsub:8.3f} {row.ttot:8.3f} {row.ncall:8d}  {row.module}:{row.lineno} {row.name}",
                      file=text)
        for thread in profile.get_thread_stats():
            print(f"thread {thread.name} {thread.ttot:.3f} s", file=text)
        return text.getvalue()
    import pstats

    profile.disable()
    for order in ("tottime", "cumulative"):
        pstats.Stats(profile, stream=text).sort_stats(order).print_stats(top)
    return text.getvalue()


# -- one app session, in a process of its own ----------------------------------------------------


async def wait_for(predicate, timeout: float, what: str) -> float:
    """Seconds until `predicate()` holds; TimeoutError naming `what` after `timeout`."""
    start = time.perf_counter()
    while not predicate():
        if time.perf_counter() - start > timeout:
            raise TimeoutError(f"no {what} after {timeout:.0f} s")
        await asyncio.sleep(0.005)
    return time.perf_counter() - start


async def session(store: Path, args: argparse.Namespace) -> dict:
    """Open the app on `store`, time loading and watching, then (unless --open-only) idle CPU
    and the 20 writers. Returns the figures."""
    from tuitrack.app.app import TuitrackApp
    from tuitrack.live.inotify import FolderWatcher
    from tuitrack.model import RunStatus
    from tuitrack.store import open_store

    out: dict = {}
    started, cpu_started = time.perf_counter(), time.process_time()
    opened = open_store(str(store), cache=True)  # as `tuitrack STORE` opens it (its cache: $XDG_CACHE_HOME)
    app = TuitrackApp(opened)
    async with app.run_test(size=(120, 40)):
        screen = app.screen
        await wait_for(lambda: hasattr(screen, "_painted") and screen._painted.is_set(), args.timeout, "first paint")
        painted = time.perf_counter()
        out["first_paint"] = painted - started
        live_at: list[tuple[float, float]] = []  # (wall, CPU) when the status first said live

        async def watch_for_live() -> None:  # live may come before or after all data is loaded
            await wait_for(lambda: screen.watch_mode.startswith("live ("), args.timeout, "'live (' status")
            live_at.append((time.perf_counter(), time.process_time()))

        live_task = asyncio.ensure_future(watch_for_live())
        await wait_for(lambda: screen.loaded, args.timeout, "LoadingDone")
        out["loaded"] = time.perf_counter() - started
        out["loaded_cpu"] = time.process_time() - cpu_started  # all threads: less hostage to the load
        out["rss"], out["hwm"] = memory_mib()
        progress(f"loaded in {out['loaded']:.1f} s (first paint {out['first_paint']:.2f} s)")
        cache = opened.cache
        await wait_for(lambda: cache.finished, args.timeout, "the read cache saved")
        out["cache_hits"], out["cache_misses"], out["cache_note"] = cache.hits, cache.misses, cache.note
        if args.open_only:
            live_task.cancel()
            return out
        await live_task
        out["live_after_paint"] = live_at[0][0] - painted
        out["live_cpu"] = live_at[0][1] - cpu_started
        out["watch_mode"] = screen.watch_mode
        watcher = screen.follower.watcher
        if isinstance(watcher, FolderWatcher):
            out["watches"], out["whole"], out["refused"] = watcher.watches, watcher.whole, watcher.refused
        sweeper = screen.follower.sweeper  # the first sweep runs once the store is loaded
        await wait_for(lambda: sweeper.last_duration > 0 or not sweeper.works, args.timeout, "the first sweep")
        out["first_sweep_s"] = sweeper.last_duration
        progress(f"live {out['live_after_paint']:.1f} s after first paint: {screen.watch_mode}")

        await wait_for(lambda: not any(w.group == "loader" and not w.is_finished for w in app.workers),
                       args.timeout, "end of the loader (disk sizes)")
        out["rss_live"], out["hwm_live"] = memory_mib()
        sweeps: list[tuple[float, float]] = []  # (thread CPU s, wall s) of each sweep from now on
        sweeper = screen.follower.sweeper
        untimed = sweeper.sweep

        def timed_sweep():
            cpu, wall = time.thread_time(), time.perf_counter()
            try:
                return untimed()
            finally:
                sweeps.append((time.thread_time() - cpu, time.perf_counter() - wall))

        sweeper.sweep = timed_sweep
        await asyncio.sleep(1.0)
        idle_seconds = args.idle_seconds or (60.0 if len(screen.index.all_runs()) >= 50_000 else 20.0)
        progress(f"idle for {idle_seconds:.0f} s")
        wall, cpu, threads = time.perf_counter(), time.process_time(), thread_cpu()
        await asyncio.sleep(idle_seconds)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        out["idle_threads"] = cpu_by_thread(threads, thread_cpu(), wall)
        out["idle_cpu"] = cpu / wall
        out["idle_seconds"] = wall
        out["sweeps_in_idle"] = len(sweeps)
        out["sweeps_cpu_in_idle"] = sum(c for c, _ in sweeps)
        if not sweeps:  # the window fell between two sweeps: run one now, as the sweeper would
            progress("timing a sweep")
            await asyncio.to_thread(sweeper.sweep_and_hand_on)
        out["sweep_cpu"], out["sweep_wall"] = sweeps[0]
        # The sweeper waits `every` seconds, or longer when a sweep costs much CPU (see MAX_SHARE).
        out["sweep_interval"] = sweeper.interval()

        running = [r for r in screen.index.all_runs()
                   if r.status is RunStatus.RUNNING and not r.is_deleted and WRITTEN_KEY in r.metrics]
        chosen = sorted(running, key=lambda r: (r.experiment_id, r.run_id))[:: max(1, len(running) // WRITERS)][:WRITERS]
        out.update(await writers(screen, chosen, args))
        out["overflows"] = getattr(screen.follower.watcher, "overflows", 0)
    return out


async def writers(screen, runs, args: argparse.Namespace) -> dict:
    """20 writer processes append to `runs`' loss files for --write-seconds; the app's CPU over
    that time, and each line's latency to the index. The files are put back afterwards."""
    index = screen.index
    paths = {r.run_id: os.path.join(index.store.run_dir(r), "metrics", WRITTEN_KEY) for r in runs}
    originals = {run_id: Path(path).read_bytes() for run_id, path in paths.items()}
    first_step = {r.run_id: r.metrics[WRITTEN_KEY].step + 1 for r in runs}
    seen: dict[str, list[tuple[float, int]]] = {r.run_id: [] for r in runs}  # run -> (time, latest step)
    untimed_apply = index.apply

    def timed_apply(changes, now_ms=None):
        delta = untimed_apply(changes, now_ms)
        now = time.time()
        for run_id, key in delta.metrics:
            if key == WRITTEN_KEY and run_id in seen:
                run = index.run(run_id)
                point = run.metrics.get(WRITTEN_KEY) if run else None
                if point is not None:
                    seen[run_id].append((now, point.step))
        return delta

    index.apply = timed_apply
    try:
        start_at = time.time() + 5.0  # time for 20 Python processes to start on a loaded machine
        procs = [await asyncio.create_subprocess_exec(
            sys.executable, "-c", WRITER, paths[run_id], str(WRITE_RATE), str(args.write_seconds),
            str(first_step[run_id]), str(start_at), stdout=subprocess.PIPE) for run_id in paths]
        progress(f"{len(procs)} writers x {WRITE_RATE:.0f} points/s for {args.write_seconds:.0f} s")
        await asyncio.sleep(max(0.0, start_at - time.time()))
        profile = start_profile() if args.profile else None
        wall, cpu, threads = time.perf_counter(), time.process_time(), thread_cpu()
        await asyncio.sleep(args.write_seconds)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        threads = cpu_by_thread(threads, thread_cpu(), wall)
        if profile is not None:
            print(stop_profile(profile), file=sys.stderr)
        written = {run_id: int((await proc.communicate())[0].decode().strip() or 0)
                   for run_id, proc in zip(paths, procs)}
        last = {run_id: first_step[run_id] + n - 1 for run_id, n in written.items()}

        def all_in() -> bool:
            return all(seen[r] and seen[r][-1][1] >= last[r] for r in last if written[r])

        try:
            await wait_for(all_in, 10.0, "last points in the index")
        except TimeoutError:
            pass
        latencies, missed = [], 0
        for run_id, path in paths.items():
            times = [t for t, _ in seen[run_id]]
            steps, top = [], -1
            for _, step in seen[run_id]:
                top = max(top, step)
                steps.append(top)
            new = Path(path).read_bytes()[len(originals[run_id]):]
            for line in new.decode().splitlines():
                timestamp, _, step = line.split()
                at = bisect.bisect_left(steps, int(step))
                if at == len(steps):
                    missed += 1
                else:
                    latencies.append(times[at] * 1000 - int(timestamp))
    finally:
        index.apply = untimed_apply
        for run_id, path in paths.items():  # the cached store stays as generated
            Path(path).write_bytes(originals[run_id])
    latencies.sort()
    return {"write_cpu": cpu / wall, "write_threads": threads, "write_seconds": wall, "written": sum(written.values()),
            "writers": len(procs), "missed": missed,
            "append_p50": latencies[len(latencies) // 2] if latencies else None,
            "append_p95": latencies[max(0, int(len(latencies) * 0.95) - 1)] if latencies else None}


def child(args: argparse.Namespace) -> None:
    result = asyncio.run(session(Path(args.child), args))
    print("RESULT " + json.dumps(result), flush=True)


# -- the parent: stores, processes, the table ------------------------------------------------------


def ensure_store(runs: int) -> Path:
    from make_store import make_store

    store = CACHE / f"scale-r{runs}-e{EXPERIMENTS}-m{METRICS}-s{STEPS}"
    done = Path(f"{store}.done")
    if not done.exists():
        shutil.rmtree(store, ignore_errors=True)
        progress(f"generating {runs} runs in {store} (once; cached)")
        began = time.perf_counter()
        make_store(store, runs, EXPERIMENTS, METRICS, STEPS)
        done.write_text("")
        progress(f"generated in {time.perf_counter() - began:.0f} s")
    return store


def compile_reader(folder: Path) -> Path:
    binary = folder / "read_needed"
    subprocess.run(["cc", "-O2", "-o", str(binary), str(HERE / "read_needed.c")], check=True)
    return binary


def cpu_of(command: list[str], stdout) -> tuple[float, float]:
    """User+sys CPU seconds of a child process (and the workers it waited for), and its wall time."""
    began = time.perf_counter()
    proc = subprocess.Popen(command, stdout=stdout, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{command[:3]} exited with {proc.returncode}")
    return usage.ru_utime + usage.ru_stime, time.perf_counter() - began


LS = "import sys; from tuitrack.cli import main; sys.exit(main(sys.argv[1:]))"


def ls_against_c(store: Path, reader: Path, runs: int, repeats: int) -> dict:
    """`ls --all --json` reading every file (--no-cache), and through a cache written by the run
    before, against the C reader (which reads every file): best CPU of `repeats` each."""
    best_ls = best_cached = best_c = (float("inf"), 0.0)
    command = [sys.executable, "-c", LS, "ls", str(store), "--all", "--json"]
    with tempfile.TemporaryDirectory() as folder:
        listing, cached = Path(folder) / "ls.json", Path(folder) / "cached.json"
        with cached.open("wb") as out:
            cpu_of(command, out)  # writes the cache
        for _ in range(repeats):
            with listing.open("wb") as out:
                best_ls = min(best_ls, cpu_of([*command, "--no-cache"], out))
            with cached.open("wb") as out:
                best_cached = min(best_cached, cpu_of(command, out))
            with (Path(folder) / "c.txt").open("wb") as out:
                best_c = min(best_c, cpu_of([str(reader), str(store)], out))
        count = len(json.loads(listing.read_bytes()))
        c_runs = int((Path(folder) / "c.txt").read_text().split()[1])
        if cached.read_bytes() != listing.read_bytes():
            raise RuntimeError("ls through the cache differs from ls --no-cache")
    if count != runs or c_runs != runs:
        raise RuntimeError(f"ls listed {count} runs and the C reader {c_runs}, of {runs}")
    return {"ls_cpu": best_ls[0], "ls_wall": best_ls[1], "c_cpu": best_c[0], "c_wall": best_c[1],
            "ls_ratio": best_ls[0] / max(best_c[0], 1e-6), "ls_cached_cpu": best_cached[0],
            "ls_cached_wall": best_cached[1], "ls_cached_ratio": best_cached[0] / max(best_c[0], 1e-6)}


def run_child(store: Path, args: argparse.Namespace, open_only: bool) -> dict:
    command = [sys.executable, __file__, "--child", str(store), "--timeout", str(args.timeout),
               "--idle-seconds", str(args.idle_seconds), "--write-seconds", str(args.write_seconds)]
    if open_only:
        command.append("--open-only")
    if args.profile:
        command.append("--profile")
    budget = 3 * args.timeout + (args.idle_seconds or 60) + args.write_seconds + 60
    done = subprocess.run(command, stdout=subprocess.PIPE, text=True, timeout=budget)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"app session failed (exit {done.returncode})")
    return json.loads(lines[-1][len("RESULT "):])


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def measure(runs: int, reader: Path, args: argparse.Namespace) -> dict:
    store = ensure_store(runs)
    progress(f"{runs} runs: warming the page cache")
    cpu_of([str(reader), str(store)], subprocess.DEVNULL)
    # The read cache lives in $XDG_CACHE_HOME: a fresh, empty one for each size, so the first
    # open has no cache and the next open has the one the first wrote.
    with tempfile.TemporaryDirectory(prefix="tuitrack-bench-cache-") as cache_home:
        os.environ["XDG_CACHE_HOME"] = cache_home
        progress(f"{runs} runs: first open" + ("" if args.opens_only else ", live, idle, writers")
                 + " (a fresh process, no read cache yet)")
        figures = run_child(store, args, open_only=args.opens_only)
        progress(f"{runs} runs: next open (another fresh process, with the read cache the first wrote)")
        again = run_child(store, args, open_only=True)
        figures["next_open"] = again["loaded"]
        figures["next_open_cpu"] = again["loaded_cpu"]
        figures["next_rss"] = again["rss"]
        figures["next_hits"], figures["next_misses"] = again["cache_hits"], again["cache_misses"]
        progress(f"{runs} runs: ls --all --json against the C reader, best of {args.repeats}")
        figures.update(ls_against_c(store, reader, runs, args.repeats))
    return figures


def report_opens(runs: int, f: dict) -> None:
    """--opens-only: rows 1, 2 and 7."""
    print(f"\n{runs:,} runs x {METRICS} metrics x {STEPS} steps, {EXPERIMENTS} experiments:")
    for label, figure, target in _open_rows(f):
        print(f"  {label:<42} {figure:<62} target {TARGETS[target]}")


def _open_rows(f: dict) -> list[tuple[str, str, str]]:
    return [
        ("1. all data loaded, first open (no cache)", f"{f['loaded']:.2f} s, {f['loaded_cpu']:.2f} s CPU (first paint "
         f"{f['first_paint']:.2f} s)", "first_open"),
        ("2. all data loaded, next open (cache)", f"{f['next_open']:.2f} s, {f['next_open_cpu']:.2f} s CPU "
         f"({f['next_hits']} runs from the cache, {f['next_misses']} read; RSS {f['next_rss']:.0f} MiB)", "next_open"),
        ("7. ls --all --json CPU vs C reader", f"{f['ls_ratio']:.1f}x with --no-cache ({f['ls_cpu']:.2f} s vs "
         f"{f['c_cpu']:.3f} s; wall {f['ls_wall']:.2f} s); {f['ls_cached_ratio']:.1f}x through the cache "
         f"({f['ls_cached_cpu']:.2f} s; wall {f['ls_cached_wall']:.2f} s)", "ls_ratio"),
    ]


def report(runs: int, f: dict) -> None:
    without = (f["idle_cpu"] * f["idle_seconds"] - f["sweeps_cpu_in_idle"]) / f["idle_seconds"]
    sweep_share = f["sweep_cpu"] / f["sweep_interval"]
    first, second, ls_row = _open_rows(f)
    print(f"\n{runs:,} runs x {METRICS} metrics x {STEPS} steps, {EXPERIMENTS} experiments:")
    rows = [
        first,
        second,
        ("3. watching reached after first paint", f"{f['live_after_paint']:.2f} s (CPU from the start to live: "
         f"{f['live_cpu']:.2f} s)", "live_after_paint"),
        ("4. idle CPU once live", f"{f['idle_cpu'] * 100:.1f} % over {f['idle_seconds']:.0f} s ({f['sweeps_in_idle']} "
         f"sweep(s) in it); without sweeps {without * 100:.1f} % + sweeps {sweep_share * 100:.1f} % on average",
         "idle_cpu"),
        (f"5. CPU, {f['writers']} writers x {WRITE_RATE:.0f} points/s", f"{f['write_cpu'] * 100:.1f} % over "
         f"{f['write_seconds']:.0f} s ({f['written']} points)", "write_cpu"),
        ("6. resident memory after loading", f"{f['rss']:.0f} MiB (peak {f['hwm']:.0f}; live {f['rss_live']:.0f})", "rss"),
        ls_row,
        ("8. append to index p95, 20 writers", f"{f['append_p95']:.0f} ms (p50 {f['append_p50']:.0f}; "
         f"{f['missed']} not in)" if f.get("append_p95") is not None else "no points", "append_p95"),
    ]
    for label, figure, target in rows:
        print(f"  {label:<42} {figure:<62} target {TARGETS[target]}")
    watching = ("every run" if f.get("whole") else "the hot runs only") if "watches" in f else "not inotify"
    for label, key in (("idle", "idle_threads"), ("writing", "write_threads")):
        busy = ", ".join(f"{name} {share * 100:.1f} %" for name, share in f[key].items()) or "none"
        print(f"  CPU by thread, {label}: {busy}")
    print(f"  inotify watches held when live: {f.get('watches', '-')} ({watching}; refused "
          f"{f.get('refused', '-')}; queue overflows {f.get('overflows', '-')}); status: {f['watch_mode']}")
    print(f"  sweep: the first (as watching starts) {f['first_sweep_s']:.2f} s wall; a periodic one "
          f"{f['sweep_cpu']:.2f} s CPU ({f['sweep_wall']:.2f} s wall) every {f['sweep_interval']:.0f} s "
          f"= {sweep_share * 100:.1f} % of a core on average")


def main() -> None:
    parser = argparse.ArgumentParser(description="issue 16's scale table")
    parser.add_argument("--sizes", default="2000,10000,50000", help="numbers of runs, comma-separated")
    parser.add_argument("--quick", action="store_true", help="2,000 runs only")
    parser.add_argument("--idle-seconds", type=float, default=0.0,
                        help="idle CPU window (default 20 s, 60 s from 50,000 runs)")
    parser.add_argument("--write-seconds", type=float, default=20.0, help="how long the 20 writers write")
    parser.add_argument("--repeats", type=int, default=3, help="ls and the C reader: best of this many")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds each wait may take")
    parser.add_argument("--profile", action="store_true",
                        help="print a profile while the writers write (to stderr): every thread's with "
                             "yappi if installed, else the UI thread's with cProfile")
    parser.add_argument("--opens-only", action="store_true",
                        help="rows 1, 2 and 7 only: first open, next open (with the read cache), ls")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--open-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    sizes = [2000] if args.quick else [int(s) for s in args.sizes.split(",")]
    print(f"load average at start: {load_average()} ({os.cpu_count()} cores)", flush=True)
    with tempfile.TemporaryDirectory(prefix="tuitrack-read-needed-") as folder:
        reader = compile_reader(Path(folder))
        results = {}
        for runs in sizes:
            results[runs] = measure(runs, reader, args)
            (report_opens if args.opens_only else report)(runs, results[runs])
            sys.stdout.flush()
    print(f"\nload average at the end: {load_average()}")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    main()
