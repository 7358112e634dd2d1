"""`make bench` section `ha`: the intake past one host, on the failover drill's hosts (scripts/drill.py:
network namespaces on this machine, Redis through three Sentinels, each process its own ACL user).

- events/s through one web host and through two at once (two wrk processes, one per host), against
  `/healthz` of one host;
- durable acknowledgement off and `replica` (WAIT for one of two replicas): one web host each, on the
  same Redis, measured in turn in the same rounds, each as a ratio to its own host's `/healthz`, so
  the machine's background load hits both alike;
- failover time (primary SIGKILLed -> the first 202 to a request sent after the kill) and Sentinel's
  promotion time, p50 over three drills.

Every host shares this machine's cores with the others and with wrk, so two web hosts cannot double
one host's rate here; the ratio says how much the second host adds on the same cores.
"""

from __future__ import annotations

import statistics
import threading
import traceback
from pathlib import Path

from bench import events, wrk
from scripts import drill, netns

SECONDS = 8
CONNECTIONS = 32
ROUNDS = 3
"""Alternating /healthz, one-host and two-host runs per mode; each figure is the median of its runs."""


def _events(setup: drill.Drill, folder: Path, hosts: list[str], prefix: str) -> wrk.Result:
    """Signed unique events through `hosts` at once, CONNECTIONS in all; the summed rate."""
    script = str(Path(events.__file__).with_name("events_requests.lua"))
    results: dict[str, wrk.Result] = {}

    def load(host: str) -> None:
        path = events.write_wrk_file(folder, setup.site, 6_000 * SECONDS, f"{prefix}{host}-")
        url = f"{setup.web_url(host)}/v1/sites/{setup.site['site_id']}/events"
        results[host] = wrk.run(
            url,
            seconds=SECONDS,
            connections=CONNECTIONS // len(hosts),
            script=script,
            script_args=(str(path),),
        )

    threads = [threading.Thread(target=load, args=(host,)) for host in hosts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    found = list(results.values())
    return wrk.Result(
        requests_per_second=sum(r.requests_per_second for r in found),
        p50_ms=max(r.p50_ms for r in found),
        p99_ms=max(r.p99_ms for r in found),
        requests=sum(r.requests for r in found),
        errors=sum(r.errors for r in found),
    )


def _scale_out(folder: Path) -> dict[str, wrk.Result]:
    """One web host against two (durable ack off), alternating over ROUNDS; medians."""
    runs: dict[str, list[wrk.Result]] = {"healthz": [], "one": [], "two": []}
    with drill.Drill(folder, durable="off", workers=False) as setup:
        wrk.run(setup.web_url("web1") + "/healthz", seconds=2)  # warm-up
        for index in range(ROUNDS):
            runs["healthz"].append(
                wrk.run(setup.web_url("web1") + "/healthz", seconds=SECONDS, connections=CONNECTIONS)
            )
            runs["one"].append(_events(setup, folder / "wrk", ["web1"], f"one{index}-"))
            runs["two"].append(_events(setup, folder / "wrk", ["web1", "web2"], f"two{index}-"))
    return {kind: _median(found) for kind, found in runs.items()}


def _durable(folder: Path) -> dict[str, wrk.Result]:
    """web1 with durable ack off and web2 with `replica`, on the same Redis, measured in turn in the
    same rounds (each against its own /healthz), so the machine's background load hits both alike."""
    runs: dict[str, list[wrk.Result]] = {"healthz-off": [], "off": [], "healthz-replica": [], "replica": []}
    hosts = {"off": "web1", "replica": "web2"}
    with drill.Drill(folder, durable="off", workers=False, web_durable={"web2": "replica"}) as setup:
        wrk.run(setup.web_url("web1") + "/healthz", seconds=2)  # warm-up
        for index in range(ROUNDS):
            for mode, host in hosts.items():
                url = setup.web_url(host) + "/healthz"
                runs[f"healthz-{mode}"].append(wrk.run(url, seconds=SECONDS, connections=CONNECTIONS))
                runs[mode].append(_events(setup, folder / "wrk", [host], f"{mode}{index}-"))
    return {kind: _median(found) for kind, found in runs.items()}


def _median(runs: list[wrk.Result]) -> wrk.Result:
    ordered = sorted(runs, key=lambda r: r.requests_per_second)
    middle = ordered[len(ordered) // 2]
    return wrk.Result(
        middle.requests_per_second, middle.p50_ms, middle.p99_ms, sum(r.requests for r in runs),
        sum(r.errors for r in runs),
    )  # fmt: skip


def section(ctx) -> list[str]:
    reason = netns.available()
    if reason:
        return [
            "## Past one host: Sentinel failover and two web hosts (issue 16): not measured",
            "",
            reason,
            "",
        ]
    try:
        scale = _scale_out(ctx.folder / "ha-scale")
        durable = _durable(ctx.folder / "ha-durable")
    except Exception:
        traceback.print_exc()  # bench/run.py reports only the exception's name
        raise
    drills = []  # three drills for the p50, both modes: the time to 202 again should not depend on it
    for n, mode in enumerate(("replica", "off", "replica")):
        try:
            drills.append(drill.run_drill(mode, 60, 6, lag=0.0, folder=ctx.folder / f"ha-drill-{n}"))
        except Exception:  # one drill broken by the machine's load must not lose the others
            traceback.print_exc()
            ctx.notes.append(f"drill {n + 1} ({mode}) failed: see the traceback on stderr")
    return _scale_lines(scale) + _durable_lines(durable, scale) + _drill_lines(drills, ctx.notes)


def _scale_lines(scale: dict[str, wrk.Result]) -> list[str]:
    base, one, two = (scale[kind].requests_per_second for kind in ("healthz", "one", "two"))
    return [
        "## Past one host: Sentinel failover and two web hosts (issue 16)",
        "",
        "The failover drill's hosts (network namespaces on this machine): Redis primary, two replicas and",
        "three Sentinels; web hosts with one gunicorn worker (6 threads) each, reaching Redis through the",
        f"Sentinels as the `meetbridge-web` ACL user. wrk with {CONNECTIONS} keep-alive connections in all",
        f"(split between the hosts), {SECONDS} s runs, signed unique events; the median of {ROUNDS}",
        "alternating rounds. All hosts (and wrk) share this machine's 2 cores.",
        "",
        "One web host against two (durable ack off):",
        "",
        "| /healthz (1 host) | events, 1 host | ratio | events, 2 hosts | ratio | 2 hosts / 1 |",
        "|---:|---:|---:|---:|---:|---:|",
        f"| {base:,.0f}/s | {one:,.0f}/s (p99 {scale['one'].p99_ms:.1f} ms) | {one / base:.2f} "
        f"| {two:,.0f}/s (p99 {scale['two'].p99_ms:.1f} ms) | {two / base:.2f} | **{two / one:.2f}** |",
        "",
    ]


def _durable_lines(durable: dict[str, wrk.Result], scale: dict[str, wrk.Result]) -> list[str]:
    ratios = {
        mode: durable[mode].requests_per_second / durable[f"healthz-{mode}"].requests_per_second
        for mode in ("off", "replica")
    }
    errors = sum(r.errors for found in (scale, durable) for r in found.values())
    lines = [
        "Durable ack off (web1) and `replica` (web2: WAIT for one of two replicas after each batch), on",
        "the same Redis, measured in turn in the same rounds, each against its own host's /healthz:",
        "",
        "| durable ack | /healthz | events/s | p50 | p99 | ratio to /healthz |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for mode in ("off", "replica"):
        found, healthz = durable[mode], durable[f"healthz-{mode}"]
        lines.append(
            f"| {mode} | {healthz.requests_per_second:,.0f}/s | {found.requests_per_second:,.0f}/s "
            f"| {found.p50_ms:.1f} ms | {found.p99_ms:.1f} ms | {ratios[mode]:.2f} |"
        )
    relative = ratios["replica"] / ratios["off"]
    return lines + [
        "",
        f"`replica` against `off`: **{relative:.2f}** (wrk errors and non-2xx: {errors}).",
        "",
    ]


def _drill_lines(drills: list, notes: list[str]) -> list[str]:
    lines = [
        "Failover: the primary SIGKILLed after a third of 60 bookings (6 clients over both web hosts,",
        "retrying with the same `webhook-id` on a 503 as WordPress does); Sentinel down-after 1 s.",
        "",
        "| drill | durable ack | Sentinel promoted | first 202 after the kill | lost | duplicates | 503s |",
        "|---:|---|---:|---:|---:|---:|---:|",
    ]
    for n, result in enumerate(drills, 1):
        promoted, answered = result.sentinel_seconds or 0.0, result.failover_seconds or 0.0
        lines.append(
            f"| {n} | {result.durable} | {promoted:.2f} s | {answered:.2f} s "
            f"| {len(result.lost)} | {len(result.duplicates)} | {result.answers_503} |"
        )
    times = [r.failover_seconds for r in drills if r.failover_seconds is not None]
    p50 = statistics.median(times) if times else float("nan")
    lines += ["", f"**Failover time p50: {p50:.2f} s** (kill -> first 202), over {len(times)} drills.", ""]
    return lines + [f"- {note}" for note in notes if note.startswith("drill")]
