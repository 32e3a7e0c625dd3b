"""Checking answers against the app's own OpenAPI spec (``/api/v1/_openapi``)."""

from __future__ import annotations

import re
from typing import Any

import jsonschema


def _json_schema(node: Any) -> Any:
    """An OpenAPI 3.0 schema as JSON Schema: ``nullable`` as a null type (``$ref`` kept: they
    resolve against the spec, which is the validation's root)."""
    if isinstance(node, list):
        return [_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    schema = {key: _json_schema(value) for key, value in node.items() if key != "nullable"}
    if node.get("nullable"):
        schema = {"anyOf": [schema, {"type": "null"}]}
    return schema


def _resolve(node: Any, spec: dict[str, Any]) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        for part in node["$ref"].lstrip("#/").split("/"):
            spec = spec[part]
        node = spec
    return node


def operation(spec: dict[str, Any], method: str, url: str) -> dict[str, Any]:
    """The spec's operation for ``method`` on the concrete ``url`` (``/api/v1/sale_order/7``)."""
    path = url.split("?")[0]
    # Fixed paths first: ``/_info`` before ``/{pk}``.
    for template, operations in sorted(spec["paths"].items(), key=lambda p: p[0].count("{")):
        pattern = re.sub(r"\{[^}]+\}", "[^/]+", template)  # paths are [a-z_/] and {names}
        if re.fullmatch(pattern, path) and method.lower() in operations:
            return operations[method.lower()]
    raise AssertionError(f"the spec has no {method} {path}")


def response_schema(spec: dict[str, Any], method: str, url: str, status: int) -> dict[str, Any]:
    """The JSON Schema the spec declares for this answer (fails when the status is undeclared)."""
    responses = operation(spec, method, url)["responses"]
    assert str(status) in responses, f"{method} {url}: {status} not declared ({sorted(responses)})"
    response = _resolve(responses[str(status)], spec)
    schema = response.get("content", {}).get("application/json", {}).get("schema", {})
    return {**_json_schema(schema), "components": _json_schema(spec["components"])}


def assert_matches(spec: dict[str, Any], method: str, url: str, answer: Any) -> None:
    """The answer (a test client response) is what the spec says it is."""
    schema = response_schema(spec, method, url, answer.status_code)
    assert answer.is_json, f"{method} {url}: {answer.status_code} is not JSON"
    jsonschema.validate(answer.get_json(), schema)
