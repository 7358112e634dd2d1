"""OpenAPI entries of issue 6: privacy (export, booking erasure), site settings and Zoom's webhooks.
Merged into the document by service/openapi.py; kept here so that file only gains a few lines."""

from __future__ import annotations

from typing import Any

from service import openapi as o
from service.sites.settings_api import BOUNDS


def erase_booking_operation() -> dict[str, Any]:
    """`DELETE /v1/sites/{site_id}/bookings/{booking_id}`, next to the booking's GET."""
    return o._operation(
        "eraseBooking",
        "Erase a booking now",
        "Deletes the booking's Zoom meeting (already gone counts as done) and its Google Calendar event "
        "(attendees are not e-mailed), then its metadata, its index entries and every job of it (queued, "
        "scheduled, failed or finished). `zoom_meeting` and `google_event` say what happened at each "
        "provider: `unreachable` when the staff member's account is no longer linked or must be linked "
        "again (the booking is erased anyway). A provider that cannot be reached, or a sync of the booking "
        "still running after 15 s, erases nothing: `503 busy`, retry. Signed over `DELETE {path}`.",
        security="SiteRequestSignature",
        parameters=o._signature_headers(),
        responses={
            "200": o._json("Erased.", {"$ref": "#/components/schemas/BookingErased"}),
            "401": o._error(*o._UNAUTHORIZED),
            "404": o._error(
                "No such site, or nothing held for this booking.",
                ["unknown_site", "unknown_booking", "not_found"],
            ),
            "503": o._error(*o._UNAVAILABLE, extra_codes=["busy"]),
        },
    )


def paths() -> dict[str, Any]:
    return {
        "/v1/sites/{site_id}/export": {
            "parameters": [o._ref_param("SiteId")],
            "get": o._operation(
                "exportSite",
                "Everything held for the site",
                "The site's public fields, its settings, its linked accounts' status and every booking's "
                "metadata as the booking status shows it (join and event links included: they are the "
                "site's own data). Never a signing secret, a token or a provider user id. Signed over "
                "`GET {path}`.",
                security="SiteRequestSignature",
                parameters=o._signature_headers(),
                responses={
                    "200": o._json("The export.", {"$ref": "#/components/schemas/SiteExport"}),
                    "401": o._error(*o._UNAUTHORIZED),
                    "404": o._error(*o._UNKNOWN_SITE),
                    "503": o._error(*o._UNAVAILABLE),
                },
            ),
        },
        "/v1/sites/{site_id}/settings": {
            "parameters": [o._ref_param("SiteId")],
            "put": o._operation(
                "putSettings",
                "Change the site's settings",
                "Any subset of the settings; the answer has all of them. `grace_minutes`: how long after "
                "a booking's end its Zoom meeting is deleted; `retention_days`: how long after the end its "
                "metadata is kept. A change applies to bookings synced from then on. Signed like an event "
                "(over the body); each `webhook-id` is used once.",
                security="SiteSignature",
                parameters=o._signature_headers(),
                request_body={
                    "required": True,
                    "content": {o.JSON: {"schema": {"$ref": "#/components/schemas/SettingsUpdate"}}},
                },
                responses={
                    "200": o._json("The site's settings now.", {"$ref": "#/components/schemas/SiteSettings"}),
                    "400": o._error("The body is not valid JSON.", ["malformed_json"]),
                    "401": o._error(*o._UNAUTHORIZED),
                    "404": o._error(*o._UNKNOWN_SITE),
                    "409": o._error("This `webhook-id` was already used.", ["replayed_request"]),
                    "415": o._error("The body is not `application/json`.", ["unsupported_media_type"]),
                    "422": o._error(
                        "An unknown setting, a wrong type or a value out of range (`field` names it).",
                        ["invalid_settings"],
                        field=True,
                    ),
                    "503": o._error(*o._UNAVAILABLE),
                },
            ),
        },
        "/v1/zoom/events": {
            "post": o._operation(
                "zoomEvents",
                "Zoom's webhooks",
                "Called by Zoom (Event Subscriptions). `x-zm-signature` must be `v0=` + hex HMAC-SHA256 of "
                "`v0:{x-zm-request-timestamp}:{raw body}` keyed with `ZOOM_WEBHOOK_SECRET_TOKEN`, and the "
                "timestamp (Unix seconds) within 5 minutes. `endpoint.url_validation` is answered with "
                "`plainToken` and `encryptedToken` (hex HMAC-SHA256 of it); `meeting.ended` makes the "
                "booking's cleanup due now (`scheduled`); `app_deauthorized` deletes the tokens of every "
                "account linked to that Zoom user and their bookings' Zoom data, and tells each site "
                "`account.needs_relink` (`deleted`); other events are `ignored`.",
                tag="zoom",
                parameters=[
                    o._header_param("x-zm-signature", "`v0=` + hex HMAC-SHA256.", {"type": "string"}),
                    o._header_param(
                        "x-zm-request-timestamp", "Unix seconds.", {"type": "string", "pattern": "^[0-9]+$"}
                    ),
                ],
                request_body={
                    "required": True,
                    "content": {o.JSON: {"schema": {"$ref": "#/components/schemas/ZoomEvent"}}},
                },
                responses={
                    "200": o._json("Handled.", {"$ref": "#/components/schemas/ZoomEventAnswer"}),
                    "400": o._error("The body is not valid JSON.", ["malformed_json"]),
                    "401": o._error(
                        "Missing or wrong signature, or a stale timestamp.",
                        ["bad_signature", "timestamp_out_of_tolerance"],
                    ),
                    "422": o._error(
                        "A field the event needs is missing (`field` names it).",
                        ["invalid_event"],
                        field=True,
                    ),
                    "503": o._error(*o._UNAVAILABLE),
                },
            ),
        },
    }


