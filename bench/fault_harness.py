"""Shared pieces of the fault and soak benchmarks: gunicorn, an open-loop load generator, RSS.

The load generator is open-loop: request *i* of a target is scheduled at ``start + i / rate``
whatever happened to the earlier ones, and its latency is measured from that scheduled moment.
A closed-loop tool (wrk, ab) waits for a response before sending the next request, so a slow
or stalled server is sent less work and its stall never shows in the latencies ("coordinated
omission"); here a stall shows up in full, and the offered rate stays the same.

Each request opens a new connection, as gunicorn's sync workers close it after every response
(and as phones scanning QR codes arrive: one visit, one connection).
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.viewer_load import PHONE  # noqa: E402  (the benches share one phone User-Agent)


def start_gunicorn(env: dict, port: int, *, workers: int = 2, log_path: Path | None = None) -> subprocess.Popen:
    """gunicorn as production runs it (sync workers), in its own process group."""
    log = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115 - handed to the child
    return subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "arv.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def wait_http(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(url, timeout=1).read()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} did not answer within {timeout} s") from None
            time.sleep(0.1)


def worker_pids(master_pid: int) -> list[int]:
    """PIDs of the gunicorn workers: the master's children, from /proc."""
    children = []
    for task in Path(f"/proc/{master_pid}/task").iterdir():
        text = (task / "children").read_text().split()
        children += [int(pid) for pid in text]
    return sorted(children)


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (no interpolation: every reported value was really measured)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


# --- Requests --------------------------------------------------------------------------------------


@dataclass
class Request:
    method: str
    path: str
    body: bytes = b""
    headers: dict = field(default_factory=dict)


@dataclass
class Result:
    target: str
    scheduled: float  # monotonic time the request was due
    started: float
    finished: float
    status: int  # 0: no HTTP answer (connection refused, reset, timeout)
    error: str = ""
    ok: bool = False

    @property
    def latency_ms(self) -> float:
        """From the scheduled moment: includes any wait for a free sender thread."""
        return (self.finished - self.scheduled) * 1000


def page_request(path: str) -> Callable[[int], Request]:
    def make(_n: int) -> Request:
        return Request("GET", path, headers={"User-Agent": PHONE})

    return make


def get_request(path: str) -> Callable[[int], Request]:
    def make(_n: int) -> Request:
        return Request("GET", path)

    return make


def beacon_request(path: str, *, posts_per_visit: int = 3) -> Callable[[int], Request]:
    """Beacon posts as the viewer page sends them: a few growing reports per visit."""
    sessions: dict[int, str] = {}

    def make(n: int) -> Request:
        visit, post = divmod(n, posts_per_visit)
        session = sessions.setdefault(visit, str(uuid.uuid4()))
        if post == posts_per_visit - 1:
            sessions.pop(visit, None)
        body = {"session": session, "duration_seconds": 5 * (post + 1), "found": post > 0}
        if post > 0:
            body |= {"time_to_found_ms": 900, "video_played": True, "watch_seconds": 4 * post}
        return Request(
            "POST",
            path,
            json.dumps(body).encode(),
            {"User-Agent": PHONE, "Content-Type": "application/json"},
        )

    return make


@dataclass
class Target:
    name: str
    rate: float  # requests per second
    make: Callable[[int], Request]
    ok: tuple[int, ...] = (200, 204)


class OpenLoop:
    """Sends each target's requests at a fixed rate, from an asyncio loop in a thread of its own.

    Each request is its own task, so nothing caps how many are in flight: a pool of sender threads
    would, and once the server slowed down the pool would fill and requests would leave late,
    which is the closed-loop behaviour this generator exists to avoid. `Result.started` shows
    how late each one actually left.
    """

    def __init__(
        self,
        host: str,
        port: int,
        targets: list[Target],
        *,
        timeout: float = 10,
        duration: float | None = None,
    ):
        self.host, self.port, self.targets, self.timeout = host, port, targets, timeout
        self.duration = duration  # no request is scheduled at or after this many seconds
        self.results: list[Result] = []
        self.started_at = 0.0
        self._lock = threading.Lock()
        self._stopping = False
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="open-loop", daemon=True)

    def start(self) -> None:
        self._thread.start()
        self._ready.wait()

    def stop(self) -> list[Result]:
        """Stop scheduling, wait for requests in flight, and return every result in time order."""
        self._stopping = True
        self._thread.join()
        return sorted(self.results, key=lambda r: r.scheduled)

    def snapshot(self) -> list[Result]:
        with self._lock:
            return list(self.results)

    def _run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        in_flight: set[asyncio.Task] = set()
        self.started_at = time.monotonic()
        self._ready.set()
        await asyncio.gather(*(self._schedule(target, in_flight) for target in self.targets))
        while in_flight:
            await asyncio.gather(*list(in_flight))

    async def _schedule(self, target: Target, in_flight: set) -> None:
        interval = 1 / target.rate
        n = 0
        while not self._stopping:
            if self.duration is not None and n * interval >= self.duration:
                break
            due = self.started_at + n * interval
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            task = asyncio.create_task(self._send(target, target.make(n), due))
            in_flight.add(task)
            task.add_done_callback(in_flight.discard)
            n += 1

    async def _send(self, target: Target, request: Request, scheduled: float) -> None:
        started = time.monotonic()
        status, error = 0, ""
        try:
            status = await asyncio.wait_for(self._http(request), self.timeout)
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"[:200]
        result = Result(target.name, scheduled, started, time.monotonic(), status, error, status in target.ok)
        with self._lock:
            self.results.append(result)

    async def _http(self, request: Request) -> int:
        """One HTTP/1.1 exchange on a new connection; the status code once the body is read."""
        reader, writer = await asyncio.open_connection(self.host, self.port)
        try:
            headers = {
                "Host": f"{self.host}:{self.port}",
                "Connection": "close",
                "Content-Length": str(len(request.body)),
                **request.headers,
            }
            head = f"{request.method} {request.path} HTTP/1.1\r\n"
            head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
            writer.write(head.encode("latin-1") + request.body)
            await writer.drain()
            status_line = await reader.readline()
            status = int(status_line.split()[1])
            await reader.read()  # the whole response: the server closes the connection after it
            return status
        finally:
            writer.close()
            with suppress(OSError):
                await writer.wait_closed()


def bench_env(work: Path, *, database_url: str, port: int | None = None, redis_url: str = "", **extra) -> dict:
    """Production settings (DEBUG off, JSON logs off for readability) on throwaway services; *port*
    is the web server's, for the links the app makes."""
    return {
        **os.environ,
        "ARV_IGNORE_DOTENV": "1",
        "DJANGO_SETTINGS_MODULE": "arv.settings",
        "DEBUG": "0",
        "SECRET_KEY": "bench-secret-key-0123456789abcdefghijklmnopqrstuvwxyz",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "VAR_DIR": str(work),
        "STATIC_ROOT": str(work / "static"),
        **({"SITE_URL": f"http://127.0.0.1:{port}"} if port else {}),
        "LOG_LEVEL": "WARNING",
        "LOG_FORMAT": "text",
        # Every bench loads the page from one address and checks each load was counted; one view
        # per visitor and minute (its cost: bench/media_and_views.py) would hide a lost count.
        "VIEW_COUNT_WINDOW_SECONDS": "0",
        **extra,
    }
