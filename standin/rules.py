"""Discord's documented cross-field rules: what a JSON Schema cannot say about a request.

Each rule cites the docs page (``../shared/discord-api/docs``) it comes from. Field limits that the
spec states (lengths, ranges, enums) are checked by ``spec.py``; Discord's own limits where the docs
are stricter than the spec stay in ``limits.py``. Rules add to Discord's ``errors`` tree.
"""

from __future__ import annotations

from typing import Any

from .limits import Errors, _Collector

Path = list[str | int]

SUPPRESS_EMBEDS = 1 << 2
EPHEMERAL = 1 << 6
SUPPRESS_NOTIFICATIONS = 1 << 12
IS_VOICE_MESSAGE = 1 << 13
IS_COMPONENTS_V2 = 1 << 15
# message.mdx (Create Message): only these flags can be set.
MESSAGE_FLAGS = SUPPRESS_EMBEDS | SUPPRESS_NOTIFICATIONS | IS_VOICE_MESSAGE | IS_COMPONENTS_V2
# receiving-and-responding.mdx (Messages): interaction responses may also set EPHEMERAL.
RESPONSE_FLAGS = MESSAGE_FLAGS | EPHEMERAL
# message.mdx / webhook.mdx (Edit): SUPPRESS_EMBEDS and IS_COMPONENTS_V2 only (EPHEMERAL is kept by Discord
# on an ephemeral message and discord.py echoes it, so it is accepted on edits of interaction messages).
EDIT_FLAGS = SUPPRESS_EMBEDS | IS_COMPONENTS_V2
MAX_TOTAL_COMPONENTS = 40  # reference.mdx: "Messages allow up to 40 total components"
SELECTS = (3, 5, 6, 7, 8)
LEGACY_FIELDS = ("content", "embeds", "sticker_ids", "poll", "shared_client_theme")
COMMAND_TREE_CHARS = 8000  # application-commands.mdx: name + description + values per command
COMMANDS_PER_TYPE = {1: 100, 2: 15, 3: 15}  # application-commands.mdx: global CHAT_INPUT / USER / MESSAGE


def message_rules(payload: Any, path: Path, *, allowed_flags: int, edit: bool = False) -> Errors:
    """Flags, components v2 exclusivity, allowed_mentions exclusivity and component rules."""
    c = _Collector()
    if not isinstance(payload, dict):
        return c.errors
    flags = payload.get("flags")
    if isinstance(flags, int) and flags & ~allowed_flags:
        c.add([*path, "flags"], "MESSAGE_FLAGS_INVALID", f"Only flags {allowed_flags} can be set here.")
    v2 = isinstance(flags, int) and bool(flags & IS_COMPONENTS_V2)
    if v2:
        # message.mdx: with IS_COMPONENTS_V2 the message can only contain components.
        for key in LEGACY_FIELDS:
            if payload.get(key):
                c.add(
                    [*path, key],
                    "MESSAGE_CANNOT_USE_LEGACY_FIELDS_WITH_COMPONENTS_V2",
                    "The 'content', 'embeds', 'sticker_ids' and 'poll' fields cannot be used when using "
                    "MessageFlags.IS_COMPONENTS_V2",
                )
    mentions = payload.get("allowed_mentions")
    if isinstance(mentions, dict):
        # message.mdx (Allowed mentions): parse is mutually exclusive with users / roles lists.
        parse = mentions.get("parse") or []
        for kind in ("users", "roles"):
            if kind in parse and mentions.get(kind):
                c.add(
                    [*path, "allowed_mentions"],
                    "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE",
                    f'parse:["{kind}"] and {kind}: {mentions[kind]} are mutually exclusive.',
                )
    components = payload.get("components")
    if isinstance(components, list):
        _message_components(c, [*path, "components"], components, v2)
    return c.errors


def _message_components(c: _Collector, path: Path, components: list[Any], v2: bool) -> None:
    total = 0
    stack: list[tuple[Path, Any, bool]] = [([*path, i], comp, True) for i, comp in enumerate(components)]
    while stack:
        where, comp, top = stack.pop(0)
        if not isinstance(comp, dict):
            continue
        total += 1
        kind = comp.get("type")
        if top and not v2 and kind != 1:
            # reference.mdx: without IS_COMPONENTS_V2 only action rows may be top-level.
            c.add(where, "COMPONENT_LAYOUT_INVALID", "Top-level components must be action rows (no IS_COMPONENTS_V2)")
        if kind == 2:
            _button(c, where, comp)
        elif kind in SELECTS:
            _select(c, where, comp)
        for i, child in enumerate(comp.get("components") or []):
            stack.append(([*where, "components", i], child, False))
        if isinstance(comp.get("accessory"), dict):
            stack.append(([*where, "accessory"], comp["accessory"], False))
    if total > MAX_TOTAL_COMPONENTS:
        c.add(path, "BASE_TYPE_MAX_LENGTH", f"Must be {MAX_TOTAL_COMPONENTS} or fewer in length.")


