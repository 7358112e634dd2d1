"""Per-site settings, changed by the site (`PUT /v1/sites/{site_id}/settings`, signed over the body) or by
the operator (`flask --app service sites settings SITE_ID ...`).

A change applies to bookings settled from then on (their cleanup is scheduled when they sync); bookings
already scheduled keep the grace period and retention window they were scheduled with.
"""

from __future__ import annotations

from typing import Any

import redis
from flask import Blueprint, jsonify

from service.http.web import error_body
from service.sites import site_auth, site_settings
from service.sites.registry import Site
from service.storage import keys, redis_client

bp = Blueprint("settings_api", __name__)

#: Inclusive bounds of the integer settings. Retention (at least a day) always outlasts the grace period
#: (at most a day), so a record is never purged before its meeting is deleted.
BOUNDS = {"grace_minutes": (0, 1440), "retention_days": (1, 3650)}
#: How long a signed settings request's id is remembered (longer than the 5-minute tolerance).
REPLAY_WINDOW = 600


class InvalidSetting(ValueError):
    """A setting is unknown or out of range; `field` names it."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


def validate(changes: Any) -> dict[str, int | bool | str]:
    """The changes as typed values. Raises `InvalidSetting`."""
    if not isinstance(changes, dict):
        raise InvalidSetting("(root)", "the body must be a JSON object of settings")
    if not changes:
        raise InvalidSetting("(root)", "name at least one setting")
    typed: dict[str, int | bool | str] = {}
    for name, value in changes.items():
        if name not in site_settings.DEFAULTS:
            raise InvalidSetting(name, f"unknown setting {name!r}")
        if isinstance(site_settings.DEFAULTS[name], str):
            choices = site_settings.CHOICES[name]
            if value not in choices:
                raise InvalidSetting(name, f"{name} must be one of {', '.join(choices)}")
        elif isinstance(site_settings.DEFAULTS[name], bool):
            if not isinstance(value, bool):
                raise InvalidSetting(name, f"{name} must be true or false")
        else:
            low, high = BOUNDS[name]
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise InvalidSetting(name, f"{name} must be an integer from {low} to {high}")
        typed[name] = value
    return typed


def save(r: redis.Redis, site_id: str, changes: dict[str, int | bool | str]) -> dict[str, int | bool | str]:
    """Store validated changes in the site's record; returns every setting. Raises KeyError: no site."""
    fields = {
        f"set_{name}": value if isinstance(value, str) else int(value) for name, value in changes.items()
    }
    script = "if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end redis.call('HSET', KEYS[1], unpack(ARGV)) return 1"  # noqa: E501
    flat = [item for pair in fields.items() for item in pair]
    if not r.eval(script, 1, keys.site(site_id), *flat):
        raise KeyError(site_id)
    return site_settings.load(r, site_id)


@bp.put("/v1/sites/<site_id>/settings")
@site_auth.signed_json
def put_settings(site: Site, webhook_id: str, body: object):
    try:
        changes = validate(body)
    except InvalidSetting as exc:
        return error_body(422, "invalid_settings", str(exc), field=exc.field)
    if not site_auth.first_use(site.id, webhook_id, REPLAY_WINDOW):
        return error_body(409, "replayed_request", "this webhook-id was already used")
    try:
        return jsonify(save(redis_client.get(), site.id, changes))
    except KeyError:
        return error_body(404, "unknown_site", "no such site")
