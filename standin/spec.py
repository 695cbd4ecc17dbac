"""Discord's published OpenAPI 3.1 spec as the judge of every request and response.

The spec (``../shared/discord-api/openapi.json`` beside the repository, or ``$STANDIN_DISCORD_SPEC``)
is loaded and its validators compiled once per process (``load_spec`` is cached), so a whole test
suite pays for it once. OpenAPI 3.1 schemas are JSON Schema 2020-12: ``jsonschema`` validates them,
``referencing`` resolves their ``$ref``s inside the one document.

Schema errors become Discord's own error tree (``{"content": {"_errors": [{"code":
"BASE_TYPE_MAX_LENGTH", "message": "Must be 2000 or fewer in length."}]}}``). Known spec quirks
(``../shared/discord-api/README.md``) are handled in ``_QUIRKS`` / ``response_errors``, each with a comment.
"""

from __future__ import annotations

import copy
import functools
import json
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SPEC_ENV = "STANDIN_DISCORD_SPEC"
SPEC_URI = "urn:discord:openapi"
UNION = "x-standin-union"  # marks the enum of a discriminated union's ``type`` (see _discriminated)
Errors = dict[str, Any]


class SpecMissingError(RuntimeError):
    """The OpenAPI spec could not be found (one clear message instead of a traceback per test)."""


def locate_spec() -> Path:
    """``$STANDIN_DISCORD_SPEC``, else ``../shared/discord-api/openapi.json`` from the repository root."""
    override = os.environ.get(SPEC_ENV)
    candidates = [Path(override)] if override else []
    repo_root = Path(__file__).resolve().parent.parent
    candidates.append(repo_root.parent / "shared" / "discord-api" / "openapi.json")
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    tried = ", ".join(str(c) for c in candidates)
    raise SpecMissingError(
        f"Discord's OpenAPI spec was not found (tried {tried}). Put discord-api-spec's openapi.json at "
        f"../shared/discord-api/openapi.json beside the repository or set {SPEC_ENV} to its path."
    )


@functools.cache
def load_spec(path: str | None = None) -> Spec:
    """The spec, parsed and indexed once per process."""
    return Spec(json.loads(Path(path or locate_spec()).read_text(encoding="utf-8")))


def _absolute(schema: Any) -> Any:
    """A copy of an inline schema whose local ``#/...`` refs point into the spec document."""
    if isinstance(schema, dict):
        return {
            k: (SPEC_URI + v if k == "$ref" and isinstance(v, str) and v.startswith("#") else _absolute(v))
            for k, v in schema.items()
        }
    if isinstance(schema, list):
        return [_absolute(x) for x in schema]
    return schema


@dataclass
class QueryParam:
    name: str
    required: bool
    validator: Draft202012Validator
    kind: str | list[str] | None  # the schema's JSON type, used to coerce the query string


@dataclass
class Operation:
    """One (method, path) of the spec with its compiled validators."""

    method: str
    template: str
    operation_id: str
    literals: int
    pattern: re.Pattern[str]
    body: Draft202012Validator | None
    query: dict[str, QueryParam]
    responses: dict[str, Draft202012Validator | None] = field(default_factory=dict)


