"""Benchmark of `GET /v1/sites/{site_id}/availability` (issue 8).

- Warm: availability answers per second with the cache warm (one window, many pre-signed requests replayed
  by wrk), to be divided by the `/healthz` baseline of the same run (target >= 0.8).
- Cold: p50 latency when every request misses the cache (each asks for a window never asked before, so
  each one calls the sandbox's freeBusy, token read and all), with the sandbox's injected latency set to
  `latency_ms`; the figure is p50 minus that latency (target <= 20 ms).

Needs a Stack started WITH the sandbox (`stack.start()`, not `start(sandbox=False)`); `measure()` makes
its own site and links one Google account through the sandbox.
"""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

import requests

from bench import events, openloop, wrk
from service.sites import webhooks
from tests import processes

STAFF_ID = "7"
WARM_WINDOW = ("2026-12-01T00:00:00Z", "2026-12-08T00:00:00Z")
SITE_ORIGIN = "https://bench.example.com"


@dataclass(frozen=True)
class Figures:
    rounds: list[tuple[wrk.Result, wrk.Result]]  # (/healthz, warm availability), interleaved
    cold: openloop.Latencies
    latency_ms: int

    @property
    def cold_overhead_ms(self) -> float:
        """Cold-cache p50 minus the sandbox's injected latency."""
        return self.cold.p50_ms - self.latency_ms


def _knob(stack: processes.Stack, name: str, body: dict) -> None:
    answer = requests.post(
        f"{stack.sandbox_url}/_sandbox/{name}", json=body, verify=str(stack.certs.bundle), timeout=10
    )
    answer.raise_for_status()


def link_google(stack: processes.Stack, site: dict, staff_id: str = STAFF_ID) -> None:
    """Link a Google account for `staff_id` through the sandbox (consent auto-approved), as an admin's
    browser would, stopping at the redirect back to the site."""
    verify = str(stack.certs.bundle)
    _knob(stack, "consent", {"mode": "approve", "email": f"bench{staff_id}@example.com"})
    return_url = SITE_ORIGIN + "/wp-admin/"
    body = json.dumps({"provider": "google", "staff_id": staff_id, "return_url": return_url}).encode()
    path = f"/v1/sites/{site['site_id']}/connect-links"
    headers = {**_sign(site, body), "Content-Type": "application/json"}
    link = requests.post(stack.base_url + path, data=body, headers=headers, verify=verify, timeout=10)
    link.raise_for_status()
    browser = requests.Session()
    page = browser.get(link.json()["url"], verify=verify, timeout=10)
    csrf = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    answer = browser.post(
        link.json()["url"], data={"csrf": csrf}, verify=verify, timeout=15, allow_redirects=False
    )
    while answer.is_redirect and not answer.headers["Location"].startswith(SITE_ORIGIN):
        answer = browser.get(answer.headers["Location"], verify=verify, timeout=15, allow_redirects=False)
    outcome = parse_qs(urlsplit(answer.headers.get("Location", "")).query)
    if outcome.get("meetbridge_status") != ["connected"]:
        raise RuntimeError(f"linking Google for the benchmark failed: {outcome}")


def _sign(site: dict, payload: bytes) -> dict[str, str]:
    secret = webhooks.secret_bytes(site["secret"])
    return webhooks.signature_headers(secret, f"msg_{uuid.uuid4().hex}", int(time.time()), payload)


def _path(site: dict, staff_id: str, start: str, end: str) -> str:
    query = f"staff_id={staff_id}&from={quote(start, safe='')}&to={quote(end, safe='')}"
    return f"/v1/sites/{site['site_id']}/availability?{query}"


def signed_gets(site: dict, paths: list[str]):
    """(path, webhook-id, timestamp, signature) per path: the signature covers `GET {path}?{query}`."""
    secret = webhooks.secret_bytes(site["secret"])
    now = int(time.time())
    for path in paths:
        msg_id = f"msg_{uuid.uuid4().hex}"
        yield path, msg_id, str(now), webhooks.sign(secret, msg_id, now, f"GET {path}".encode())


