"""Request-body validators built from the providers' own machine-readable descriptions.

- Google: the Calendar v3 discovery document shipped inside google-api-python-client
  (`googleapiclient/discovery_cache/documents/calendar.v3.json`), converted to JSON Schema.
  Unknown properties are allowed (Google ignores them); wrong types are not.
- Zoom: the OpenAPI (Swagger 2.0) document in `sandbox/specs/zoom-openapi.v2.json`; the body
  schema of an operation is resolved (`$ref` into `definitions` inlined, `x-*` keys dropped).
"""

from __future__ import annotations

import functools
import importlib.resources
import json
from typing import Any

from jsonschema import Draft7Validator

_DROP = {"description", "default", "format", "annotations", "readOnly", "id", "title", "example"}


def _google_to_jsonschema(node: Any) -> Any:
    """Convert one discovery-document schema node to JSON Schema."""
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        return {"$ref": "#/definitions/" + node["$ref"]}
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DROP or key.startswith("x-"):
            continue
        if key == "type" and value == "any":
            continue
        if key == "properties":
            out[key] = {name: _google_to_jsonschema(sub) for name, sub in value.items()}
        elif key in ("items", "additionalProperties"):
            out[key] = _google_to_jsonschema(value)
        elif key == "enum":
            out[key] = value
        elif key == "type":
            out[key] = value
    return out


@functools.cache
def google_discovery() -> dict[str, Any]:
    """The Calendar v3 discovery document shipped with google-api-python-client."""
    path = importlib.resources.files("googleapiclient") / "discovery_cache/documents/calendar.v3.json"
    return json.loads(path.read_text(encoding="utf-8"))


@functools.cache
def google_validator(schema_name: str) -> Draft7Validator:
    """A validator for one named schema of the discovery document (e.g. `Event`)."""
    schemas = google_discovery()["schemas"]
    definitions = {name: _google_to_jsonschema(schema) for name, schema in schemas.items()}
    root = {"definitions": definitions, "$ref": "#/definitions/" + schema_name}
    Draft7Validator.check_schema(root)
    return Draft7Validator(root)


def google_method_scopes(resource: str, method: str) -> frozenset[str]:
    """The OAuth scopes the discovery document lists for a method (any one suffices)."""
    return frozenset(google_discovery()["resources"][resource]["methods"][method]["scopes"])


def google_known_scopes() -> frozenset[str]:
    """Every Calendar scope plus the sign-in scopes Google also accepts."""
    scopes = set(google_discovery()["auth"]["oauth2"]["scopes"])
    scopes |= {
        "openid",
        "email",
        "profile",
        "https://www.googleapis.com/auth/userinfo.email",
        "https://www.googleapis.com/auth/userinfo.profile",
    }
    return frozenset(scopes)


@functools.cache
def zoom_spec() -> dict[str, Any]:
    """Zoom's OpenAPI 2.0 document (see sandbox/specs/README.md)."""
    path = importlib.resources.files("sandbox") / "specs/zoom-openapi.v2.json"
    return json.loads(path.read_text(encoding="utf-8"))


def _resolve_swagger(node: Any, definitions: dict[str, Any], seen: tuple[str, ...] = ()) -> Any:
    """Inline `#/definitions/...` references and drop Swagger-only keys."""
    if isinstance(node, list):
        return [_resolve_swagger(item, definitions, seen) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        if name in seen:
            return {}
        return _resolve_swagger(definitions[name], definitions, (*seen, name))
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key.startswith("x-") or key in ("description", "default", "format", "example", "title"):
            continue
        if key == "properties":
            out[key] = {name: _resolve_swagger(sub, definitions, seen) for name, sub in value.items()}
        else:
            out[key] = _resolve_swagger(value, definitions, seen)
    if "properties" in out and "type" not in out:
        out["type"] = "object"
    return out


@functools.cache
def zoom_body_validator(path: str, method: str) -> Draft7Validator:
    """A validator for the JSON body of a Zoom operation, e.g. (`/users/{userId}/meetings`, `post`)."""
    spec = zoom_spec()
    operation = spec["paths"][path][method]
    body = next(p for p in operation["parameters"] if p.get("in") == "body")
    schema = _resolve_swagger(body["schema"], spec["definitions"])
    schema = {"type": "object", **schema}
    Draft7Validator.check_schema(schema)
    return Draft7Validator(schema)


def first_error(validator: Draft7Validator, instance: Any) -> str | None:
    """The dotted path of the first (most relevant) validation error, or None if valid."""
    errors = sorted(
        validator.iter_errors(instance), key=lambda e: (len(e.absolute_path), str(e.absolute_path))
    )
    if not errors:
        return None
    error = errors[0]
    # allOf errors point at the object; dig to the most specific sub-error.
    while error.context:
        error = sorted(error.context, key=lambda e: -len(e.absolute_path))[0]
    path = ".".join(str(part) for part in error.absolute_path)
    return path or "body"