class Spec:
    def __init__(self, document: dict[str, Any]) -> None:
        document = _discriminated(document)
        self.document = document
        resource = Resource.from_contents(document, default_specification=DRAFT202012)
        self.registry: Registry[Any] = Registry().with_resource(SPEC_URI, resource)
        self._by_method: dict[str, list[Operation]] = {}
        for template, item in document["paths"].items():
            shared = item.get("parameters", [])
            for method, op in item.items():
                if method in ("get", "put", "post", "patch", "delete"):
                    self._add(method.upper(), template, op, shared)
        for ops in self._by_method.values():
            ops.sort(key=lambda o: -o.literals)  # literal segments (@original, bulk-delete) win over {ids}
        self._cache: dict[tuple[str, str], Operation | None] = {}

    def validator(self, schema: Any) -> Draft202012Validator:
        return Draft202012Validator(_absolute(schema), registry=self.registry, format_checker=URLS)

    def _resolve(self, node: dict[str, Any]) -> dict[str, Any]:
        """Follow a component-level ``$ref`` (e.g. ``#/components/responses/...``)."""
        while "$ref" in node:
            target: Any = self.document
            for part in node["$ref"].lstrip("#/").split("/"):
                target = target[part.replace("~1", "/").replace("~0", "~")]
            node = target
        return node

    def _add(self, method: str, template: str, op: dict[str, Any], shared: list[dict[str, Any]]) -> None:
        parts = template.strip("/").split("/")
        regex = "/".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts)
        body_schema = (
            self._resolve(op["requestBody"]).get("content", {}).get("application/json", {}).get("schema")
            if "requestBody" in op
            else None
        )
        query: dict[str, QueryParam] = {}
        for param in [*shared, *op.get("parameters", [])]:
            param = self._resolve(param)
            if param.get("in") == "query":
                schema = param.get("schema", {})
                kind = self._resolve(schema).get("type")
                query[param["name"]] = QueryParam(
                    param["name"], bool(param.get("required")), self.validator(schema), kind
                )
        responses: dict[str, Draft202012Validator | None] = {}
        for status, response in op.get("responses", {}).items():
            schema = self._resolve(response).get("content", {}).get("application/json", {}).get("schema")
            responses[status] = None if schema is None else self.validator(schema)
        operation = Operation(
            method=method,
            template=template,
            operation_id=op.get("operationId", ""),
            literals=sum(not p.startswith("{") for p in parts),
            pattern=re.compile("/" + regex + "$"),
            body=None if body_schema is None else self.validator(body_schema),
            query=query,
            responses=responses,
        )
        self._by_method.setdefault(method, []).append(operation)

    def operation(self, method: str, path: str) -> Operation | None:
        """The spec operation for a concrete request path (``/channels/1/messages``)."""
        key = (method, path)
        if key not in self._cache:
            self._cache[key] = next((o for o in self._by_method.get(method, []) if o.pattern.match(path)), None)
            if len(self._cache) > 10_000:  # concrete paths carry ids: keep the memo bounded
                self._cache.clear()
        return self._cache[key]

    # -- requests ------------------------------------------------------------------------------
    def request_errors(self, op: Operation, body: Any, query: dict[str, str]) -> Errors:
        """Discord's ``errors`` tree for an invalid body or query string (empty when valid)."""
        tree: Errors = {}
        for name, param in op.query.items():
            if name not in query:
                if param.required:
                    _add(tree, [name], "BASE_TYPE_REQUIRED", "This field is required")
                continue
            value = _coerce(query[name], param.kind)
            for error in _leaves(param.validator.iter_errors(value)):
                _report(tree, [name, *error.absolute_path], error)
        if op.body is not None and body is not None:
            for error in _leaves(op.body.iter_errors(_QUIRKS.get(op.operation_id, _same)(body))):
                if _docs_override(error):
                    continue
                _report(tree, list(error.absolute_path), error)
        return tree

    # -- responses -----------------------------------------------------------------------------
    def response_errors(self, op: Operation, status: int, body: Any) -> list[str]:
        """Why a response body does not match the spec's schema for its status ([] when it does)."""
        validator = op.responses.get(str(status))
        if validator is None and f"{str(status)[0]}XX" in op.responses:
            validator = op.responses[f"{str(status)[0]}XX"]
        if validator is None:
            if body is None:
                return []
            return [f"{op.method} {op.template} documents no JSON body for status {status}"]
        if body is None:
            return [f"{op.method} {op.template} {status}: no body where the spec documents one"]
        if status == 429 and isinstance(body, dict) and "code" not in body:
            # Spec quirk (README): 429 bodies carry no ``code``; the spec's Error base requires it.
            body = {**body, "code": 0}
        if isinstance(body, dict) and isinstance(body.get("errors"), dict):
            # Spec quirk: the spec types a field error's ``code`` as an integer, but Discord's answers (and
            # discord.py, which prints them) carry strings such as "BASE_TYPE_MAX_LENGTH"; follow Discord.
            body = {**body, "errors": _integer_codes(body["errors"])}
        return [
            f"{op.method} {op.template} {status}: {'/'.join(map(str, e.absolute_path)) or '(body)'}: {e.message[:300]}"
            for e in _leaves(validator.iter_errors(body))
        ]


