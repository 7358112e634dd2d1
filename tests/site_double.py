"""A stand-in for a WordPress site in stack tests and screenshots: it serves the `return_url` page
and receives signed results at the plugin's callback path, verifying them as the plugin would
(Standard Webhooks, the site's secret). Plain HTTP on 127.0.0.1, in a thread of the test process."""

from __future__ import annotations

import html
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from service.sites import registry, webhooks
from tests.processes import free_port, wait_for

RETURN_PATH = "/wp-admin/admin.php"
RESULTS_PATH = registry.DEFAULT_CALLBACK_PATH

_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>MeetBridge settings</title>
<style>body{{font:1rem/1.5 sans-serif;background:#f0f0f1;margin:0}}header{{background:#1d2327;color:#fff;
padding:.6rem 1.5rem}}main{{margin:2rem 1.5rem}}.notice{{background:#fff;border-left:4px solid {colour};
padding:.75rem 1rem;box-shadow:0 1px 1px rgba(0,0,0,.04)}}</style></head><body>
<header>WordPress · Example Shop</header><main><h1>MeetBridge</h1>
<div class="notice" role="status"><p><strong>{headline}</strong></p><p>{detail}</p></div>
</main></body></html>"""


class SiteDouble:
    """`url` is the site's origin; `secret` must be set (after `sites create`) to verify results."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.port = free_port()
        self.url = f"http://{host}:{self.port}"
        self.secret: str | None = None
        self.results: list[dict] = []
        self.rejected: list[str] = []
        self.answer_status = 204
        self._server = ThreadingHTTPServer((host, self.port), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> SiteDouble:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def return_url(self, query: str = "page=meetbridge") -> str:
        return f"{self.url}{RETURN_PATH}?{query}"

    def wait_for_result(self, event_type: str, timeout: float = 30.0) -> dict:
        return wait_for(
            lambda: next((r for r in self.results if r["type"] == event_type), None),
            timeout=timeout,
            what=f"a {event_type} result at the site",
        )

    def _handler(self):
        double = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # quiet
                pass

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                query = parse_qs(urlsplit(self.path).query)
                status = query.get("meetbridge_status", [""])[0]
                provider = query.get("provider", [""])[0].title()
                reason = query.get("reason", ["unknown"])[0]
                headline, detail, colour = {
                    "connected": (f"{provider} account linked.", "Bookings will now sync.", "#00a32a"),
                    "error": (f"{provider} account not linked.", f"Reason: {reason}", "#d63638"),
                }.get(status, ("Settings", "", "#72aee6"))
                page = _PAGE.format(headline=html.escape(headline), detail=html.escape(detail), colour=colour)
                self._answer(200, page.encode(), "text/html; charset=utf-8")

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if urlsplit(self.path).path != RESULTS_PATH or double.secret is None:
                    self._answer(404, b"", "text/plain")
                    return
                try:
                    webhooks.verify([webhooks.secret_bytes(double.secret)], self.headers, body)
                except webhooks.WebhookError as exc:
                    double.rejected.append(type(exc).__name__)
                    self._answer(401, b"", "text/plain")
                    return
                message = json.loads(body)
                message["webhook_id"] = self.headers["webhook-id"]
                message["signed"] = {  # to check the signatures against other secrets
                    "headers": {name: self.headers[name] for name in ("webhook-id", "webhook-timestamp",
                                                                       "webhook-signature")},
                    "body": body.decode(),
                }  # fmt: skip
                message["received_at"] = time.monotonic()
                double.results.append(message)
                self._answer(double.answer_status, b"", "text/plain")

            def _answer(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Handler
