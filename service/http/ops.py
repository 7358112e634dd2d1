"""Operations endpoints: `/healthz` (the process answers), `/readyz` (Redis and the vault usable),
`/metrics` (Prometheus text format)."""

from __future__ import annotations

import logging

import redis
from flask import Blueprint, Response, jsonify

from service import metrics, vault_keys
from service.storage import queues, redis_client

log = logging.getLogger(__name__)

bp = Blueprint("ops", __name__)


@bp.get("/healthz")
def healthz():
    return jsonify(status="ok")


def _check_redis() -> str:
    try:
        redis_client.get().ping()
    except redis.RedisError as exc:
        log.warning("readiness: redis unreachable: %s", type(exc).__name__)
        return "unreachable"
    return "ok"


def _check_vault() -> str:
    keyring = vault_keys.get()
    probe = b"readyz"
    try:
        plain, _stale = keyring.open(keyring.seal(probe, b"readyz"), b"readyz")
    except Exception:  # any failure means the vault is unusable
        log.exception("readiness: vault unusable")
        return "unusable"
    return "ok" if plain == probe else "unusable"


@bp.get("/readyz")
def readyz():
    checks = {"redis": _check_redis(), "vault": _check_vault()}
    ready = all(value == "ok" for value in checks.values())
    return jsonify(status="ready" if ready else "not_ready", checks=checks), 200 if ready else 503


@bp.get("/metrics")
def metrics_page():
    connection = redis_client.get()
    try:
        body = metrics.render(lambda: queues.all_queues(connection), connection)
    except redis.RedisError:
        body = metrics.render(lambda: [], None)
    return Response(body, mimetype="text/plain; version=0.0.4; charset=utf-8")