def _integer_codes(tree: Any) -> Any:
    if isinstance(tree, dict):
        return {
            k: [{**e, "code": 0} for e in v] if k == "_errors" and isinstance(v, list) else _integer_codes(v)
            for k, v in tree.items()
        }
    return tree


def _discriminated(document: dict[str, Any]) -> dict[str, Any]:
    """The spec with its big ``oneOf``s rewritten for speed, same meaning as Discord applies it.

    A ``oneOf`` of constants becomes an ``enum``; a ``oneOf`` of objects told apart by their ``type`` field
    (components, command options, callbacks) becomes "the branch for this ``type`` must hold", so a
    component is checked against its own schema instead of all twenty (a message response validates
    ~10x faster). An unknown ``type`` is reported as Discord does: UNION_TYPE_CHOICES on the object.
    """
    document = copy.deepcopy(document)

    def resolve(node: Any) -> Any:
        while isinstance(node, dict) and "$ref" in node:
            target: Any = document
            for part in node["$ref"].lstrip("#/").split("/"):
                target = target[part.replace("~1", "/").replace("~0", "~")]
            node = target
        return node

    def type_values(branch: Any) -> list[Any] | None:
        kind = branch.get("properties", {}).get("type") if isinstance(branch, dict) else None
        if not isinstance(kind, dict):
            return None
        if "const" in kind:
            return [kind["const"]]
        return list(kind["enum"]) if isinstance(kind.get("enum"), list) else None

    def rewrite(node: Any) -> None:
        if isinstance(node, list):
            for item in node:
                rewrite(item)
            return
        if not isinstance(node, dict):
            return
        for value in list(node.values()):
            rewrite(value)
        branches = node.get("oneOf")
        if not isinstance(branches, list) or len(branches) < 2:
            return
        resolved = [resolve(b) for b in branches]
        if all(
            isinstance(b, dict) and "const" in b and not b.keys() - {"const", "title", "description"} for b in resolved
        ):
            del node["oneOf"]
            node["enum"] = [b["const"] for b in resolved]
            return
        pairs = list(zip(branches, resolved, strict=True))
        nullable = [b for b, r in pairs if isinstance(r, dict) and r.get("type") == "null"]
        objects = [(b, type_values(r)) for b, r in pairs if b not in nullable]
        if len(objects) < 2 or any(values is None for _, values in objects) or len(nullable) > 1:
            return
        by_value: dict[Any, list[Any]] = {}
        for branch, values in objects:
            for value in values or []:
                by_value.setdefault(value, []).append(branch)
        cases: list[dict[str, Any]] = [
            {
                "if": {"type": "object", "properties": {"type": {"const": value}}, "required": ["type"]},
                "then": chosen[0] if len(chosen) == 1 else {"oneOf": chosen},
            }
            for value, chosen in by_value.items()
        ]
        union = {
            "type": "object",
            "required": ["type"],
            "properties": {"type": {"enum": list(by_value), UNION: True}},
            "allOf": cases,
        }
        del node["oneOf"]
        if nullable:
            node["if"], node["then"], node["else"] = {"type": "null"}, {}, union
        else:
            node.setdefault("allOf", []).append(union)

    rewrite(document["components"]["schemas"])
    rewrite(document["paths"])
    return document


URLS = FormatChecker(formats=())


