"""Delivering a result to a WordPress site: a Standard Webhooks-signed POST to its callback URL.

One `webhook-id` per message across all retries (the plugin deduplicates on it); the body's
`timestamp` is when the result was queued. The message carries one signature per secret the site may
still use (Standard Webhooks allows several, space-separated): the current one and, during the grace
period of a `sites rotate-secret`, the previous one, so a WordPress that has not yet been given the new
secret still verifies it. A non-2xx answer or a network error raises, so RQ retries it (intervals in
service.sites.results); a site that no longer exists, or a booking erased since the result was queued,
ends the job quietly.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime

import requests
from flask import current_app
from rq import get_current_job

from service import vault_keys
from service.bookings import lifecycle
from service.sites import registry, results, webhooks
from service.storage import ledger, redis_client
from workers import faults

log = logging.getLogger(__name__)

TIMEOUT = 10
"""Seconds before a delivery attempt gives up."""


class DeliveryFailed(Exception):
    """The site did not acknowledge the result with a 2xx; RQ retries the job."""


def deliver_result(site_id: str, message_id: str, event_type: str, sealed: bytes) -> int:
    """POST one signed result to the site's callback URL.

    Returns:
        The site's HTTP status (2xx), or 0 when the site no longer exists.

    Raises:
        DeliveryFailed: a non-2xx answer, a redirect or a network error.
    """
    r = redis_client.get(current_app)
    site = registry.load(r, vault_keys.get(current_app), site_id)
    if site is None:
        log.warning("result %s not delivered: site %s no longer exists", message_id, site_id)
        r.zrem(ledger.RESULTS, ledger.member(site_id, message_id))
        return 0
    data, _stale = vault_keys.get(current_app).open_json(sealed, results.result_aad(site_id, message_id))
    if "booking_id" in data and lifecycle.is_erased(r, site_id, str(data["booking_id"])):
        log.info("result %s not delivered: its booking was erased", message_id)  # e.g. retried after it
        r.zrem(ledger.RESULTS, ledger.member(site_id, message_id))
        return 0
    body = json.dumps(
        {"type": event_type, "timestamp": _queued_at(), "data": data}, separators=(",", ":")
    ).encode()
    headers = webhooks.signature_headers(site.active_keys(), message_id, int(time.time()), body)
    headers["Content-Type"] = "application/json"
    faults.crash_point("before_result_post")
    try:
        answer = _session().post(
            site.callback_url, data=body, headers=headers, timeout=TIMEOUT, allow_redirects=False
        )
    except requests.RequestException as exc:
        log.warning("result %s to site %s: %s", message_id, site_id, type(exc).__name__)
        raise DeliveryFailed(f"network error: {type(exc).__name__}") from None
    if not 200 <= answer.status_code < 300:
        log.warning("result %s to site %s: HTTP %s", message_id, site_id, answer.status_code)
        raise DeliveryFailed(f"the site answered HTTP {answer.status_code}")
    log.info("result %s %s delivered to site %s", event_type, message_id, site_id)
    r.zrem(ledger.RESULTS, ledger.member(site_id, message_id))
    return answer.status_code


def _session() -> requests.Session:
    """One session per worker process: connections to sites are reused between deliveries."""
    session = current_app.extensions.get("meetbridge.deliver_session")
    if session is None:
        session = current_app.extensions["meetbridge.deliver_session"] = requests.Session()
    return session


def _queued_at() -> str:
    job = get_current_job()
    moment = (job.created_at if job is not None else None) or datetime.now(UTC)  # stable across retries
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
