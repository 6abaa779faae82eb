"""A closed-loop HTTP/1.1 load client for the mixed-load benchmark, its report tables, CPU accounting from /proc.

One asyncio loop in one process drives every simulated client over its own keep-alive connection on
raw sockets (no HTTP library: a request costs the client a few tens of microseconds, so on this 2-core
machine the client takes little from the server it measures; `cpu_seconds` lets the caller prove it).
Each request's latency is measured from the first byte written to the last body byte read. Anything
that is not a 2xx, and any connection error or timeout, is an error, recorded with a sample.
"""

from __future__ import annotations

import asyncio
import collections
import os
import random
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

#: (kind, path, headers) of the next request a client sends; chosen by the caller's picker.
Request = tuple[str, str, dict[str, str]]


@dataclass
class Sample:
    kind: str
    path: str
    status: int | None
    detail: str


@dataclass
class KindStats:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    body_bytes: int = 0


@dataclass
class RunStats:
    seconds: float = 0.0
    kinds: dict[str, KindStats] = field(default_factory=dict)
    samples: list[Sample] = field(default_factory=list)

    def kind(self, name: str) -> KindStats:
        return self.kinds.setdefault(name, KindStats())

    @property
    def errors(self) -> int:
        return sum(k.errors for k in self.kinds.values())


