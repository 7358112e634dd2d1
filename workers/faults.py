"""Crash points for fault-injection tests: a worker that reaches an armed point dies at once (SIGKILL),
as it would if the machine failed there. Enabled only with `MEETBRIDGE_FAULT_INJECTION=1` in
development mode; otherwise `crash_point` does nothing and costs nothing."""

from __future__ import annotations

import logging
import os
import signal

from flask import current_app

from service.storage import redis_client

log = logging.getLogger(__name__)


def arm_key(name: str) -> str:
    """The Redis key a test sets to arm the crash point `name` (it fires once)."""
    return f"mb:fault:{name}"


def crash_point(name: str) -> None:
    """Die here if a test armed this point."""
    if not current_app.config.get("FAULT_INJECTION"):
        return
    if redis_client.get().getdel(arm_key(name)) is not None:
        log.warning("fault injection: killing worker %s at %s", os.getpid(), name)
        os.kill(os.getpid(), signal.SIGKILL)
