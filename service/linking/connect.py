"""The connect screen: `GET /connect/<token>` explains what will be linked; its form POSTs back here.

GET leaves the link unused (so a preview by a chat app or mail scanner does not burn it) and sets the
browser's connect cookie. POST checks the CSRF token, consumes the link atomically, stores the OAuth
state with the sealed PKCE verifier, and sends the browser to the provider (303). A used, expired or
unknown link gets a clear page. No JavaScript; the page's CSP lets the form lead only here, to the
provider and back to the site.
"""

from __future__ import annotations

import logging
import time

from flask import Blueprint, redirect, request

from service import vault_keys
from service.accounts import oauth_clients
from service.linking import connect_links
from service.linking import connect_pages as pages
from service.sites import registry
from service.storage import redis_client

log = logging.getLogger(__name__)

bp = Blueprint("connect", __name__)

PURPOSES = {
    "google": (
        "add the bookings to your Google Calendar",
        [
            "Create, change and delete the calendar events it adds for your bookings, on calendars you own",
            "See when you are busy (free/busy times only, not what your events are)",
        ],
    ),
    "zoom": (
        "create the Zoom meetings for your bookings",
        ["Create, change and delete the meetings for your bookings", "Read your Zoom user id"],
    ),
}


def _gone():
    return pages.problem(
        410,
        "This link can no longer be used",
        "Connect links work once and only for 10 minutes, and this one has expired or was already used.",
        "Go back to the MeetBridge Staff accounts page of your site and press “Connect” again to get a new"
        " link.",
    )


def _site_gone():
    return pages.problem(
        404, "This site is not connected to MeetBridge", "The site that made this link was removed."
    )


@bp.get("/connect/<token>")
def show(token: str):
    link = connect_links.peek(redis_client.get(), token, vault_keys.get())
    if link is None:
        return _gone()
    site = registry.load(redis_client.get(), vault_keys.get(), link.site_id)
    if site is None:
        return _site_gone()
    nonce = pages.browser_nonce() or pages.new_nonce()
    provider = oauth_clients.provider(link.provider)
    purpose, permissions = PURPOSES[link.provider]
    response = pages.page(
        "start.html",
        csp_form_targets=(pages.origin(provider.authorize_url), pages.origin(link.return_url)),
        site_name=site.name,
        provider=provider.label,
        staff_id=link.staff_id,
        staff_name=link.staff_name,
        purpose=purpose,
        permissions=permissions,
        expires=time.strftime("%H:%M UTC", time.gmtime(link.expires_at)),
        csrf=pages.csrf_token(connect_links.digest(token), nonce),
    )
    pages.set_nonce(response, nonce)
    return response


@bp.post("/connect/<token>")
def start(token: str):
    nonce = pages.browser_nonce()
    if not pages.csrf_ok(connect_links.digest(token), nonce, request.form.get("csrf")):
        log.warning("connect form refused: CSRF token or cookie missing or wrong")
        return pages.problem(
            403,
            "Please open the link again",
            "This page could not be confirmed as the one we showed you (your browser may block cookies "
            "or the page is old). Nothing was linked.",
            "Open the connect link from your site again.",
        )
    r = redis_client.get()
    link = connect_links.consume(r, token)
    if link is None:
        return _gone()
    if registry.load(r, vault_keys.get(), link.site_id) is None:
        return _site_gone()
    started = connect_links.start_consent(r, vault_keys.get(), link, nonce)
    if started is None:  # the site was removed meanwhile
        return _site_gone()
    state, verifier = started
    provider = oauth_clients.provider(link.provider)
    client = oauth_clients.client(provider, redirect=oauth_clients.redirect_uri(link.provider))
    url, _ = client.create_authorization_url(
        provider.authorize_url,
        state=state,
        code_verifier=verifier,
        scope=" ".join(provider.scopes),
        **provider.authorize_params,
    )
    client.close()
    log.info("consent started: %s staff %s of site %s", link.provider, link.staff_id, link.site_id)
    return redirect(url, code=303)
