"""An open-loop load generator: requests start on a fixed schedule, whatever the server's speed.

wrk (closed loop) finds the maximum rate; latency "at half the maximum rate" needs requests that
arrive at that rate regardless of how fast earlier ones were answered. Each request's latency is
measured from the moment it was *scheduled*, so a stalled server cannot hide its queueing delay
(no coordinated omission). HTTP/1.1 keep-alive over TLS, one request in flight per connection.
"""

from __future__ import annotations

import asyncio
import ssl
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Latencies:
    rate: float
    sent: int
    statuses: dict[int, int]
    p50_ms: float
    p99_ms: float
    max_ms: float


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """The status, and whether the server closes the connection after this answer."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    length = 0
    closing = False
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"connection":
            closing = value.strip().lower() == b"close"
    if length:
        await reader.readexactly(length)
    return status, closing


async def _run(host: str, port: int, cafile: str, requests: Sequence[bytes], rate: float, connections: int):
    context = ssl.create_default_context(cafile=cafile)

    async def connect():
        return await asyncio.open_connection(host, port, ssl=context, server_hostname="localhost")

    pool: asyncio.Queue = asyncio.Queue()
    warm_up = f"GET /healthz HTTP/1.1\r\nHost: localhost:{port}\r\n\r\n".encode()

    async def warm_connection():
        # One request right after each handshake: a server thread that accepted the connection is
        # waiting for it (gunicorn's gthread would otherwise hold a thread for an idle connection).
        reader, writer = await connect()
        writer.write(warm_up)
        _status, closing = await _read_response(reader)
        if closing:  # the server closes it after this answer: take a new one
            writer.close()
            reader, writer = await connect()
        pool.put_nowait((reader, writer))

    # All at once, as wrk does: one by one, each lands on whichever gunicorn worker is awake, often
    # the same one, which then serves them all on one core.
    await asyncio.gather(*(warm_connection() for _ in range(connections)))
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    start = time.perf_counter() + 0.1
    tasks = []

    async def one(index: int, due: float) -> None:
        reader, writer = await pool.get()
        try:
            writer.write(requests[index])
            status, closing = await _read_response(reader)
            if closing:  # counted in this request's latency: the next one needs a new connection
                writer.close()
                reader, writer = await connect()
        finally:
            pool.put_nowait((reader, writer))
        latencies.append(time.perf_counter() - due)
        statuses[status] = statuses.get(status, 0) + 1

    for index in range(len(requests)):
        due = start + index / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(index, due)))
    await asyncio.gather(*tasks)
    while not pool.empty():
        _reader, writer = pool.get_nowait()
        writer.close()
    ordered = sorted(latencies)
    return Latencies(
        rate=rate,
        sent=len(requests),
        statuses=statuses,
        p50_ms=statistics.median(ordered) * 1000,
        p99_ms=ordered[int(len(ordered) * 0.99) - 1] * 1000,
        max_ms=ordered[-1] * 1000,
    )


def run(host: str, port: int, cafile: str, requests: Sequence[bytes], rate: float, connections: int = 64):
    """Send the raw HTTP/1.1 `requests` at `rate` per second; return latency percentiles."""
    return asyncio.run(_run(host, port, cafile, requests, rate, connections))
