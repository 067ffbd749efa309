"""`/v1/docs`: the API reference as a plain, server-rendered page (issue 13).

Built from the same OpenAPI document as `/v1/openapi.json` (drf-spectacular's generator), so it
cannot drift from the contract, plus the model catalog (the ids `decide` names when a model is
unknown, `policy.MODELS_REFERENCE`). No script, no inline style: it passes the console's
Content-Security-Policy and axe-core like every console page. Swagger UI, for trying calls from
the browser, stays at `/v1/docs/swagger` (linked from here).
"""

import json
import re

from django.shortcuts import render
from django.utils.html import escape
from django.utils.safestring import mark_safe
from drf_spectacular.generators import SchemaGenerator

from ..selectors import catalog_models

METHODS = ("get", "post", "put", "patch", "delete")
_CODE = re.compile(r"`([^`]+)`")


def prose(text):
    """Escaped text whose `backticks` become <code>."""
    return mark_safe(_CODE.sub(lambda m: f"<code>{m.group(1)}</code>", str(escape(text or ""))))


def _resolve(schema, components):
    while isinstance(schema, dict) and "$ref" in schema:
        schema = components.get(schema["$ref"].rsplit("/", 1)[-1], {})
    return schema or {}


def type_text(schema, components):
    """'string', 'integer', 'list of string', 'Workspace', 'one of: "unrestricted", list of string'."""
    if not isinstance(schema, dict):
        return ""
    if "$ref" in schema:
        target = _resolve(schema, components)
        if "enum" in target:
            return "one of: " + ", ".join(json.dumps(v) for v in target["enum"])
        return schema["$ref"].rsplit("/", 1)[-1]
    for key in ("oneOf", "anyOf"):
        if key in schema:
            return "one of: " + "; ".join(type_text(s, components) for s in schema[key])
    if "allOf" in schema and len(schema["allOf"]) == 1:
        return type_text(schema["allOf"][0], components)
    if "enum" in schema:
        return "one of: " + ", ".join(json.dumps(v) for v in schema["enum"] if v is not None)
    kind = schema.get("type", "object")
    if kind == "array":
        return "list of " + type_text(schema.get("items", {}), components)
    if isinstance(kind, list):
        kind = " or ".join(kind)
    return kind + (" or null" if schema.get("nullable") else "")


def fields(schema, components):
    """[(name, type, required, description)] of an object schema's top-level properties."""
    schema = _resolve(schema, components)
    required = set(schema.get("required", ()))
    return [(name, type_text(prop, components), name in required,
             prose(prop.get("description") or _resolve(prop, components).get("description", "")))
            for name, prop in schema.get("properties", {}).items()]


def _json_example(content):
    media = (content or {}).get("application/json") or {}
    examples = media.get("examples") or {}
    for example in examples.values():
        if "value" in example:
            return json.dumps(example["value"], indent=2)
    return None


def operations(document):
    """The document's operations grouped by tag, in the document's tag order."""
    components = document.get("components", {}).get("schemas", {})
    tags = {t["name"]: {"name": t["name"], "description": prose(t.get("description")), "operations": []}
            for t in document.get("tags", [])}
    for path, item in document.get("paths", {}).items():
        for method in METHODS:
            op = item.get(method)
            if op is None:
                continue
            body = (op.get("requestBody") or {}).get("content") or {}
            body_schema = (body.get("application/json") or {}).get("schema")
            responses = [(status, prose(r.get("description") or ("Success" if status.startswith("2") else "")))
                         for status, r in op.get("responses", {}).items()]
            success = next((r for s, r in op.get("responses", {}).items() if s.startswith("2")), {})
            entry = {
                "id": op.get("operationId", f"{method}-{path}"),
                "method": method.upper(), "path": path,
                "summary": op.get("summary", ""), "description": prose(op.get("description")),
                "parameters": [(p["name"], p.get("in", ""), type_text(p.get("schema", {}), components),
                                p.get("required", False), prose(p.get("description"))) for p in op.get("parameters", [])],
                "body": fields(body_schema, components) if body_schema else [],
                "body_example": _json_example(body),
                "responses": responses,
                "response_example": _json_example(success.get("content")),
            }
            tag = (op.get("tags") or ["Other"])[0]
            tags.setdefault(tag, {"name": tag, "description": "", "operations": []})["operations"].append(entry)
    return [t for t in tags.values() if t["operations"]]


def api_reference(request):
    document = SchemaGenerator().get_schema(request=None, public=True)
    info = document.get("info", {})
    return render(request, "api_reference.html", {
        "title": info.get("title", "API"),
        "version": info.get("version", ""),
        "description": prose(info.get("description")),
        "groups": operations(document),
        "models": catalog_models(),
    })
