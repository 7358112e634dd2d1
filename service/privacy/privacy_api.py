"""The sites' privacy rights: `GET /v1/sites/{site_id}/export` and
`DELETE /v1/sites/{site_id}/bookings/{booking_id}`, both signed over `METHOD path` (service.sites.site_auth).

The export is everything MeetBridge holds for the site: its public fields (no signing secret), its
settings, its linked accounts' status (no token, no provider user id) and every booking's metadata as
the booking status shows it, join link and event link opened (they are the site's own data, already
sent to it in the results). Bookings are found by a SCAN of the site's prefix: an export reads the
whole keyspace once, which suits a rare request better than an index paid for by every booking.
"""

from __future__ import annotations

import logging
import re
import time

from flask import Blueprint, jsonify

from service.accounts import vault
from service.bookings import records
from service.crypto import DecryptError
from service.http.web import error_body
from service.privacy import erasure
from service.sites import site_auth, site_settings
from service.sites.registry import Site
from service.storage import keys, redis_client

log = logging.getLogger(__name__)

bp = Blueprint("privacy_api", __name__)

_BOOKING_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


@bp.get("/v1/sites/<site_id>/export")
@site_auth.signed
def export(site: Site):
    site_id = site.id
    r = redis_client.get()
    prefix = keys.booking(site_id, "")
    found = []
    for raw_key in sorted(r.scan_iter(match=prefix + "*", count=1000)):
        booking_id = raw_key.decode()[len(prefix) :]
        record = r.hgetall(raw_key)
        if not record:
            continue  # expired meanwhile
        try:
            found.append(records.describe(site_id, booking_id, record))
        except DecryptError:
            log.error("export of %s: booking %s has a sealed value no key opens", site_id, booking_id)
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


@bp.delete("/v1/sites/<site_id>/bookings/<booking_id>")
@site_auth.signed
def erase(site: Site, booking_id: str):
    if not _BOOKING_ID.match(booking_id):
        return error_body(404, "unknown_booking", "no such booking")
    try:
        outcome = erasure.erase_booking(redis_client.get(), site.id, booking_id)
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