def warm_rate(
    stack: processes.Stack,
    site: dict,
    folder: Path,
    seconds: int = 15,
    staff_id: str = STAFF_ID,
    connections: int = 16,
) -> wrk.Result:
    """Requests/s of availability answers for one window with the cache warm (wrk, same connections and
    threads as the baseline). 5,000 distinct pre-signed requests, replayed round-robin (valid 5 minutes).
    Fewer than one request per cache TTL is a miss; `errors` counts any non-2xx answer."""
    path = _path(site, staff_id, *WARM_WINDOW)
    first = requests.get(
        stack.base_url + path, headers=dict(zip(("webhook-id", "webhook-timestamp", "webhook-signature"),
                                                next(signed_gets(site, [path]))[1:], strict=True)),
        verify=str(stack.certs.bundle), timeout=20,
    )  # fmt: skip
    if first.status_code != 200:
        raise RuntimeError(f"availability answered {first.status_code}: {first.text[:300]}")
    requests_file = folder / "availability.tsv"
    with requests_file.open("w") as handle:
        for fields in signed_gets(site, [path] * 5000):
            handle.write("\t".join(fields) + "\n")
    script = str(Path(__file__).with_name("availability_requests.lua"))
    url = stack.base_url + path
    wrk.run(url, seconds=3, script=script, script_args=(str(requests_file),))  # warm-up
    return wrk.run(
        url, seconds=seconds, connections=connections, script=script, script_args=(str(requests_file),)
    )


def cold_latency(
    stack: processes.Stack,
    site: dict,
    latency_ms: int = 50,
    count: int = 300,
    rate: float = 20.0,
    staff_id: str = STAFF_ID,
) -> openloop.Latencies:
    """Latency of cache misses: `count` requests at `rate`/s (open loop), each for a window not asked
    before, with the sandbox sleeping `latency_ms` before every provider call."""
    base = dt.datetime(2027, 1, 1, tzinfo=dt.UTC)
    paths = []
    for n in range(count):
        start = base + dt.timedelta(minutes=n)
        paths.append(
            _path(site, staff_id, start.strftime("%Y-%m-%dT%H:%M:%SZ"),
                  (start + dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ"))
        )  # fmt: skip
    raw = []
    for path, msg_id, stamp, signature in signed_gets(site, paths):
        raw.append(
            f"GET {path} HTTP/1.1\r\nHost: localhost:{stack.port}\r\nwebhook-id: {msg_id}\r\n"
            f"webhook-timestamp: {stamp}\r\nwebhook-signature: {signature}\r\n\r\n".encode()
        )
    _knob(stack, "latency", {"ms": latency_ms})
    try:
        # Every web thread builds its Google client (static discovery) on first use: not what is measured.
        openloop.run("127.0.0.1", stack.port, str(stack.certs.bundle), raw[:16], rate=rate, connections=16)
        return openloop.run(
            "127.0.0.1", stack.port, str(stack.certs.bundle), raw[16:], rate=rate, connections=8
        )
    finally:
        _knob(stack, "latency", {"ms": 0})


def measure(
    stack: processes.Stack, folder: Path, seconds: int = 8, rounds: int = 3, latency_ms: int = 50
) -> Figures:
    """Everything for the report: a new site, a linked Google account, then `rounds` of the baseline
    and warm requests/s alternating (64 connections each), then cold latency."""
    site = events.create_site(stack)
    link_google(stack, site)
    measured = [
        (
            wrk.run(stack.base_url + "/healthz", seconds=seconds, connections=64),
            warm_rate(stack, site, folder, seconds, connections=64),
        )
        for _ in range(rounds)
    ]
    cold = cold_latency(stack, site, latency_ms)
    return Figures(rounds=measured, cold=cold, latency_ms=latency_ms)
