"""Benchmark of `POST /v1/sites/{site_id}/events`: signed, valid, unique events per second, and the
p99 latency at half that rate, against the trivial route in the same run."""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from pathlib import Path

from bench import openloop, wrk
from service.sites import webhooks
from tests import processes
from tests.signing import EXAMPLE_BOOKING


def create_site(stack: processes.Stack) -> dict:
    output = subprocess.run(
        [str(processes.BIN / "flask"), "--app", "service", "sites", "create", "--name", "Bench",
         "--url", "https://bench.example.com"],
        env=stack.env, cwd=processes.ROOT, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return json.loads(output)


def signed_events(site: dict, count: int, prefix: str):
    """`count` (path, id, timestamp, signature, body) tuples, each a distinct booking."""
    secret = webhooks.secret_bytes(site["secret"])
    path = f"/v1/sites/{site['site_id']}/events"
    now = int(time.time())
    for n in range(count):
        booking = {**EXAMPLE_BOOKING, "id": f"{prefix}{n}"}
        body = json.dumps({"type": "booking.created", "booking": booking}, separators=(",", ":"))
        msg_id = f"msg_{uuid.uuid4().hex}"
        yield path, msg_id, str(now), webhooks.sign(secret, msg_id, now, body.encode()), body


def write_wrk_file(folder: Path, site: dict, count: int, prefix: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"events-{prefix}tsv"
    with path.open("w") as handle:
        for fields in signed_events(site, count, prefix):
            handle.write("\t".join(fields) + "\n")
    return path


def raw_requests(site: dict, count: int, port: int) -> list[bytes]:
    out = []
    for path, msg_id, stamp, signature, body in signed_events(site, count, "o"):
        head = (
            f"POST {path} HTTP/1.1\r\nHost: localhost:{port}\r\nContent-Type: application/json\r\n"
            f"webhook-id: {msg_id}\r\nwebhook-timestamp: {stamp}\r\nwebhook-signature: {signature}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        out.append(head.encode() + body.encode())
    return out


def max_rate(
    stack: processes.Stack, site: dict, folder: Path, seconds: int, prefix: str = "w", connections: int = 16
) -> wrk.Result:
    """Events/s with wrk replaying pre-signed unique events (signed just before, valid for 5 minutes)."""
    script = str(Path(__file__).with_name("events_requests.lua"))
    events_file = write_wrk_file(folder, site, 6_000 * seconds, prefix)
    url = stack.base_url + f"/v1/sites/{site['site_id']}/events"
    return wrk.run(
        url, seconds=seconds, connections=connections, script=script, script_args=(str(events_file),)
    )


def latency_at(stack: processes.Stack, site: dict, rate: float, seconds: int) -> openloop.Latencies:
    """Latency of unique signed events arriving at a steady `rate`."""
    requests = raw_requests(site, int(rate * seconds), stack.port)
    return openloop.run("127.0.0.1", stack.port, str(stack.certs.ca), requests, rate)


def baseline_latency_at(stack: processes.Stack, rate: float, seconds: int) -> openloop.Latencies:
    """The trivial route at the same steady rate, for comparison."""
    request = f"GET /healthz HTTP/1.1\r\nHost: localhost:{stack.port}\r\n\r\n".encode()
    return openloop.run("127.0.0.1", stack.port, str(stack.certs.ca), [request] * int(rate * seconds), rate)