@URLS.checks("uri")
def _is_url(value: object) -> bool:
    """Discord refuses URLs it cannot parse ("Not a well formed URL."): a scheme and a host or path.
    (``attachment://name.png`` is one: embeds refer to uploaded files that way.)"""
    if not isinstance(value, str):
        return True
    parts = urlsplit(value)
    return bool(parts.scheme) and bool(parts.netloc or parts.path) and " " not in value


def _same(body: Any) -> Any:
    return body


def _attachment_ids_as_strings(body: Any) -> Any:
    """Spec quirk (README): ``attachments[].id`` may be sent as a number (discord.py sends files[n]'s
    index as an int); the spec only allows a snowflake string. Discord accepts both."""
    if not isinstance(body, dict) or not isinstance(body.get("attachments"), list):
        return body
    body = copy.copy(body)
    body["attachments"] = [
        {**a, "id": str(a["id"])} if isinstance(a, dict) and isinstance(a.get("id"), int) else a
        for a in body["attachments"]
    ]
    return body


def _callback_quirks(body: Any) -> Any:
    if isinstance(body, dict) and isinstance(body.get("data"), dict):
        return {**body, "data": _attachment_ids_as_strings(body["data"])}
    return body


_QUIRKS = {
    "create_message": _attachment_ids_as_strings,
    "update_message": _attachment_ids_as_strings,
    "execute_webhook": _attachment_ids_as_strings,
    "update_webhook_message": _attachment_ids_as_strings,
    "update_original_webhook_message": _attachment_ids_as_strings,
    "create_interaction_response": _callback_quirks,
}


def _docs_override(error: ValidationError) -> bool:
    """Spec vs docs (README): message ``content`` is 4000 in the spec (the Nitro limit) but 2000 for
    bots in the docs; limits.py enforces the docs' 2000, so the spec's 4000 is not reported twice."""
    path = list(error.absolute_path)
    return bool(path) and path[-1] == "content" and error.validator == "maxLength" and error.validator_value == 4000


def _coerce(value: str, kind: str | list[str] | None) -> Any:
    """Query strings are text; the spec types them. Discord parses ints and true/false/1/0."""
    kinds = kind if isinstance(kind, list) else [kind]
    if "integer" in kinds and re.fullmatch(r"-?\d+", value):
        return int(value)
    if "number" in kinds:
        try:
            return float(value)
        except ValueError:
            return value
    if "boolean" in kinds and value.lower() in ("true", "false", "1", "0"):
        return value.lower() in ("true", "1")
    return value


def _leaves(errors: Iterable[ValidationError]) -> Iterator[ValidationError]:
    """Descend through oneOf/anyOf to the branch the value meant (its ``type`` matched), as Discord
    reports the field inside a component rather than "matches none of 7 schemas"."""
    for error in errors:
        if error.validator in ("oneOf", "anyOf") and error.context:
            branch = _intended_branch(error)
            if branch is not None:
                yield from _leaves(branch)
                continue
        yield error


def _intended_branch(error: ValidationError) -> list[ValidationError] | None:
    branches: dict[int, list[ValidationError]] = {}
    for sub in error.context or []:
        branches.setdefault(int(sub.relative_schema_path[0]), []).append(sub)
    depth = len(error.absolute_path)

    def mismatched(sub: ValidationError) -> bool:
        rel = list(sub.absolute_path)[depth:]
        if not rel and sub.validator == "type":
            return True  # e.g. the {"type": "null"} branch of a nullable object
        return rel == ["type"] and sub.validator in ("enum", "const")  # another component/option type

    candidates = [subs for subs in branches.values() if not any(mismatched(s) for s in subs)]
    return candidates[0] if len(candidates) == 1 else None


