"""Crash points for fault-injection tests: a worker that reaches an armed point dies at once (SIGKILL),
as it would if the machine failed there, or meets a Redis connection error there. Enabled only with
`MEETBRIDGE_FAULT_INJECTION=1` in development mode; otherwise the points do nothing and cost nothing."""

from __future__ import annotations

import logging
import os
import signal

import redis
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


def redis_error_point(name: str) -> None:
    """Raise a Redis connection error here if a test armed this point (as if Redis vanished here)."""
    if not current_app.config.get("FAULT_INJECTION"):
        return
    if redis_client.get().getdel(arm_key(name)) is not None:
        log.warning("fault injection: Redis error in worker %s at %s", os.getpid(), name)
        raise redis.exceptions.ConnectionError(f"fault injection at {name}")
