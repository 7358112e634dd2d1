"""`GET /openapi.json`: the HTTP API as an OpenAPI 3.1 document, written in `openapi.yaml` next to this file.

The YAML is read once per process (PyYAML `safe_load`). Its reference to another file, the booking event
schema, is replaced by the object `service.bookings.booking_schema` loaded from that file, so the document
shows exactly the schema events are validated with; `servers` is filled in with the PUBLIC_URL. How to
document a new route is said at the top of openapi.yaml.
"""

from __future__ import annotations

import copy
import functools
import json
from pathlib import Path
from typing import Any

import yaml
from flask import Blueprint, Response, current_app

from service.bookings import booking_schema

bp = Blueprint("openapi", __name__)

DOCUMENT_FILE = Path(__file__).with_name("openapi.yaml")
"""The document as written: a placeholder server URL, the booking event schema by reference."""


def document(public_url: str) -> dict[str, Any]:
    """The OpenAPI 3.1 document of the API served at `public_url`.

    Args:
        public_url: the configured PUBLIC_URL (a trailing `/` is dropped).

    Returns:
        A fresh copy the caller may change, except the embedded booking event schema, which is
        `booking_schema.EVENT_SCHEMA` itself.
    """
    schema = booking_schema.EVENT_SCHEMA
    doc = copy.deepcopy(_loaded(), {id(schema): schema})
    doc["servers"] = [{"url": public_url.rstrip("/")}]
    return doc


@functools.cache
def _loaded() -> dict[str, Any]:
    """openapi.yaml, read once per process, with the files it refers to embedded."""
    return _embed(yaml.safe_load(DOCUMENT_FILE.read_text(encoding="utf-8")))


def _embed(node: Any) -> Any:
    """`node` rebuilt (so YAML aliases become copies) with each `$ref` to another file replaced by its
    content; references within the document (`#/...`) stay as they are."""
    if isinstance(node, list):
        return [_embed(item) for item in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str) and not ref.startswith("#"):
        return _external(ref, node)
    return {key: _embed(value) for key, value in node.items()}


def _external(ref: str, node: dict[str, Any]) -> dict[str, Any]:
    """The schema a reference to another file (relative to openapi.yaml) stands for."""
    if len(node) > 1 or (DOCUMENT_FILE.parent / ref).resolve() != booking_schema.SCHEMA_FILE.resolve():
        raise ValueError(f"openapi.yaml: cannot embed {node!r}; only the booking event schema is known")
    return booking_schema.EVENT_SCHEMA


@bp.get("/openapi.json")
def openapi_json():
    """The document for this app's PUBLIC_URL, keys in the order openapi.yaml has them (not sorted)."""
    body = current_app.extensions.get("meetbridge.openapi")
    if body is None:
        body = json.dumps(document(str(current_app.config["PUBLIC_URL"])), indent=1)
        current_app.extensions["meetbridge.openapi"] = body
    return Response(body, mimetype="application/json")