class Connection:
    """One keep-alive connection to HOST:PORT, reopened after an error or a ``Connection: close``."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port, limit=2**24)
        self.writer.transport.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    async def get(self, path: str, headers: dict[str, str]) -> tuple[int, bytes]:
        """(status, body) of GET ``path``; raises OSError/asyncio errors on a broken connection."""
        if self.writer is None:
            await self.open()
        extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self.writer.write(f"GET {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n{extra}\r\n".encode())
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        fields = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
        if status in (204, 304) or status < 200:
            body = b""
        elif "content-length" in fields:
            body = await self.reader.readexactly(int(fields["content-length"]))
        elif fields.get("transfer-encoding", "").lower() == "chunked":
            parts = []
            while length := int((await self.reader.readuntil(b"\r\n")).split(b";")[0].strip(), 16):
                parts.append(await self.reader.readexactly(length))
                await self.reader.readexactly(2)
            await self.reader.readuntil(b"\r\n")  # the empty trailer
            body = b"".join(parts)
        else:  # no length: the body runs to the end of the connection
            body = await self.reader.read()
            fields["connection"] = "close"
        if fields.get("connection", "").lower() == "close":
            self.close()
        return status, body


async def _client(conn: Connection, pick: Callable[[], Request | None], stats: RunStats, deadline: float,
                  timeout: float, max_samples: int) -> None:
    try:
        while time.perf_counter() < deadline:
            request = pick()
            if request is None:  # every kind is paced for now: wait, as a rate-limited app does
                await asyncio.sleep(0.01)
                continue
            kind, path, headers = request
            started = time.perf_counter()
            status, detail = None, ""
            try:
                status, body = await asyncio.wait_for(conn.get(path, headers), timeout)
                detail = body[:300].decode("utf-8", "replace")
            except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError,
                    ValueError, IndexError) as exc:
                conn.close()
                detail = f"{type(exc).__name__}: {exc}"
            elapsed = time.perf_counter() - started
            k = stats.kind(kind)
            if status is not None and 200 <= status < 300:
                k.latencies.append(elapsed)
                k.body_bytes += len(body)
            else:
                k.errors += 1
                if len(stats.samples) < max_samples:
                    stats.samples.append(Sample(kind, path, status, detail))
    finally:
        conn.close()


def run_load(host: str, port: int, pickers: list[Callable[[], Request | None]], seconds: float,
             timeout: float = 30.0, max_samples: int = 20) -> RunStats:
    """Run one client per picker for ``seconds`` (requests under way at the end complete, each bounded by
    ``timeout``); every client keeps one keep-alive connection."""
    stats = RunStats()

    async def main() -> None:
        deadline = time.perf_counter() + seconds
        clients = [_client(Connection(host, port), pick, stats, deadline, timeout, max_samples) for pick in pickers]
        await asyncio.wait_for(asyncio.gather(*clients), seconds + timeout + 30)

    started = time.perf_counter()
    asyncio.run(main())
    stats.seconds = time.perf_counter() - started
    return stats


def weighted_picker(rng: random.Random, choices: dict[str, Callable[[random.Random], Request | None]],
                    weights: dict[str, float]) -> Callable[[], Request | None]:
    """A picker that draws the next request's kind by ``weights``; a kind whose chooser returns None (e.g.
    its rate budget is spent for now) is drawn again among the others; None when none is available."""
    names = [n for n in choices if weights.get(n, 0) > 0]

    def pick() -> Request | None:
        pool = list(names)
        while pool:
            name = rng.choices(pool, [weights[n] for n in pool])[0]
            request = choices[name](rng)
            if request is not None:
                return request
            pool.remove(name)
        return None

    return pick


class Pacer:
    """At most ``per_minute`` events in any 60 s window for one client, counted as DRF's throttle counts (a
    sliding window of timestamps): a well-behaved client keeping to its key's rate limit. ``ready()`` says
    whether one more may go now, and records it if so."""

    def __init__(self, per_minute: float) -> None:
        self.limit, self.sent = int(per_minute), collections.deque()

    def ready(self) -> bool:
        now = time.monotonic()
        while self.sent and self.sent[0] <= now - 60:
            self.sent.popleft()
        if len(self.sent) >= self.limit:
            return False
        self.sent.append(now)
        return True


# --- reporting ----------------------------------------------------------------------------------------------

def kind_rows(stats: RunStats) -> dict[str, dict]:
    """Per kind and for all: requests (errors included), errors, latency percentiles of the 2xx (ms), req/s,
    mean body size of the 2xx (KB)."""
    rows = {}
    everything = [lat for k in stats.kinds.values() for lat in k.latencies]
    for name, k in [*sorted(stats.kinds.items()), ("all", None)]:
        lats = np.array(everything if k is None else k.latencies) * 1000
        errors = stats.errors if k is None else k.errors
        count = len(lats) + errors
        p50, p95, p99 = np.percentile(lats, [50, 95, 99]) if len(lats) else (float("nan"),) * 3
        size = sum(k.body_bytes for k in stats.kinds.values()) if k is None else k.body_bytes
        rows[name] = {"requests": count, "errors": errors, "p50": p50, "p95": p95, "p99": p99,
                      "rate": count / stats.seconds, "kb": size / 1024 / max(len(lats), 1)}
    return rows


def print_table(rows: dict[str, dict], title: str, titles: dict[str, str]) -> None:
    """``rows`` as a Markdown table, ready for bench/RESULTS.md."""
    total = rows["all"]["requests"] or 1
    print(f"\n{title}\n\n| kind | requests | share | errors | p50 ms | p95 ms | p99 ms | req/s | KB/response |\n"
          "|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, r in rows.items():
        label = titles.get(name, "**all**")
        print(f"| {label} | {r['requests']:,} | {100 * r['requests'] / total:.0f}% | {r['errors']} | {r['p50']:.1f} "
              f"| {r['p95']:.1f} | {r['p99']:.1f} | {r['rate']:.1f} | {r['kb']:.1f} |")


def print_cpu(cpu: dict, stats: RunStats) -> None:
    ours, seconds = cpu["client"] + cpu["server"] + cpu["postgres"], stats.seconds
    requests = sum(len(k.latencies) + k.errors for k in stats.kinds.values()) or 1
    print(f"\nCPU over {seconds:.1f} s (cores in use on average): load client {cpu['client'] / seconds:.2f} "
          f"({1000 * cpu['client'] / requests:.2f} ms a request), "
          f"web server {cpu['server'] / seconds:.2f} ({1000 * cpu['server'] / requests:.1f} ms a request), "
          f"PostgreSQL backends {cpu['postgres'] / seconds:.2f} ({1000 * cpu['postgres'] / requests:.1f} ms); "
          f"machine {cpu['machine'] / seconds:.2f} of {cpu['cores']:.0f}, of which others "
          f"{max(cpu['machine'] - ours, 0) / seconds:.2f}; load average {os.getloadavg()[0]:.2f}")


def first_traceback(log: str) -> str:
    """From the first 'Traceback' line to the exception line (the first unindented line after it)."""
    lines = log[log.find("Traceback"):].splitlines()
    end = next((i for i, line in enumerate(lines[1:], 1) if line and not line.startswith(" ")), len(lines) - 1)
    return "\n".join(lines[:end + 1])


# --- CPU accounting -----------------------------------------------------------------------------------------

def _ticks(pid: int) -> int:
    """utime + stime of a process in clock ticks, 0 when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])


def descendants(pid: int) -> list[int]:
    """``pid`` and every process below it."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                ppid = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def cpu_seconds(pids: list[int]) -> dict[int, float]:
    """CPU seconds used so far by each of ``pids``."""
    hz = os.sysconf("SC_CLK_TCK")
    return {pid: _ticks(pid) / hz for pid in pids}


def machine_busy_seconds() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, summed over cores, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    hz = os.sysconf("SC_CLK_TCK")
    idle = values[3] + values[4]  # idle + iowait
    total = sum(values[:8])  # guest time is already counted in user
    return (total - idle) / hz, total / hz