def _button(c: _Collector, where: Path, comp: dict[str, Any]) -> None:
    """reference.mdx (Button styles): which of custom_id / url / sku_id each style needs or forbids."""
    style = comp.get("style")
    if style == 5:
        if not comp.get("url"):
            c.add([*where, "url"], "BUTTON_COMPONENT_URL_REQUIRED", "A url is required")
        if comp.get("custom_id") is not None:
            c.add([*where, "custom_id"], "BUTTON_COMPONENT_LINK_CUSTOM_ID", "A link button cannot have a custom id")
    elif style == 6:
        if not comp.get("sku_id"):
            c.add([*where, "sku_id"], "BUTTON_COMPONENT_SKU_ID_REQUIRED", "A sku id is required")
        for key in ("custom_id", "label", "url", "emoji"):
            if comp.get(key) is not None:
                c.add([*where, key], "BUTTON_COMPONENT_PREMIUM_FIELD", f"A premium button cannot have {key}")
    else:
        if not comp.get("custom_id"):
            c.add([*where, "custom_id"], "BUTTON_COMPONENT_CUSTOM_ID_REQUIRED", "A custom id is required")
        for key in ("url", "sku_id"):
            if comp.get(key) is not None:
                c.add([*where, key], "BUTTON_COMPONENT_INVALID_FIELD", f"A non-link button cannot have {key}")
        if not comp.get("label") and not comp.get("emoji"):
            c.add([*where, "label"], "BUTTON_COMPONENT_LABEL_REQUIRED", "A label or an emoji is required")


def _select(c: _Collector, where: Path, comp: dict[str, Any]) -> None:
    low, high = comp.get("min_values"), comp.get("max_values")
    low = 1 if low is None else low
    high = 1 if high is None else high
    if isinstance(low, int) and isinstance(high, int) and low > high:
        # reference.mdx: min_values .. max_values is a range.
        c.add(
            [*where, "min_values"],
            "SELECT_COMPONENT_MIN_VALUES_TOO_LARGE",
            "min_values must be less than or equal to max_values",
        )
    options = comp.get("options") if comp.get("type") == 3 else None
    if isinstance(options, list):
        values = [o.get("value") for o in options if isinstance(o, dict)]
        for i, value in enumerate(values):
            if value in values[:i]:
                c.add(
                    [*where, "options", i, "value"],
                    "SELECT_COMPONENT_OPTION_VALUE_DUPLICATED",
                    "Select component option values must be unique",
                )
        if isinstance(high, int) and high > len(options):
            c.add(
                [*where, "max_values"],
                "SELECT_COMPONENT_MAX_VALUES_TOO_LARGE",
                f"max_values must be less than or equal to the number of options ({len(options)})",
            )
        defaults = sum(1 for o in options if isinstance(o, dict) and o.get("default"))
        if isinstance(high, int) and defaults > high:
            c.add([*where, "options"], "SELECT_COMPONENT_TOO_MANY_DEFAULTS", "Too many default options")


def modal_rules(data: Any) -> Errors:
    """reference.mdx (Text input): min_length <= max_length; modals hold no message-only components."""
    c = _Collector()
    if not isinstance(data, dict):
        return c.errors
    stack: list[tuple[Path, Any]] = [(["data", "components", i], x) for i, x in enumerate(data.get("components") or [])]
    while stack:
        where, comp = stack.pop(0)
        if not isinstance(comp, dict):
            continue
        if comp.get("type") == 4:
            low, high = comp.get("min_length"), comp.get("max_length")
            if isinstance(low, int) and isinstance(high, int) and low > high:
                c.add(
                    [*where, "min_length"],
                    "TEXT_INPUT_MIN_LENGTH_TOO_LARGE",
                    "min_length must be less than or equal to max_length",
                )
            value = comp.get("value")
            if isinstance(value, str) and isinstance(high, int) and len(value) > high:
                c.add([*where, "value"], "BASE_TYPE_MAX_LENGTH", f"Must be {high} or fewer in length.")
        elif comp.get("type") == 2:
            c.add([*where, "type"], "COMPONENT_TYPE_INVALID", "Buttons are not allowed in modals")
        elif comp.get("type") in SELECTS:
            _select(c, where, comp)
        for i, child in enumerate(comp.get("components") or []):
            stack.append(([*where, "components", i], child))
        if isinstance(comp.get("component"), dict):
            stack.append(([*where, "component"], comp["component"]))
    return c.errors


