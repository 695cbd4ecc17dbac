"""Discord's payload limits, so oversized output fails here as it would in production.

Validators collect errors into Discord's nested ``errors`` tree; ``form_error`` turns
that into the 400 body Discord returns (code 50035, "Invalid Form Body").
"""

from __future__ import annotations

import re
from typing import Any

Errors = dict[str, Any]

COMMAND_NAME = re.compile(r"^[-_\w]{1,32}$")


class _Collector:
    def __init__(self) -> None:
        self.errors: Errors = {}

    def add(self, path: list[str | int], code: str, message: str) -> None:
        node = self.errors
        for key in path:
            node = node.setdefault(str(key), {})
        node.setdefault("_errors", []).append({"code": code, "message": message})

    def max_len(self, path: list[str | int], value: Any, limit: int) -> None:
        if isinstance(value, str) and len(value) > limit:
            self.add(path, "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")

    def len_between(self, path: list[str | int], value: Any, low: int, high: int) -> None:
        if not isinstance(value, str) or not low <= len(value) <= high:
            self.add(path, "BASE_TYPE_BAD_LENGTH", f"Must be between {low} and {high} in length.")

    def max_items(self, path: list[str | int], value: Any, limit: int) -> None:
        if isinstance(value, list) and len(value) > limit:
            self.add(path, "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")


def form_error(errors: Errors) -> dict[str, Any]:
    return {"code": 50035, "message": "Invalid Form Body", "errors": errors}


def field_error(path: list[str | int], code: str, message: str) -> dict[str, Any]:
    """A 400 body with one error at ``path`` (e.g. ["data", "type"])."""
    c = _Collector()
    c.add(path, code, message)
    return form_error(c.errors)


def _embed(c: _Collector, path: list[str | int], embed: dict[str, Any]) -> int:
    c.max_len([*path, "title"], embed.get("title"), 256)
    c.max_len([*path, "description"], embed.get("description"), 4096)
    total = len(embed.get("title") or "") + len(embed.get("description") or "")
    fields = embed.get("fields") or []
    c.max_items([*path, "fields"], fields, 25)
    for i, fld in enumerate(fields):
        c.max_len([*path, "fields", i, "name"], fld.get("name"), 256)
        c.max_len([*path, "fields", i, "value"], fld.get("value"), 1024)
        total += len(fld.get("name") or "") + len(fld.get("value") or "")
    footer = embed.get("footer") or {}
    c.max_len([*path, "footer", "text"], footer.get("text"), 2048)
    author = embed.get("author") or {}
    c.max_len([*path, "author", "name"], author.get("name"), 256)
    return total + len(footer.get("text") or "") + len(author.get("name") or "")


def _select(c: _Collector, path: list[str | int], comp: dict[str, Any]) -> None:
    c.max_len([*path, "placeholder"], comp.get("placeholder"), 150)
    if comp.get("type") == 3:
        options = comp.get("options") or []
        if not options:
            c.add([*path, "options"], "BASE_TYPE_MIN_LENGTH", "Must be 1 or more in length.")
        c.max_items([*path, "options"], options, 25)
        for i, opt in enumerate(options):
            c.max_len([*path, "options", i, "label"], opt.get("label"), 100)
            c.max_len([*path, "options", i, "value"], opt.get("value"), 100)
            c.max_len([*path, "options", i, "description"], opt.get("description"), 100)


def _custom_ids(c: _Collector, path: list[str | int], comp: dict[str, Any], seen: set[str]) -> None:
    custom_id = comp.get("custom_id")
    if custom_id is None:
        return
    c.max_len([*path, "custom_id"], custom_id, 100)
    if custom_id in seen:
        c.add([*path, "custom_id"], "COMPONENT_CUSTOM_ID_DUPLICATED", "Component custom id cannot be duplicated")
    seen.add(custom_id)


def _components(c: _Collector, path: list[str | int], components: list[dict[str, Any]], flags: int) -> None:
    seen: set[str] = set()
    if not flags & (1 << 15):  # classic layout: action rows only
        c.max_items(path, components, 5)
    for r, row in enumerate(components):
        row_path = [*path, r]
        if row.get("type") != 1:
            _walk_v2(c, row_path, row, seen)
            continue
        children = row.get("components") or []
        selects = [x for x in children if x.get("type") in (3, 5, 6, 7, 8)]
        if selects and len(children) > 1:
            c.add(
                [*row_path, "components"],
                "COMPONENT_LAYOUT_WIDTH_EXCEEDED",
                "The specified component exceeds the maximum width",
            )
        c.max_items([*row_path, "components"], children, 5)
        for i, comp in enumerate(children):
            comp_path = [*row_path, "components", i]
            _custom_ids(c, comp_path, comp, seen)
            if comp.get("type") == 2:
                c.max_len([*comp_path, "label"], comp.get("label"), 80)
            elif comp.get("type") in (3, 5, 6, 7, 8):
                _select(c, comp_path, comp)


