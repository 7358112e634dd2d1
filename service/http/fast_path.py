"""Fast paths: the hottest routes answer their common case without building a Flask request.

Booking events and warm availability answers are what WordPress sites call in bulk, and Flask's
per-request machinery (request context, URL matching, response object, hooks) costs more CPU than
their own work. A fast path is a function that does only that work for one route, on the raw WSGI
environ, and either returns the answer or None. None hands the request, untouched (a body it read is
put back), to the Flask route, which checks everything again and answers as it would have alone: a
fast path answers only its success cases and never decides a rejection.

Every fast answer gets what `service.http.web` gives every answer: the request id (`X-Request-ID`), the
security headers, the request metrics under the route's rule, the request log line, and the request
id on every log line written meanwhile. An exception inside a fast path is logged by name and the
request goes to the route, which meets it again and answers (a JSON 500 if it is a bug).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import redis
from flask import Flask

from service.http import web
from service.logs import correlation_id

log = logging.getLogger(__name__)

_PREFIX = "/v1/sites/"
_STATUS_LINES = {200: "200 OK", 202: "202 ACCEPTED", 503: "503 SERVICE UNAVAILABLE"}


@dataclass(frozen=True)
class Answer:
    """A fast path's answer: a JSON body, and what to log once the request id is in place."""

    status: int
    body: bytes
    log: Callable[[], None] | None = None


Handler = Callable[[Flask, dict, str], "Answer | None"]
"""`handler(app, environ, site_id)`: the answer, or None for the route to answer."""


class FastPaths:
    """WSGI middleware in front of the Flask app: routes `/v1/sites/<site_id>/<name>` by method."""

    def __init__(self, app: Flask):
        self.app = app
        self.wsgi_app = app.wsgi_app
        self._routes: dict[tuple[str, str], tuple[Handler, web.Observer]] = {}

    def add(self, method: str, rule: str, handler: Handler) -> None:
        """Answer `method` on `rule` (`/v1/sites/<site_id>/<name>`, as the Flask route is declared)."""
        if not (rule.startswith(_PREFIX + "<site_id>/") and rule.count("/") == 4):
            raise ValueError(f"fast paths serve /v1/sites/<site_id>/<name> only, not {rule}")
        self._routes[(method, rule.rpartition("/")[2])] = (handler, web.Observer(method, rule))

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path.startswith(_PREFIX) and path.isascii():
            site_id, _, name = path[len(_PREFIX) :].partition("/")
            route = self._routes.get((environ.get("REQUEST_METHOD", ""), name))
            if route is not None and site_id:
                started = time.perf_counter()
                handler, observe = route
                try:
                    answer = handler(self.app, environ, site_id)
                except redis.RedisError:
                    answer = None  # the route answers (503), or retries on a fresh connection
                except Exception as exc:  # the route meets it again and answers (a JSON 500)
                    log.warning("fast path %s for site %s: %s", name, site_id, type(exc).__name__)
                    answer = None
                if answer is not None:
                    return self._respond(environ, start_response, answer, observe, started)
        return self.wsgi_app(environ, start_response)

    @staticmethod
    def _respond(environ, start_response, answer: Answer, observe: web.Observer, started: float):
        request_id = web.request_id(environ.get("HTTP_X_REQUEST_ID", ""))
        token = correlation_id.set(request_id)
        try:
            if answer.log is not None:
                answer.log()
            start_response(
                _STATUS_LINES[answer.status],
                [
                    ("Content-Type", "application/json"),
                    ("Content-Length", str(len(answer.body))),
                    *web.SECURITY_HEADERS.items(),
                    ("X-Request-ID", request_id),
                ],
            )
            observe(answer.status, time.perf_counter() - started)
        finally:
            correlation_id.reset(token)
        return [answer.body]


def init_app(app: Flask) -> FastPaths:
    """Put the (so far empty) fast paths in front of `app`; routes add theirs with `add`."""
    paths = FastPaths(app)
    app.wsgi_app = paths
    app.extensions["meetbridge.fast_paths"] = paths
    return paths
