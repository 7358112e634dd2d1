"""Queueing a signed result for a site (`account.needs_relink`, later the booking results).

The job is `workers.deliver.deliver_result`; it retries with exponential backoff for more than 24
hours (DESIGN section 3). `data` is sealed in the job: a booking result carries the join link; a
delivered job is deleted at once (`result_ttl` 0). The result is owed in the ledger
(service.storage.ledger) until it is delivered, so a delivery job that vanishes is put back by the
reconciler, and its job is named in its booking's (or site's) index for erasure.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

import redis
from rq import Queue, Retry

from service import vault_keys
from service.bookings import lifecycle
from service.storage import ledger
from service.storage.queues import DELIVER

log = logging.getLogger(__name__)

DELIVER_JOB = "workers.deliver.deliver_result"
"""The job that POSTs a result to the site's callback URL."""

RETRY_INTERVALS = (30, 60, 120, 300, 600, 1800, 3600, 7200, 14400, 28800, 28800, 28800)
"""Seconds between delivery attempts: 30 s doubling-ish up to 8 h; about 31.8 h in all."""

FAILURE_TTL = 7 * 24 * 3600
"""How long a delivery that gave up is kept for inspection."""

JOB_TIMEOUT = 20
"""Seconds one delivery attempt may run before RQ stops it (its POST gives up after 10 s without a
connection or an answer). An attempt still marked started after this long has lost its worker."""


def result_aad(site_id: str, message_id: str) -> bytes:
    """Associated data of a queued result's sealed `data`."""
    return f"result|{site_id}|{message_id}".encode()


def enqueue_result(
    connection: redis.Redis,
    site_id: str,
    event_type: str,
    data: dict[str, Any],
    *,
    booking_id: str | None = None,
    pipeline: redis.client.Pipeline | None = None,
) -> str:
    """Queue the delivery of one result to the site.

    Args:
        connection: Redis.
        site_id: the site to tell.
        event_type: e.g. `account.needs_relink`, `booking.synced`.
        data: the event's `data` object. It is sealed with the vault keys inside the job (a booking
            result carries the join link), so nothing of it is in Redis or in RQ's logs in the clear.
        booking_id: the booking the result is about: its job is named in the booking's index (else in
            the site's), so erasing the booking or the site deletes it.
        pipeline: queue the job as part of this (transactional) pipeline instead of at once.

    Returns:
        The message id, the `webhook-id` of every delivery attempt of this result.
    """
    message_id = f"msg_{uuid.uuid4().hex}"
    sealed = vault_keys.get().seal_json(data, result_aad(site_id, message_id))
    pipe = pipeline if pipeline is not None else connection.pipeline(transaction=True)
    Queue(DELIVER, connection=connection).enqueue(
        DELIVER_JOB,
        site_id,
        message_id,
        event_type,
        sealed,
        job_id=message_id,  # the reconciler finds the job of an owed result by its id
        pipeline=pipe,
        retry=Retry(max=len(RETRY_INTERVALS), interval=list(RETRY_INTERVALS)),
        failure_ttl=FAILURE_TTL,
        result_ttl=0,  # delivered: the job and its sealed payload are deleted at once
        job_timeout=JOB_TIMEOUT,
        description=f"deliver {event_type} {message_id}",
    )
    lifecycle.index_job(pipe, site_id, booking_id, message_id)
    ledger.owe(pipe, "results", site_id, message_id)
    if pipeline is None:
        pipe.execute()
    log.info("result %s %s queued for site %s", event_type, message_id, site_id)
    return message_id
