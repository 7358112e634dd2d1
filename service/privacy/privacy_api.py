"""The sites' privacy rights: `GET /v1/sites/{site_id}/export` and
`DELETE /v1/sites/{site_id}/bookings/{booking_id}`, both signed over `METHOD path` (service.sites.site_auth).

The export is everything MeetBridge holds for the site: its public fields (no signing secret), its
settings, its linked accounts' status (no token, no provider user id) and every booking's metadata as
the booking status shows it, join link and event link opened (they are the site's own data, already
sent to it in the results). Bookings come from the site's booking index (service.bookings.lifecycle),
read in pipelined batches: an export costs what the site holds, not what the server holds.

Both are limited per site (a fixed window counted in Redis, after the signature is verified, so nobody
else can use up a site's allowance): over the limit the answer is `429 rate_limited` with `Retry-After`.
"""

from __future__ import annotations

import logging
import re
import time

import redis
from flask import Blueprint, Response, jsonify

from service.accounts import vault
from service.bookings import lifecycle, records
from service.crypto import DecryptError
from service.http.web import error_body
from service.privacy import erasure
from service.sites import site_auth, site_settings
from service.sites.registry import Site
from service.storage import keys, redis_client

log = logging.getLogger(__name__)

bp = Blueprint("privacy_api", __name__)

_BOOKING_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")

#: Requests allowed per site in one fixed window: (requests, window seconds). An export reads every
#: booking of the site; an erasure calls Google and Zoom (WordPress's eraser sends one per booking).
LIMITS = {"export": (5, 600), "erase": (60, 60)}
#: Records read per pipelined round trip of an export.
BATCH = 500

# KEYS: the counter. ARGV: window seconds. Returns {count in this window, seconds until it ends}.
_COUNT = """
local count = redis.call('INCR', KEYS[1])
local ttl = redis.call('TTL', KEYS[1])
if ttl < 0 then
  redis.call('EXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {count, ttl}
"""


def _over_limit(r: redis.Redis, site_id: str, kind: str) -> Response | None:
    """The 429 answer when the site has used up this window's allowance of `kind`, else None."""
    limit, window = LIMITS[kind]
    count, ttl = r.eval(_COUNT, 1, keys.rate_limit(site_id, kind), window)
    if int(count) <= limit:
        return None
    wait = max(1, int(ttl))
    log.warning("site %s: %s refused, over %d per %d s", site_id, kind, limit, window)
    answer = error_body(
        429,
        "rate_limited",
        f"at most {limit} {kind} requests per {window} s for a site; retry after {wait} s",
    )
    answer.headers["Retry-After"] = str(wait)
    return answer


@bp.get("/v1/sites/<site_id>/export")
@site_auth.signed
def export(site: Site):
    site_id = site.id
    r = redis_client.get()
    refused = _over_limit(r, site_id, "export")
    if refused is not None:
        return refused
    found = _bookings(r, site_id)
    log.info("site %s exported (%d bookings)", site_id, len(found))
    return jsonify(
        {
            "site": site.public(),
            "settings": site_settings.load(r, site_id),
            "accounts": vault.list_site(r, site_id),
            "bookings": found,
            "exported_at": vault.rfc3339(time.time()),
        }
    )


def _bookings(r: redis.Redis, site_id: str) -> list[dict]:
    """Every booking of the site as the booking status shows it, from the site's index; ids whose record
    is gone (expired after the retention window) and that have no tombstone leave the index."""
    booking_ids = sorted(raw.decode() for raw in r.smembers(keys.site_bookings(site_id)))
    found, gone = [], []
    for start in range(0, len(booking_ids), BATCH):
        chunk = booking_ids[start : start + BATCH]
        pipe = r.pipeline(transaction=False)
        for booking_id in chunk:
            pipe.hgetall(keys.booking(site_id, booking_id))
        for booking_id, record in zip(chunk, pipe.execute(), strict=True):
            if not record:
                gone.append(booking_id)  # erased, or expired
                continue
            try:
                found.append(records.describe(site_id, booking_id, record))
            except DecryptError:
                log.error("export of %s: booking %s has a sealed value no key opens", site_id, booking_id)
    lifecycle.prune_site_index(r, site_id, gone)
    return found


@bp.delete("/v1/sites/<site_id>/bookings/<booking_id>")
@site_auth.signed
def erase(site: Site, booking_id: str):
    r = redis_client.get()
    refused = _over_limit(r, site.id, "erase")
    if refused is not None:
        return refused
    if not _BOOKING_ID.match(booking_id):
        return error_body(404, "unknown_booking", "no such booking")
    try:
        outcome = erasure.erase_booking(r, site.id, booking_id)
    except erasure.ProviderBusy as exc:
        return error_body(503, "busy", str(exc))
    if outcome is None:
        return error_body(404, "unknown_booking", "no such booking")
    return jsonify(
        {
            "booking_id": booking_id,
            "deleted": True,
            "zoom_meeting": outcome.get("zoom_meeting", "none"),
            "google_event": outcome.get("google_event", "none"),
            "jobs_removed": outcome["jobs_removed"],
        }
    )
