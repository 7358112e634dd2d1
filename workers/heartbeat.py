"""A tiny cron job that proves the cron -> queue -> worker path works: it records when it last ran."""

from __future__ import annotations

import time

from rq import get_current_job

from service.storage.queues import HEARTBEAT_KEY


def beat() -> float:
    """Store the current time under `HEARTBEAT_KEY` (read by `/metrics`); returns it."""
    now = time.time()
    get_current_job().connection.set(HEARTBEAT_KEY, repr(now))
    return now