def _report(tree: Errors, path: list[Any], error: ValidationError) -> None:
    if error.validator == "enum" and isinstance(error.schema, dict) and error.schema.get(UNION):
        allowed = ", ".join(map(str, error.validator_value))
        message = f'Value of field "type" must be one of ({allowed}).'
        _add(tree, path[:-1], "UNION_TYPE_CHOICES", message)
        return
    if error.validator == "required" and isinstance(error.instance, dict):
        # Discord names the missing field itself: {"value": {"_errors": [BASE_TYPE_REQUIRED]}}.
        for name in error.validator_value:
            if name not in error.instance:
                _add(tree, [*path, name], "BASE_TYPE_REQUIRED", "This field is required")
        return
    _add(tree, path, *_discord_error(error))


def _add(tree: Errors, path: list[Any], code: str, message: str) -> None:
    node = tree
    for key in path:
        node = node.setdefault(str(key), {})
    node.setdefault("_errors", []).append({"code": code, "message": message})


def _discord_error(error: ValidationError) -> tuple[str, str]:
    """Discord's code and message for a JSON Schema failure (the wording Discord uses)."""
    kw, schema, value = error.validator, error.schema if isinstance(error.schema, dict) else {}, error.instance
    if kw in ("maxLength", "minLength") and "maxLength" in schema and "minLength" in schema:
        low, high = schema["minLength"], schema["maxLength"]
        return "BASE_TYPE_BAD_LENGTH", f"Must be between {low} and {high} in length."
    if kw in ("maxLength", "maxItems", "maxProperties"):
        return "BASE_TYPE_MAX_LENGTH", f"Must be {error.validator_value} or fewer in length."
    if kw in ("minLength", "minItems", "minProperties"):
        return "BASE_TYPE_MIN_LENGTH", f"Must be {error.validator_value} or more in length."
    if kw == "maximum":
        return "NUMBER_TYPE_MAX", f"int value should be less than or equal to {error.validator_value}."
    if kw == "minimum":
        return "NUMBER_TYPE_MIN", f"int value should be greater than or equal to {error.validator_value}."
    if kw == "required":
        return "BASE_TYPE_REQUIRED", "This field is required"
    if kw in ("enum", "const"):
        choices = error.validator_value if kw == "enum" else [error.validator_value]
        return "BASE_TYPE_CHOICES", f"Value must be one of {{{', '.join(map(str, choices))}}}."
    if kw == "format" and error.validator_value == "uri":
        return "URL_TYPE_INVALID_URL", "Not a well formed URL."
    if kw == "pattern" and schema.get("format") == "snowflake":
        return "NUMBER_TYPE_COERCE", f'Value "{value}" is not snowflake.'
    if kw == "type":
        kinds = schema.get("type")
        kinds = kinds if isinstance(kinds, list) else [kinds]
        if value is None:
            return "BASE_TYPE_REQUIRED", "This field is required"
        if "integer" in kinds or "number" in kinds:
            return "NUMBER_TYPE_COERCE", f'Value "{value}" is not int.'
        if "boolean" in kinds:
            return "BASE_TYPE_BOOLEAN", "Must be either true or false."
        if "object" in kinds:
            return "MODEL_TYPE_CONVERT", "Only dictionaries may be used in a ModelType"
        if "array" in kinds:
            return "BASE_TYPE_ARRAY", "Only iterables may be used in a ListType"
        return "BASE_TYPE_STRING", f'Could not interpret "{value}" as string.'
    branches = error.validator_value if kw in ("oneOf", "anyOf") else None
    if isinstance(branches, list) and branches and all(isinstance(b, dict) and "const" in b for b in branches):
        return "BASE_TYPE_CHOICES", f"Value must be one of {{{', '.join(str(b['const']) for b in branches)}}}."
    if kw in ("oneOf", "anyOf") and isinstance(value, dict) and "type" in value:
        depth = len(error.absolute_path)
        allowed = sorted(
            {
                v
                for sub in error.context or []
                if list(sub.absolute_path)[depth:] == ["type"] and sub.validator == "enum"
                for v in sub.validator_value
            }
        )
        return "UNION_TYPE_CHOICES", f'Value of field "type" must be one of ({", ".join(map(str, allowed))}).'
    return "BASE_TYPE_INVALID", error.message[:200]
