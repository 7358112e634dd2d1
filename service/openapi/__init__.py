"""`GET /openapi.json`: the HTTP API as an OpenAPI 3.1 document, built here in Python.

`document(public_url)` returns the whole document. Every route of the app has one entry in `_paths()`,
in the order a reader meets them (what sites call first, operations last); tests/test_openapi.py fails
when a route exists in the app but not here (or the reverse), and drives every documented status code
through the app to validate the real bodies against the schemas below.

To document a new route: add one `"/path/{param}": {"get": _operation(...)}` entry to `_paths()`, using
`_json(...)`/`_error(...)` for its answers, then add a case per status code to tests/test_openapi.py.

Response schemas are closed (`additionalProperties: false`) so the tests notice any field the document
does not mention; clients should still ignore fields they do not know, as answers may grow.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, current_app

from service.bookings import booking_schema

bp = Blueprint("openapi", __name__)

OPENAPI_VERSION = "3.1.0"
JSON = "application/json"
_ERROR_REF = {"$ref": "#/components/schemas/Error"}

SIGNING = """\
## Authentication: Standard Webhooks signatures

Every `/v1/sites/{site_id}/...` request is signed by the site with its secret (`whsec_` + base64, as
printed by `flask --app service sites create`), following the
[Standard Webhooks](https://www.standardwebhooks.com/) specification (symmetric `v1` scheme):

- `webhook-id`: a unique id for the message, 1-256 printable ASCII characters without spaces or `.`;
  for events it is also the idempotency key (reuse it when retrying the same event).
- `webhook-timestamp`: the time of sending, integer Unix seconds. It must be within **5 minutes**
  (300 s) of MeetBridge's clock, in either direction.
- `webhook-signature`: `v1,<base64 HMAC-SHA256>` of `{webhook-id}.{webhook-timestamp}.{payload}`,
  keyed with the base64-decoded secret. Several space-separated entries are accepted
  (`v1,<sig-a> v1,<sig-b>`): during a secret rotation the site may sign with the old and the new
  secret, and either one matching is enough. Entries of other versions are ignored.

What `{payload}` is:

- requests with a body (`POST`): the raw body bytes exactly as sent;
- requests without a body (`GET`, `DELETE`): the line `{METHOD} {path}` (plus `?{query}` when there
  is a query string), so a booking status request signs `GET {path}`, e.g.
  `GET /v1/sites/site_abc/bookings/123` (no trailing newline). MeetBridge checks the path it
  received after percent-decoding; site and booking ids use URL-safe characters only, so for any
  valid request the two forms are the same.

A missing, malformed or non-matching signature, or a timestamp out of tolerance, is `401`; an unknown
site is `404` (after the same amount of work as a bad signature).

## Errors

Errors are JSON `{"error": code, "message": text}` (plus `field` for `422`), never a traceback. Every
answer carries an `X-Request-ID` header (the request's own, when it sent a well-formed one).
"""


def document(public_url: str) -> dict[str, Any]:
    """The OpenAPI 3.1 document of the API served at `public_url` (the configured PUBLIC_URL)."""
    return {
        "openapi": OPENAPI_VERSION,
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "info": {
            "title": "MeetBridge",
            "version": "1",
            "summary": "Syncs WordPress bookings to Google Calendar and Zoom.",
            "description": SIGNING,
        },
        "servers": [{"url": public_url.rstrip("/")}],
        "tags": [
            {"name": "sites", "description": "Called by WordPress sites; signed with the site's secret."},
            {"name": "browser", "description": "Pages for a site admin's browser (connect screens)."},
            {"name": "operations", "description": "Health, readiness, metrics and this document."},
            {"name": "zoom", "description": "Called by Zoom; signed with the app's webhook secret token."},
        ],
        "paths": _paths(),
        "components": _components(),
    }


def _paths() -> dict[str, Any]:
    """One entry per route, in reading order."""
    return {
        "/v1/sites/{site_id}/events": {
            "parameters": [_ref_param("SiteId")],
            "post": _operation(
                "receiveEvent",
                "Send a booking event",
                "A booking was created, updated (rescheduled or edited) or cancelled on the site. "
                "Checked in this order: site and signature (404, 401; 413 over 64 KiB), media type "
                "(415), JSON (400), schema (422); then the event is stored and its sync job queued "
                "in one atomic step (202). An event whose `booking.revision` is not newer than the "
                "newest accepted for that booking is acknowledged and ignored (202, `status: "
                "ignored`), so a late update never undoes a cancellation. Retrying with the same "
                "`webhook-id` answers 200 with the first answer's body and queues nothing.",
                security="SiteSignature",
                parameters=_signature_headers(),
                request_body={
                    "required": True,
                    "description": "The event. At most 64 KiB.",
                    "content": {JSON: {"schema": {"$ref": "#/components/schemas/BookingEvent"}}},
                },
                responses={
                    "200": _json(
                        "A retry of a `webhook-id` already seen: the first answer's body, nothing queued.",
                        {"$ref": "#/components/schemas/EventReceipt"},
                    ),
                    "202": _json(
                        "Accepted and durably queued (`status: accepted`), or acknowledged and ignored "
                        "because a newer or equal revision was already accepted (`status: ignored`).",
                        {"$ref": "#/components/schemas/EventReceipt"},
                    ),
                    "400": _error("The body is not valid JSON.", ["malformed_json"]),
                    "401": _error(*_UNAUTHORIZED),
                    "404": _error(*_UNKNOWN_SITE),
                    "413": _error("The body is over 64 KiB.", ["request_entity_too_large"]),
                    "415": _error("The body is not `application/json`.", ["unsupported_media_type"]),
                    "422": _error(
                        "Valid JSON that breaks the schema; `field` names the first offending field as "
                        "a dotted path (e.g. `booking.start`, or `(root)`).",
                        ["invalid_event"],
                        field=True,
                    ),
                    "503": _error(*_UNAVAILABLE, extra_codes=["not_queued"]),
                },
            ),
        },
        "/v1/sites/{site_id}/bookings/{booking_id}": {
            "parameters": [_ref_param("SiteId"), _ref_param("BookingId")],
            "get": _operation(
                "getBooking",
                "A booking's sync state",
                "The booking's sync state as seen by MeetBridge. Signed like an event, but the "
                "signature covers the line `GET {path}` (e.g. `GET /v1/sites/site_abc/bookings/123`) "
                "in place of a body.",
                security="SiteRequestSignature",
                parameters=_signature_headers(),
                responses={
                    "200": _json("The booking.", {"$ref": "#/components/schemas/BookingStatus"}),
                    "401": _error(*_UNAUTHORIZED),
                    "404": _error(
                        "No such site, or no such booking for this site.",
                        ["unknown_site", "unknown_booking", "not_found"],
                    ),
                    "503": _error(*_UNAVAILABLE),
                },
            ),
            "delete": _privacy().erase_booking_operation(),
        },
        **_linking_paths(),
        **_availability_paths(),
        **_privacy().paths(),
        "/healthz": {
            "get": _operation(
                "healthz",
                "Liveness",
                "200 while the process answers; checks nothing else.",
                tag="operations",
                responses={"200": _json("The process runs.", _closed({"status": {"const": "ok"}}))},
            ),
        },
        "/readyz": {
            "get": _operation(
                "readyz",
                "Readiness",
                "200 when Redis answers and the vault keys encrypt and decrypt; 503 naming the failing "
                "check otherwise.",
                tag="operations",
                responses={
                    "200": _json("Ready.", _readiness("ready", {"const": "ok"})),
                    "503": _json("Not ready.", _readiness("not_ready", {"type": "string"})),
                },
            ),
        },
        "/metrics": {
            "get": _operation(
                "metrics",
                "Prometheus metrics",
                "Prometheus text exposition format (version 0.0.4), merged over every web worker.",
                tag="operations",
                responses={
                    "200": _response("The metrics.", {"text/plain": {"schema": {"type": "string"}}}),
                },
            ),
        },
        "/openapi.json": {
            "get": _operation(
                "openapi",
                "This document",
                "The OpenAPI 3.1 description of this API.",
                tag="operations",
                responses={
                    "200": _json(
                        "The document.",
                        {"type": "object", "required": ["openapi", "info", "paths"]},
                    ),
                },
            ),
        },
    }


_PROVIDER = {"enum": ["google", "zoom"]}
_STAFF_ID = {"type": "string", "pattern": booking_schema.ID_PATTERN, "minLength": 1, "maxLength": 64}
_TIMESTAMP = {"type": "string", "format": "date-time", "description": "RFC 3339, UTC."}


def _html(description: str, location: bool = False) -> dict[str, Any]:
    """An HTML page for a browser (or, with `location`, a 303 redirect whose body is a short HTML note)."""
    answer = _response(description, {"text/html": {"schema": {"type": "string"}}})
    if location:
        answer["headers"]["Location"] = {
            "description": "Where the browser goes next.",
            "schema": {"type": "string"},
        }
    return answer


def _privacy():
    """Issue 6's entries (service/privacy.py), imported late: that module builds on this one."""
    from service.openapi import privacy

    return privacy


def _linking_paths() -> dict[str, Any]:
    """Linking accounts (DESIGN section 3): connect links, the connect screens, the OAuth callbacks and
    the accounts API."""
    return {
        "/v1/sites/{site_id}/connect-links": {
            "parameters": [_ref_param("SiteId")],
            "post": _operation(
                "createConnectLink",
                "Get a link that starts linking a staff account",
                "A single-use URL, valid for at most 10 minutes, for the site admin's browser: it explains "
                "what will be linked, runs the provider's consent (OAuth 2.0 code flow with PKCE S256) and "
                "sends the browser back to `return_url` with `meetbridge_status=connected|error`, "
                "`provider`, `staff_id` and, on error, `reason` (`access_denied`, `provider_error`, "
                "`provider_unreachable`, `browser_mismatch`, `state_mismatch`). `return_url` must be on the "
                "site's registered origin. Each signed request (`webhook-id`) yields one link only.",
                security="SiteSignature",
                parameters=_signature_headers(),
                request_body={
                    "required": True,
                    "content": {JSON: {"schema": {"$ref": "#/components/schemas/ConnectLinkRequest"}}},
                },
                responses={
                    "201": _json("The link.", {"$ref": "#/components/schemas/ConnectLink"}),
                    "400": _error("The body is not valid JSON.", ["malformed_json"]),
                    "401": _error(*_UNAUTHORIZED),
                    "404": _error(*_UNKNOWN_SITE),
                    "409": _error("This `webhook-id` was already used for a link.", ["replayed_request"]),
                    "415": _error("The body is not `application/json`.", ["unsupported_media_type"]),
                    "422": _error(
                        "A field is missing, unknown or wrong (`field` names it); e.g. a `return_url` that "
                        "is not on the site's origin.",
                        ["invalid_request"],
                        field=True,
                    ),
                    "503": _error(*_UNAVAILABLE),
                },
            ),
        },
        "/connect/{token}": {
            "parameters": [_ref_param("ConnectToken")],
            "get": _operation(
                "showConnectPage",
                "The connect screen",
                "An HTML page naming the site, the provider, what will be linked and what happens next, "
                'with a "Continue" form (CSRF token; sets a short-lived HttpOnly browser cookie). Opening '
                "it does not use the link up.",
                tag="browser",
                responses={
                    "200": _html("The connect screen."),
                    "404": _html("The site that made the link was removed."),
                    "410": _html("The link was already used, has expired or never existed."),
                    "503": _error(*_UNAVAILABLE),
                },
            ),
            "post": _operation(
                "startConsent",
                "Continue to the provider",
                "The connect screen's form. Uses the link up (atomically), then redirects to the "
                "provider's consent screen.",
                tag="browser",
                request_body={
                    "required": True,
                    "content": {
                        "application/x-www-form-urlencoded": {
                            "schema": _closed({"csrf": {"type": "string"}}),
                        }
                    },
                },
                responses={
                    "303": _html("To the provider's consent screen.", location=True),
                    "403": _html("The CSRF token or the browser cookie is missing or wrong; nothing used."),
                    "404": _html("The site that made the link was removed."),
                    "410": _html("The link was already used, has expired or never existed."),
                    "503": _error(*_UNAVAILABLE),
                },
            ),
        },
        "/oauth/{provider}/callback": {
            "parameters": [_ref_param("Provider")],
            "get": _operation(
                "oauthCallback",
                "The provider's redirect back",
                "The redirect URI registered with Google (`/oauth/google/callback`) and Zoom "
                "(`/oauth/zoom/callback`). Completes the consent started by the connect screen (same "
                "browser, state used once) and sends the browser back to the site's `return_url` with the "
                "outcome in the query.",
                tag="browser",
                responses={
                    "303": _html("Back to the site's `return_url` with the outcome.", location=True),
                    "400": _html("No consent started here matches `state` (unknown, used or expired)."),
                    "404": _html("The site was removed while its admin was at the provider."),
                    "503": _error(*_UNAVAILABLE),
                },
            ),
        },
        "/v1/sites/{site_id}/accounts": {
            "parameters": [_ref_param("SiteId")],
            "get": _operation(
                "listAccounts",
                "Linked accounts",
                "Every linked account of the site with its status (`needs_relink` when the provider no "
                "longer accepts its grant). Never a token. Signed like the booking status (`GET {path}`).",
                security="SiteRequestSignature",
                parameters=_signature_headers(),
                responses={
                    "200": _json("The accounts.", {"$ref": "#/components/schemas/AccountList"}),
                    "401": _error(*_UNAUTHORIZED),
                    "404": _error(*_UNKNOWN_SITE),
                    "503": _error(*_UNAVAILABLE),
                },
            ),
        },
        "/v1/sites/{site_id}/accounts/{provider}/{staff_id}": {
            "parameters": [_ref_param("SiteId"), _ref_param("Provider"), _ref_param("StaffId")],
            "delete": _operation(
                "unlinkAccount",
                "Unlink an account",
                "Revokes the grant at the provider, then forgets the tokens. When the provider cannot be "
                "reached the account is forgotten anyway and `revoked_at_provider` is false. Signed over "
                "`DELETE {path}`.",
                security="SiteRequestSignature",
                parameters=_signature_headers(),
                responses={
                    "200": _json("Unlinked.", {"$ref": "#/components/schemas/Unlinked"}),
                    "401": _error(*_UNAUTHORIZED),
                    "404": _error("No such site, or no such linked account.", ["unknown_site", "not_linked"]),
                    "503": _error(*_UNAVAILABLE, extra_codes=["busy"]),
                },
            ),
        },
    }


def _availability_paths() -> dict[str, Any]:
    """Busy times of a linked staff member (issue 8)."""

    def query(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
        return {"name": name, "in": "query", "required": True, "description": description, "schema": schema}

    instant = {"type": "string", "format": "date-time"}
    unavailable = _error(
        "Nothing to answer right now; `Retry-After` says when to ask again. `rate_limited`: Google asked "
        "MeetBridge to slow down (for that long MeetBridge does not ask Google again for this staff "
        "member); `provider_unavailable`: Google answered 5xx or could not be reached; `token_busy`: the "
        "account's token is being refreshed; `provider_error`: Google refused the request; "
        "`storage_unavailable`: Redis is unreachable. Show every slot and warn the admin.",
        ["rate_limited", "provider_unavailable", "token_busy", "provider_error", "storage_unavailable"],
    )
    unavailable["headers"]["Retry-After"] = {
        "description": "Whole seconds to wait before asking again.",
        "schema": {"type": "string", "pattern": "^[0-9]+$"},
    }
    return {
        "/v1/sites/{site_id}/availability": {
            "parameters": [_ref_param("SiteId")],
            "get": _operation(
                "getAvailability",
                "When a staff member is busy",
                "The busy periods of the staff member's linked Google Calendar (`primary`) between `from` "
                "and `to`, from Google's freebusy.query: busy periods only, never titles or attendees. "
                "Answers are cached for `MEETBRIDGE_AVAILABILITY_CACHE_SECONDS` (0-60, default 30; "
                "`cached: true` when this answer came from the cache), never longer, and never across an "
                "unlink, relink or token refresh. Signed like the booking status, over the line "
                "`GET {path}?{query}` exactly as sent (e.g. `GET /v1/sites/site_abc/availability?"
                "staff_id=7&from=2026-12-01T00%3A00%3A00Z&to=2026-12-02T00%3A00%3A00Z`).",
                security="SiteRequestSignature",
                parameters=[
                    query("staff_id", "The staff member's id on the site.", _STAFF_ID),
                    query(
                        "from",
                        "Start of the window: RFC 3339 with an offset (`Z` or `±hh:mm`; percent-encode `+` "
                        "as `%2B`, or use `Z`).",
                        instant,
                    ),
                    query("to", "End of the window: after `from`, at most 90 days later.", instant),
                    *_signature_headers(),
                ],
                responses={
                    "200": _json("The busy periods.", {"$ref": "#/components/schemas/Availability"}),
                    "401": _error(*_UNAUTHORIZED),
                    "404": _error(
                        "No such site, or no Google account linked for this staff member.",
                        ["unknown_site", "not_linked", "not_found"],
                    ),
                    "409": _error(
                        "The staff member's Google account must be linked again: Google no longer accepts "
                        "its grant (`needs_relink`), or the grant lacks access to busy times "
                        "(`missing_scope`).",
                        ["needs_relink", "missing_scope"],
                    ),
                    "422": _error(
                        "A parameter is missing, repeated, unknown or wrong (`field` names it): `staff_id`, "
                        "`from`/`to` not RFC 3339 with an offset, `to` not after `from`, or a window over "
                        "90 days (`field: to`).",
                        ["invalid_request"],
                        field=True,
                    ),
                    "503": unavailable,
                },
            ),
        },
    }


def _availability_schemas() -> dict[str, Any]:
    instant = {"type": "string", "format": "date-time", "description": "RFC 3339, UTC (`Z`)."}
    return {
        "Availability": _closed(
            {
                "staff_id": _STAFF_ID,
                "from": instant,
                "to": instant,
                "busy": {
                    "type": "array",
                    "description": "Busy periods within the window, clipped to it, sorted, not overlapping.",
                    "items": _closed({"start": instant, "end": instant}),
                },
                "cached": {"type": "boolean"},
                "fetched_at": {**instant, "description": "When Google was asked (RFC 3339, UTC)."},
            }
        ),
    }


def _linking_schemas() -> dict[str, Any]:
    return {
        "ConnectLinkRequest": _closed(
            {
                "provider": _PROVIDER,
                "staff_id": {**_STAFF_ID, "description": "The staff member's id on the site."},
                "return_url": {
                    "type": "string",
                    "format": "uri",
                    "maxLength": 2000,
                    "description": "Where the browser returns; must be on the site's registered origin.",
                },
            }
        ),
        "ConnectLink": _closed(
            {
                "url": {"type": "string", "format": "uri", "description": "Open in the admin's browser."},
                "expires_at": _TIMESTAMP,
            }
        ),
        "Account": _closed(
            {
                "provider": _PROVIDER,
                "staff_id": _STAFF_ID,
                "status": {"enum": ["active", "needs_relink"]},
                "scopes": {"type": "array", "items": {"type": "string"}},
                "created_at": _TIMESTAMP,
                "updated_at": _TIMESTAMP,
            }
        ),
        "AccountList": _closed(
            {"accounts": {"type": "array", "items": {"$ref": "#/components/schemas/Account"}}}
        ),
        "Unlinked": _closed(
            {
                "provider": _PROVIDER,
                "staff_id": _STAFF_ID,
                "deleted": {"const": True},
                "revoked_at_provider": {"type": "boolean"},
            }
        ),
    }


def _linking_parameters() -> dict[str, Any]:
    def path_param(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
        return {"name": name, "in": "path", "required": True, "description": description, "schema": schema}

    return {
        "Provider": path_param("provider", "`google` or `zoom`.", _PROVIDER),
        "StaffId": path_param("staff_id", "The staff member's id on the site.", {"type": "string"}),
        "ConnectToken": path_param("token", "The random token of a connect link.", {"type": "string"}),
    }


_UNAUTHORIZED = (
    "Missing or bad signature headers, no matching `v1` signature, or a `webhook-timestamp` more than "
    "5 minutes away from the server's clock.",
    ["bad_signature", "timestamp_out_of_tolerance"],
)
_UNKNOWN_SITE = ("No such site.", ["unknown_site", "not_found"])
_UNAVAILABLE = (
    "Storage is unavailable (Redis unreachable or out of memory): nothing was stored; retry later.",
    ["storage_unavailable"],
)


def _components() -> dict[str, Any]:
    return {
        "schemas": {
            "BookingEvent": booking_schema.EVENT_SCHEMA,
            "EventReceipt": {
                "oneOf": [
                    _closed(
                        {
                            "status": {"const": "accepted"},
                            "booking_id": {"type": "string"},
                            "revision": {"type": "integer"},
                            "webhook_id": {"type": "string"},
                        }
                    ),
                    _closed(
                        {
                            "status": {"const": "ignored"},
                            "reason": {"type": "string"},
                            "booking_id": {"type": "string"},
                            "revision": {"type": "integer"},
                            "webhook_id": {"type": "string"},
                        }
                    ),
                ],
            },
            "BookingStatus": _closed(
                {
                    "booking_id": {"type": "string"},
                    "state": {"enum": ["pending", "synced", "failed", "cancelled"]},
                    "revision": {"type": "integer", "minimum": 0},
                    "last_event": {
                        "enum": [*booking_schema.EVENT_TYPES, None],
                        "description": "The type of the newest accepted event.",
                    },
                    "zoom": _closed(
                        {
                            "meeting_id": _nullable("string"),
                            "join_url": _nullable("string", "uri"),
                        }
                    ),
                    "google": _closed(
                        {
                            "event_id": _nullable("string"),
                            "html_link": _nullable("string", "uri"),
                        }
                    ),
                    "last_error": _nullable("string"),
                    "start": _nullable("number", description="Unix seconds."),
                    "end": _nullable("number", description="Unix seconds."),
                    "created_at": _nullable("number", description="Unix seconds of the first event."),
                    "updated_at": _nullable("number", description="Unix seconds of the newest change."),
                }
            ),
            **_linking_schemas(),
            **_availability_schemas(),
            **_privacy().schemas(),
            "Error": {
                "type": "object",
                "required": ["error", "message"],
                "additionalProperties": False,
                "properties": {
                    "error": {"type": "string", "description": "A stable, machine-readable code."},
                    "message": {"type": "string", "description": "What went wrong, in English."},
                    "field": {"type": "string", "description": "The offending field (422 only)."},
                },
            },
        },
        "parameters": {
            "SiteId": {
                "name": "site_id",
                "in": "path",
                "required": True,
                "description": "The site's id, as printed by `sites create`.",
                "schema": {"type": "string"},
            },
            "BookingId": {
                "name": "booking_id",
                "in": "path",
                "required": True,
                "description": "The booking's id on the site (`booking.id` of its events).",
                "schema": {"type": "string"},
            },
            **_linking_parameters(),
            "WebhookId": _header_param(
                "webhook-id",
                "Unique message id; for events also the idempotency key.",
                {"type": "string", "minLength": 1, "maxLength": 256},
            ),
            "WebhookTimestamp": _header_param(
                "webhook-timestamp",
                "Integer Unix seconds; within 5 minutes of the server's clock.",
                {"type": "string", "pattern": "^[0-9]{1,12}$"},
            ),
            "WebhookSignature": _header_param(
                "webhook-signature",
                "One or more space-separated `v1,<base64 HMAC-SHA256>` entries.",
                {"type": "string"},
            ),
        },
        "headers": {
            "X-Request-ID": {
                "description": "The request's id (the client's `X-Request-ID` if well-formed), as logged.",
                "schema": {"type": "string"},
            },
        },
        "securitySchemes": {
            "SiteSignature": {
                "type": "apiKey",
                "in": "header",
                "name": "webhook-signature",
                "description": "Standard Webhooks signature of `{webhook-id}.{webhook-timestamp}.{raw body}` "
                "with the site's secret, sent with `webhook-id` and `webhook-timestamp`.",
            },
            "SiteRequestSignature": {
                "type": "apiKey",
                "in": "header",
                "name": "webhook-signature",
                "description": "Standard Webhooks signature for a request without a body: the signed "
                "payload is `{METHOD} {path}` (e.g. `GET /v1/sites/site_abc/bookings/123`), so the "
                "signature covers `{webhook-id}.{webhook-timestamp}.GET {path}`.",
            },
        },
    }


def _operation(
    operation_id: str,
    summary: str,
    description: str,
    *,
    responses: dict[str, Any],
    tag: str = "sites",
    security: str | None = None,
    parameters: list | None = None,
    request_body: dict | None = None,
) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": operation_id,
        "tags": [tag],
        "summary": summary,
        "description": description,
    }
    if parameters:
        operation["parameters"] = parameters
    if request_body:
        operation["requestBody"] = request_body
    operation["security"] = [{security: []}] if security else []
    operation["responses"] = responses
    return operation


def _response(description: str, content: dict[str, Any]) -> dict[str, Any]:
    return {
        "description": description,
        "headers": {"X-Request-ID": {"$ref": "#/components/headers/X-Request-ID"}},
        "content": content,
    }


def _json(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return _response(description, {JSON: {"schema": schema}})


def _error(
    description: str, codes: list[str], *, field: bool = False, extra_codes: list[str] | None = None
) -> dict[str, Any]:
    """An `Error` answer whose `error` is one of `codes` (+ `extra_codes`); with `field` required."""
    schema: dict[str, Any] = {
        "allOf": [_ERROR_REF],
        "properties": {"error": {"enum": [*codes, *(extra_codes or [])]}},
    }
    if field:
        schema["required"] = ["field"]
    return _json(description, schema)


def _closed(properties: dict[str, Any]) -> dict[str, Any]:
    """An object with exactly these properties, all required."""
    return {
        "type": "object",
        "required": list(properties),
        "additionalProperties": False,
        "properties": properties,
    }


def _nullable(kind: str, fmt: str | None = None, *, description: str | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": [kind, "null"]}
    if fmt:
        schema["format"] = fmt
    if description:
        schema["description"] = description
    return schema


def _readiness(status: str, check: dict[str, Any]) -> dict[str, Any]:
    return _closed({"status": {"const": status}, "checks": _closed({"redis": check, "vault": check})})


def _header_param(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "header", "required": True, "description": description, "schema": schema}


def _ref_param(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/parameters/{name}"}


def _signature_headers() -> list[dict[str, str]]:
    return [_ref_param(name) for name in ("WebhookId", "WebhookTimestamp", "WebhookSignature")]


@bp.get("/openapi.json")
def openapi_json():
    """The document for this app's PUBLIC_URL, keys in the order written above (not sorted)."""
    body = current_app.extensions.get("meetbridge.openapi")
    if body is None:
        body = json.dumps(document(str(current_app.config["PUBLIC_URL"])), indent=1)
        current_app.extensions["meetbridge.openapi"] = body
    return Response(body, mimetype=JSON)
