"""Operator command: `flask --app service ledger` lists the work MeetBridge owes, by id only.

Bookings whose newest revision is not settled yet and results not yet delivered to their site
(service.storage.ledger), soonest first, with when the reconciler looks at each next and why it is
owed (the booking's state and revision, or that a result waits for delivery). Never a name, an
e-mail, a title or a link.
"""

from __future__ import annotations

import json
import time

import click
from flask.cli import with_appcontext

from service.storage import keys, ledger, redis_client


@click.command("ledger")
@click.option("--limit", type=click.IntRange(min=1), default=100, show_default=True, help="Entries per kind.")
@with_appcontext
def ledger_command(limit: int) -> None:
    """List owed bookings and results (ids, state, when next looked at) as JSON."""
    r = redis_client.get()
    now = time.time()
    body: dict = {}
    for kind in ledger.KINDS:
        summary = ledger.summary(r, kind, now)
        entries = []
        for site_id, item_id, due in ledger.listing(r, kind, limit):
            entry = {"site_id": site_id, ("booking_id" if kind == "bookings" else "message_id"): item_id}
            entry["next_look_in_seconds"] = round(due - now, 1)
            entry["why"] = _why_booking(r, site_id, item_id) if kind == "bookings" else "not delivered yet"
            entries.append(entry)
        body[kind] = {
            "owed": summary.size,
            "past_lease": summary.overdue,
            "oldest_past_lease_seconds": round(summary.oldest_due_seconds, 1),
            "entries": entries,
        }
    click.echo(json.dumps(body, indent=2))


def _why_booking(r, site_id: str, booking_id: str) -> str:
    rev, applied, state, healed = r.hmget(
        keys.booking(site_id, booking_id), "rev", "applied", "state", "heals"
    )
    if rev is None:
        return "erased (leaves the ledger on the next pass)"
    text = f"revision {int(rev)} not settled (state {state.decode() if state else '?'}"
    text += f", last settled revision {int(applied)}" if applied else ""
    text += f", put back {int(healed)} time(s)" if healed else ""
    return text + ")"
