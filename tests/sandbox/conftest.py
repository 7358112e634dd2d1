"""Fixtures for the sandbox tests: one in-process sandbox server (werkzeug, threaded) per session,
reset before every test, plus helpers that run the real OAuth flows with authlib."""

from __future__ import annotations

import threading
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from werkzeug.serving import make_server

from sandbox import create_app

GOOGLE_ID, GOOGLE_SECRET = "sandbox-google-client", "sandbox-google-secret"
ZOOM_ID, ZOOM_SECRET = "sandbox-zoom-client", "sandbox-zoom-secret"
GOOGLE_REDIRECT = "https://localhost:8443/oauth/google/callback"
ZOOM_REDIRECT = "https://localhost:8443/oauth/zoom/callback"
CAL_SCOPE = "https://www.googleapis.com/auth/calendar.events"
STAFF = "sam.staff@example.com"


@dataclass
class Sandbox:
    """A running sandbox and shortcuts for driving it."""

    base: str

    def url(self, path: str) -> str:
        return self.base + path

    def knob(self, name: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        response = requests.post(self.url(f"/_sandbox/{name}"), json=body or {}, timeout=10)
        assert response.status_code == 200, response.text
        return response.json()

    def state(self) -> dict[str, Any]:
        return requests.get(self.url("/_sandbox/state"), timeout=10).json()

    def google_session(self, scope: str = CAL_SCOPE) -> OAuth2Session:
        return OAuth2Session(
            GOOGLE_ID,
            GOOGLE_SECRET,
            scope=scope,
            redirect_uri=GOOGLE_REDIRECT,
            code_challenge_method="S256",
            token_endpoint_auth_method="client_secret_post",
        )

    def zoom_session(self) -> OAuth2Session:
        return OAuth2Session(ZOOM_ID, ZOOM_SECRET, redirect_uri=ZOOM_REDIRECT, code_challenge_method="S256")

    def authorize(self, session: OAuth2Session, path: str, **params: str) -> tuple[str, str, str]:
        """Start a flow; returns (redirect Location, verifier, state) with consent auto-answered."""
        verifier = generate_token(48)
        url, state = session.create_authorization_url(self.url(path), code_verifier=verifier, **params)
        response = requests.get(url, allow_redirects=False, timeout=10)
        assert response.status_code == 302, response.text
        return response.headers["Location"], verifier, state

    def google_token(self, email: str = STAFF, scope: str = CAL_SCOPE, **params: str) -> dict[str, Any]:
        self.knob("consent", {"mode": "approve", "email": email})
        session = self.google_session(scope)
        params.setdefault("access_type", "offline")
        location, verifier, _ = self.authorize(session, "/google/o/oauth2/v2/auth", **params)
        return dict(
            session.fetch_token(
                self.url("/google/token"), authorization_response=location, code_verifier=verifier
            )
        )

    def zoom_token(self, email: str = STAFF) -> dict[str, Any]:
        self.knob("consent", {"mode": "approve", "email": email})
        session = self.zoom_session()
        location, verifier, _ = self.authorize(session, "/zoom/oauth/authorize")
        return dict(
            session.fetch_token(
                self.url("/zoom/oauth/token"), authorization_response=location, code_verifier=verifier
            )
        )


def query_of(location: str) -> dict[str, str]:
    """The query parameters of a redirect Location."""
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[str]:
    app = create_app({"TESTING": True})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture
def sb(sandbox_server: str, monkeypatch: pytest.MonkeyPatch) -> Sandbox:
    monkeypatch.setenv("AUTHLIB_INSECURE_TRANSPORT", "1")
    box = Sandbox(sandbox_server)
    box.knob("reset")
    return box