def _walk_v2(c: _Collector, path: list[str | int], comp: dict[str, Any], seen: set[str]) -> None:
    _custom_ids(c, path, comp, seen)
    if comp.get("type") == 2:
        c.max_len([*path, "label"], comp.get("label"), 80)
    for i, child in enumerate(comp.get("components") or []):
        _walk_v2(c, [*path, "components", i], child, seen)
    if isinstance(comp.get("accessory"), dict):
        _walk_v2(c, [*path, "accessory"], comp["accessory"], seen)


def message_errors(payload: dict[str, Any], *, prefix: list[str | int] | None = None) -> Errors:
    """Limits on content, embeds and components of a message create/edit payload."""
    c = _Collector()
    path = prefix or []
    c.max_len([*path, "content"], payload.get("content"), 2000)
    embeds = payload.get("embeds") or []
    c.max_items([*path, "embeds"], embeds, 10)
    total = sum(_embed(c, [*path, "embeds", i], e) for i, e in enumerate(embeds))
    if total > 6000:
        c.add([*path, "embeds"], "MAX_EMBED_SIZE_EXCEEDED", "Embed size exceeds maximum size of 6000")
    components = payload.get("components") or []
    _components(c, [*path, "components"], components, int(payload.get("flags") or 0))
    return c.errors


def modal_errors(data: dict[str, Any]) -> Errors:
    c = _Collector()
    c.len_between(["data", "title"], data.get("title"), 1, 45)
    c.len_between(["data", "custom_id"], data.get("custom_id"), 1, 100)
    rows = data.get("components") or []
    c.max_items(["data", "components"], rows, 5)
    for r, row in enumerate(rows):
        path: list[str | int] = ["data", "components", r]
        if row.get("type") == 18:  # Label wrapping one component
            c.max_len([*path, "label"], row.get("label"), 45)
            inner = [(["component"], row.get("component") or {})]
        else:
            inner = [(["components", i], x) for i, x in enumerate(row.get("components") or [])]
        for sub, comp in inner:
            cpath = [*path, *sub]
            c.max_len([*cpath, "custom_id"], comp.get("custom_id"), 100)
            if comp.get("type") == 4:
                c.max_len([*cpath, "label"], comp.get("label"), 45)
                c.max_len([*cpath, "value"], comp.get("value"), 4000)
                c.max_len([*cpath, "placeholder"], comp.get("placeholder"), 100)
    return c.errors


def autocomplete_errors(data: dict[str, Any]) -> Errors:
    c = _Collector()
    choices = data.get("choices") or []
    c.max_items(["data", "choices"], choices, 25)
    for i, choice in enumerate(choices):
        c.len_between(["data", "choices", i, "name"], choice.get("name"), 1, 100)
        c.max_len(["data", "choices", i, "value"], choice.get("value"), 100)
    return c.errors


def _command_option(c: _Collector, path: list[str | int], opt: dict[str, Any]) -> None:
    name = opt.get("name")
    if not isinstance(name, str) or not COMMAND_NAME.match(name) or name != name.lower():
        c.add([*path, "name"], "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid")
    c.len_between([*path, "description"], opt.get("description"), 1, 100)
    choices = opt.get("choices") or []
    c.max_items([*path, "choices"], choices, 25)
    for i, choice in enumerate(choices):
        c.len_between([*path, "choices", i, "name"], choice.get("name"), 1, 100)
        c.max_len([*path, "choices", i, "value"], choice.get("value"), 100)
    options = opt.get("options") or []
    c.max_items([*path, "options"], options, 25)
    for i, sub in enumerate(options):
        _command_option(c, [*path, "options", i], sub)


def command_errors(commands: list[dict[str, Any]]) -> Errors:
    """Names ^[-_\\w]{1,32}$ lowercase, description 1-100, <= 25 options (recursively)."""
    c = _Collector()
    seen: set[tuple[int, str]] = set()
    for i, cmd in enumerate(commands):
        kind = int(cmd.get("type", 1))
        if kind == 1:
            _command_option(c, [i], cmd)
        else:  # context menus: free-form name, empty description
            c.len_between([i, "name"], cmd.get("name"), 1, 32)
        key = (kind, str(cmd.get("name")))
        if key in seen:
            c.add([i, "name"], "APPLICATION_COMMANDS_DUPLICATE_NAME", "Application command names must be unique")
        seen.add(key)
    return c.errors
