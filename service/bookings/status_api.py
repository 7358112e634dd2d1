"""`GET /v1/sites/{site_id}/bookings/{booking_id}`: a booking's sync state, for its site only.

The request is signed like an event; having no body, it signs `GET {path}` (see service.sites.site_auth).
"""

from __future__ import annotations

import re

from flask import Blueprint, jsonify

from service.bookings import records
from service.http.web import error_body
from service.sites import site_auth
from service.sites.registry import Site
from service.storage import keys, redis_client

bp = Blueprint("bookings", __name__)

_BOOKING_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


@bp.get("/v1/sites/<site_id>/bookings/<booking_id>")
@site_auth.signed
def status(site: Site, booking_id: str):
    if not _BOOKING_ID.match(booking_id):
        return error_body(404, "unknown_booking", "no such booking")
    record = redis_client.get().hgetall(keys.booking(site.id, booking_id))
    if not record:
        return error_body(404, "unknown_booking", "no such booking")
    return jsonify(records.describe(site.id, booking_id, record))