def schemas() -> dict[str, Any]:
    provider_outcome = {"enum": ["deleted", "already_gone", "none", "unreachable"]}
    settings = o._closed(
        {
            "grace_minutes": {"type": "integer", "minimum": BOUNDS["grace_minutes"][0],
                              "maximum": BOUNDS["grace_minutes"][1]},
            "retention_days": {"type": "integer", "minimum": BOUNDS["retention_days"][0],
                               "maximum": BOUNDS["retention_days"][1]},
            "send_invites": {"type": "boolean"},
            "waiting_room": {"type": "boolean"},
            "join_before_host": {"type": "boolean"},
        }
    )  # fmt: skip
    update = {**settings, "required": [], "minProperties": 1}
    return {
        "BookingErased": o._closed(
            {
                "booking_id": {"type": "string"},
                "deleted": {"const": True},
                "zoom_meeting": provider_outcome,
                "google_event": provider_outcome,
                "jobs_removed": {"type": "integer", "minimum": 0},
            }
        ),
        "SiteSettings": settings,
        "SettingsUpdate": update,
        "SiteExport": o._closed(
            {
                "site": o._closed(
                    {
                        "site_id": {"type": "string"},
                        "name": {"type": "string"},
                        "url": {"type": "string"},
                        "callback_url": {"type": "string"},
                        "created_at": {"type": "number", "description": "Unix seconds."},
                    }
                ),
                "settings": {"$ref": "#/components/schemas/SiteSettings"},
                "accounts": {"type": "array", "items": {"$ref": "#/components/schemas/Account"}},
                "bookings": {"type": "array", "items": {"$ref": "#/components/schemas/BookingStatus"}},
                "exported_at": o._TIMESTAMP,
            }
        ),
        "ZoomEvent": {
            "type": "object",
            "required": ["event", "payload"],
            "properties": {
                "event": {"type": "string"},
                "event_ts": {"type": "integer"},
                "payload": {"type": "object"},
            },
        },
        "ZoomEventAnswer": {
            "oneOf": [
                o._closed({"plainToken": {"type": "string"}, "encryptedToken": {"type": "string"}}),
                o._closed({"status": {"enum": ["ignored", "scheduled"]}}),
                o._closed({"status": {"const": "deleted"}, "accounts": {"type": "integer", "minimum": 0}}),
            ]
        },
    }