def command_rules(commands: list[Any], *, bulk: bool) -> Errors:
    """application-commands.mdx: option order, unique names, choices vs autocomplete, 8000 chars, counts."""
    c = _Collector()
    counts: dict[int, int] = {}
    for i, cmd in enumerate(commands):
        if not isinstance(cmd, dict):
            continue
        kind = cmd.get("type") or 1
        counts[kind] = counts.get(kind, 0) + 1
        if kind == 1:
            _options(c, [i] if bulk else [], cmd.get("options") or [])
            if _chars(cmd) > COMMAND_TREE_CHARS:
                c.add(
                    [i] if bulk else [],
                    "APPLICATION_COMMAND_TOO_LARGE",
                    f"Command exceeds maximum size ({COMMAND_TREE_CHARS})",
                )
    for kind, limit in COMMANDS_PER_TYPE.items():
        if bulk and counts.get(kind, 0) > limit:
            c.add([], "APPLICATION_COMMANDS_TOO_MANY", f"Maximum number of type {kind} application commands ({limit})")
    return c.errors


def _options(c: _Collector, path: Path, options: list[Any]) -> None:
    seen: set[str] = set()
    optional_seen = False
    for i, opt in enumerate(options):
        if not isinstance(opt, dict):
            continue
        where = [*path, "options", i]
        name = str(opt.get("name"))
        if name in seen:
            c.add([*where, "name"], "APPLICATION_COMMAND_OPTIONS_NAME_ALREADY_EXISTS", "Option names must be unique")
        seen.add(name)
        if opt.get("type") in (1, 2):
            _options(c, where, opt.get("options") or [])
            continue
        if opt.get("required"):
            if optional_seen:
                # application-commands.mdx: required options must be listed before optional options.
                c.add(
                    [*where, "required"],
                    "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                    "Required options must be placed before non-required options",
                )
        else:
            optional_seen = True
        if opt.get("autocomplete") and opt.get("choices"):
            # application-commands.mdx: autocomplete may not be set to true if choices are present.
            c.add(
                [*where, "autocomplete"],
                "APPLICATION_COMMAND_OPTION_AUTOCOMPLETE_CHOICES",
                "Autocomplete cannot be set with choices",
            )
        low, high = opt.get("min_length"), opt.get("max_length")
        if isinstance(low, int) and isinstance(high, int) and low > high:
            c.add([*where, "min_length"], "APPLICATION_COMMAND_OPTION_LENGTH_RANGE", "min_length > max_length")
        low, high = opt.get("min_value"), opt.get("max_value")
        if isinstance(low, int | float) and isinstance(high, int | float) and low > high:
            c.add([*where, "min_value"], "APPLICATION_COMMAND_OPTION_VALUE_RANGE", "min_value > max_value")


def _chars(node: dict[str, Any]) -> int:
    total = len(str(node.get("name") or "")) + len(str(node.get("description") or ""))
    for choice in node.get("choices") or []:
        if isinstance(choice, dict):
            total += len(str(choice.get("name") or "")) + len(str(choice.get("value") or ""))
    return total + sum(_chars(o) for o in node.get("options") or [] if isinstance(o, dict))


def merge(*trees: Errors) -> Errors:
    """One errors tree from several (lists at the same field concatenate)."""
    out: Errors = {}
    for tree in trees:
        _merge_into(out, tree)
    return out


def _merge_into(out: Errors, tree: Errors) -> None:
    for key, value in tree.items():
        if key == "_errors":
            out.setdefault("_errors", []).extend(value)
        else:
            _merge_into(out.setdefault(key, {}), value)


def request_rules(operation_id: str, body: Any) -> Errors:
    """The documented rules for one spec operation's body."""
    if operation_id in ("create_message", "execute_webhook"):
        webhook = operation_id == "execute_webhook"  # interaction followups may be ephemeral
        return message_rules(body, [], allowed_flags=MESSAGE_FLAGS | (EPHEMERAL if webhook else 0))
    if operation_id in ("update_message", "update_webhook_message", "update_original_webhook_message"):
        allowed = EDIT_FLAGS | (EPHEMERAL if operation_id != "update_message" else 0)
        return message_rules(body, [], allowed_flags=allowed, edit=True)
    if operation_id == "create_interaction_response" and isinstance(body, dict):
        kind, data = body.get("type"), body.get("data")
        if kind in (4, 7):
            return message_rules(data, ["data"], allowed_flags=RESPONSE_FLAGS)
        if kind == 5 and isinstance(data, dict) and isinstance(data.get("flags"), int) and data["flags"] & ~EPHEMERAL:
            # receiving-and-responding.mdx: a deferred response may only set EPHEMERAL.
            c = _Collector()
            c.add(["data", "flags"], "MESSAGE_FLAGS_INVALID", "Only EPHEMERAL can be set on a deferred response")
            return c.errors
        if kind == 9:
            return modal_rules(data)
        return {}
    if operation_id in ("bulk_set_application_commands", "bulk_set_guild_application_commands"):
        return command_rules(body, bulk=True) if isinstance(body, list) else {}
    if operation_id in (
        "create_application_command",
        "create_guild_application_command",
        "update_application_command",
        "update_guild_application_command",
    ):
        return command_rules([body], bulk=False) if isinstance(body, dict) else {}
    return {}
