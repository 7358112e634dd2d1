"""Deleting a booking's Zoom meeting with the staff member's account, for cleanup and erasure.

The answer is one word the caller acts on: `deleted`, `gone` (404, or the account is no longer linked:
nothing MeetBridge can still reach), `retry` (try on the next run) or `relink` (waits for the account).
"""

from __future__ import annotations

import logging

from service.exceptions import (
    AccountNotLinked,
    Gone,
    NeedsRelink,
    ProviderRejected,
    ProviderUnavailable,
    TokenBusy,
)
from service.providers import clients

log = logging.getLogger(__name__)


def delete_zoom_meeting(site_id: str, booking_id: str, staff_id: str, zoom_id: str) -> str:
    """Delete one meeting at Zoom with the staff member's account: `deleted`, `gone`, `retry`, `relink`."""
    zoom = clients.zoom()
    try:
        clients.call(site_id, "zoom", staff_id, lambda token: zoom.delete(token, zoom_id))
    except Gone:
        log.info("cleanup: meeting of %s/%s was already gone", site_id, booking_id)
        return "gone"
    except AccountNotLinked:
        log.warning("cleanup: meeting of %s/%s: the Zoom account is no longer linked", site_id, booking_id)
        return "gone"
    except NeedsRelink:
        log.warning(
            "cleanup: meeting of %s/%s waits for the Zoom account to be relinked", site_id, booking_id
        )
        return "relink"
    except (clients.Postpone, TokenBusy, ProviderUnavailable) as exc:
        log.warning(
            "cleanup: meeting of %s/%s left for the next run: %s", site_id, booking_id, type(exc).__name__
        )
        return "retry"
    except ProviderRejected as exc:
        log.error("cleanup: Zoom refused to delete the meeting of %s/%s: %s", site_id, booking_id, exc)
        return "retry"
    log.info("cleanup: meeting of %s/%s deleted", site_id, booking_id)
    return "deleted"
