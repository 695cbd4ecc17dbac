"""Requests are judged by Discord's OpenAPI spec and its documented cross-field rules.

Each case sends a payload Discord refuses straight to the stand-in's REST API and expects Discord's
answer: 400, code 50035 "Invalid Form Body", and the ``errors`` tree naming the field. Every case
also sends the same payload with the one fault fixed and expects it accepted, so a rule that
refuses everything (or nothing) fails here.
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from standin import Guild, StandIn
from standin.spec import SPEC_ENV, SpecMissingError, load_spec, locate_spec
from tests.standin.conftest import registered_interaction


def _row(*components: dict[str, Any]) -> dict[str, Any]:
    return {"type": 1, "components": list(components)}


def _button(**extra: Any) -> dict[str, Any]:
    return {"type": 2, "style": 1, "label": "More", "custom_id": "more", **extra}


def _select(**extra: Any) -> dict[str, Any]:
    options = [{"label": "T cells", "value": "t"}, {"label": "B cells", "value": "b"}]
    return {"type": 3, "custom_id": "pick", "options": options, **extra}


def _option(name: str, *, required: bool = False, **extra: Any) -> dict[str, Any]:
    return {"type": 3, "name": name, "description": "d", "required": required, **extra}


def _command(*options: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"type": 1, "name": "define", "description": "Define a term", "options": list(options), **extra}


MENTIONS = {"parse": []}
MSG = "/channels/{channel}/messages"
CALLBACK = "/interactions/{iid}/{token}/callback"
COMMANDS = "/applications/{app}/commands"

# (id, method, path, bad body, fixed body, field path in errors, Discord's error code)
CASES: list[tuple[str, str, str, Any, Any, str, str]] = [
    (
        "button-style-out-of-range",
        "POST",
        MSG,
        {"components": [_row(_button(style=9))]},
        {"components": [_row(_button())]},
        "components.0.components.0.style",
        "BASE_TYPE_CHOICES",
    ),
    (
        "link-button-with-custom-id",
        "POST",
        MSG,
        {"components": [_row(_button(style=5, url="https://example.org"))]},
        {"components": [_row({"type": 2, "style": 5, "label": "Docs", "url": "https://example.org"})]},
        "components.0.components.0.custom_id",
        "BUTTON_COMPONENT_LINK_CUSTOM_ID",
    ),
    (
        "button-without-custom-id",
        "POST",
        MSG,
        {"components": [_row({"type": 2, "style": 1, "label": "More"})]},
        {"components": [_row(_button())]},
        "components.0.components.0.custom_id",
        "BUTTON_COMPONENT_CUSTOM_ID_REQUIRED",
    ),
    (
        "button-without-label-or-emoji",
        "POST",
        MSG,
        {"components": [_row({"type": 2, "style": 1, "custom_id": "x"})]},
        {"components": [_row(_button())]},
        "components.0.components.0.label",
        "BUTTON_COMPONENT_LABEL_REQUIRED",
    ),
    (
        "select-min-over-max",
        "POST",
        MSG,
        {"components": [_row(_select(min_values=2, max_values=1))]},
        {"components": [_row(_select(min_values=1, max_values=2))]},
        "components.0.components.0.min_values",
        "SELECT_COMPONENT_MIN_VALUES_TOO_LARGE",
    ),
    (
        "select-min-values-range",
        "POST",
        MSG,
        {"components": [_row(_select(min_values=26, max_values=25))]},
        {"components": [_row(_select(min_values=1))]},
        "components.0.components.0.min_values",
        "NUMBER_TYPE_MAX",
    ),
    (
        "select-duplicate-values",
        "POST",
        MSG,
        {"components": [_row(_select(options=[{"label": "a", "value": "v"}, {"label": "b", "value": "v"}]))]},
        {"components": [_row(_select())]},
        "components.0.components.0.options.1.value",
        "SELECT_COMPONENT_OPTION_VALUE_DUPLICATED",
    ),
    (
        "select-empty-label",
        "POST",
        MSG,
        {"components": [_row(_select(options=[{"label": "", "value": "v"}]))]},
        {"components": [_row(_select(options=[{"label": "a", "value": "v"}]))]},
        "components.0.components.0.options.0.label",
        "BASE_TYPE_BAD_LENGTH",
    ),
    (
        "text-input-in-message",
        "POST",
        MSG,
        {"components": [_row({"type": 4, "custom_id": "t", "style": 1, "label": "Text"})]},
        {"components": [_row(_button())]},
        "components.0.components.0",
        "UNION_TYPE_CHOICES",
    ),
    (
        "components-v2-with-content",
        "POST",
        MSG,
        {"content": "hi", "flags": 1 << 15, "components": [{"type": 10, "content": "text"}]},
        {"flags": 1 << 15, "components": [{"type": 10, "content": "text"}]},
        "content",
        "MESSAGE_CANNOT_USE_LEGACY_FIELDS_WITH_COMPONENTS_V2",
    ),
    (
        "over-40-components",
        "POST",
        MSG,
        {"flags": 1 << 15, "components": [{"type": 17, "components": [{"type": 10, "content": "t"}] * 40}]},
        {"flags": 1 << 15, "components": [{"type": 17, "components": [{"type": 10, "content": "t"}] * 39}]},
        "components",
        "BASE_TYPE_MAX_LENGTH",
    ),
    (
        "legacy-top-level-not-a-row",
        "POST",
        MSG,
        {"components": [_button()]},
        {"components": [_row(_button())]},
        "components.0",
        "COMPONENT_LAYOUT_INVALID",
    ),
    (
        "allowed-mentions-parse-and-list",
        "POST",
        MSG,
        {"content": "hi", "allowed_mentions": {"parse": ["users"], "users": ["1"]}},
        {"content": "hi", "allowed_mentions": {"parse": [], "users": ["1"]}},
        "allowed_mentions",
        "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE",
    ),
    (
        "embed-colour-range",
        "POST",
        MSG,
        {"embeds": [{"title": "t", "color": 0x1000000}]},
        {"embeds": [{"title": "t", "color": 0xFFFFFF}]},
        "embeds.0.color",
        "NUMBER_TYPE_MAX",
    ),
    (
        "embed-field-without-value",
        "POST",
        MSG,
        {"embeds": [{"fields": [{"name": "n"}]}]},
        {"embeds": [{"fields": [{"name": "n", "value": "v"}]}]},
        "embeds.0.fields.0.value",
        "BASE_TYPE_REQUIRED",
    ),
    (
        "embed-image-url-length",
        "POST",
        MSG,
        {"embeds": [{"image": {"url": "https://e.org/" + "a" * 2040}}]},
        {"embeds": [{"image": {"url": "https://e.org/a.png"}}]},
        "embeds.0.image.url",
        "BASE_TYPE_MAX_LENGTH",
    ),
    (
        "link-button-url-not-a-url",
        "POST",
        MSG,
        {"components": [_row({"type": 2, "style": 5, "label": "Docs", "url": "not a url"})]},
        {"components": [_row({"type": 2, "style": 5, "label": "Docs", "url": "https://example.org/docs"})]},
        "components.0.components.0.url",
        "URL_TYPE_INVALID_URL",
    ),
    (
        "nonce-length",
        "POST",
        MSG,
        {"content": "hi", "nonce": "n" * 26},
        {"content": "hi", "nonce": "n" * 25},
        "nonce",
        "BASE_TYPE_MAX_LENGTH",
    ),
    (
        "content-over-2000-docs-not-spec",  # the spec says 4000 (Nitro); the docs' 2000 applies to bots
        "POST",
        MSG,
        {"content": "x" * 4001},
        {"content": "x" * 2000},
        "content",
        "BASE_TYPE_MAX_LENGTH",
    ),
    (
        "message-flag-not-settable",
        "POST",
        MSG,
        {"content": "hi", "flags": 1 << 1},
        {"content": "hi", "flags": 1 << 2},
        "flags",
        "MESSAGE_FLAGS_INVALID",
    ),
    (
        "snowflake-in-sticker-ids",
        "POST",
        MSG,
        {"content": "hi", "sticker_ids": ["abc"]},
        {"content": "hi", "sticker_ids": []},
        "sticker_ids.0",
        "NUMBER_TYPE_COERCE",
    ),
    (
        "deferred-response-flags",
        "POST",
        CALLBACK,
        {"type": 5, "data": {"flags": 1 << 2}},
        {"type": 5, "data": {"flags": 1 << 6}},
        "data.flags",
        "MESSAGE_FLAGS_INVALID",
    ),
    (
        "modal-text-input-min-over-max",
        "POST",
        CALLBACK,
        {
            "type": 9,
            "data": {
                "custom_id": "m",
                "title": "Feedback",
                "components": [
                    {
                        "type": 18,
                        "label": "Text",
                        "component": {"type": 4, "custom_id": "t", "style": 1, "min_length": 10, "max_length": 5},
                    }
                ],
            },
        },
        {
            "type": 9,
            "data": {
                "custom_id": "m",
                "title": "Feedback",
                "components": [
                    {
                        "type": 18,
                        "label": "Text",
                        "component": {"type": 4, "custom_id": "t", "style": 1, "min_length": 5, "max_length": 10},
                    }
                ],
            },
        },
        "data.components.0.component.min_length",
        "TEXT_INPUT_MIN_LENGTH_TOO_LARGE",
    ),
    (
        "callback-type-unknown",
        "POST",
        CALLBACK,
        {"type": 3, "data": {"content": "hi"}},
        {"type": 4, "data": {"content": "hi"}},
        "",
        "UNION_TYPE_CHOICES",
    ),
    (
        "command-required-after-optional",
        "PUT",
        COMMANDS,
        [_command(_option("a"), _option("b", required=True))],
        [_command(_option("b", required=True), _option("a"))],
        "0.options.1.required",
        "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
    ),
    (
        "command-duplicate-option-names",
        "PUT",
        COMMANDS,
        [_command(_option("a"), _option("a"))],
        [_command(_option("a"), _option("b"))],
        "0.options.1.name",
        "APPLICATION_COMMAND_OPTIONS_NAME_ALREADY_EXISTS",
    ),
    (
        "command-choices-and-autocomplete",
        "PUT",
        COMMANDS,
        [_command(_option("a", autocomplete=True, choices=[{"name": "x", "value": "x"}]))],
        [_command(_option("a", autocomplete=True))],
        "0.options.0.autocomplete",
        "APPLICATION_COMMAND_OPTION_AUTOCOMPLETE_CHOICES",
    ),
    (
        "command-min-length-over-max",
        "PUT",
        COMMANDS,
        [_command(_option("a", min_length=10, max_length=2))],
        [_command(_option("a", min_length=2, max_length=10))],
        "0.options.0.min_length",
        "APPLICATION_COMMAND_OPTION_LENGTH_RANGE",
    ),
    (
        "command-name-too-long",
        "PUT",
        COMMANDS,
        [_command(name="d" * 33)],
        [_command(name="d" * 32)],
        "0.name",
        "BASE_TYPE_BAD_LENGTH",
    ),
    (
        "command-tree-over-8000-chars",
        "PUT",
        COMMANDS,
        [
            _command(
                *[
                    _option(f"o{i}", description="d" * 100, choices=[{"name": "n" * 100, "value": "v" * 100}] * 25)
                    for i in range(4)
                ]
            )
        ],
        [_command(*[_option(f"o{i}", description="d" * 100) for i in range(4)])],
        "0",
        "APPLICATION_COMMAND_TOO_LARGE",
    ),
    (
        "too-many-user-commands",
        "PUT",
        COMMANDS,
        [{"type": 2, "name": f"User {i}"} for i in range(16)],
        [{"type": 2, "name": f"User {i}"} for i in range(15)],
        "",
        "APPLICATION_COMMANDS_TOO_MANY",
    ),
    (
        "list-messages-limit",
        "GET",
        MSG + "?limit=101",
        None,
        None,
        "limit",
        "NUMBER_TYPE_MAX",
    ),
    (
        "list-messages-before-not-a-snowflake",
        "GET",
        MSG + "?before=yesterday",
        None,
        None,
        "before",
        "NUMBER_TYPE_COERCE",
    ),
]


@pytest.fixture
async def http(discord_: StandIn) -> AsyncIterator[aiohttp.ClientSession]:
    headers = {"Authorization": f"Bot {discord_.token}"}
    async with aiohttp.ClientSession(discord_.base_url, headers=headers) as session:
        yield session


def _dig(errors: dict[str, Any], path: str) -> list[dict[str, Any]]:
    node: Any = errors
    for key in filter(None, path.split(".")):
        assert key in node, (path, errors)
        node = node[key]
    return node["_errors"]


@pytest.mark.parametrize(
    ("method", "template", "bad", "fixed", "field", "code"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
async def test_discord_refuses_invalid_request(
    discord_: StandIn,
    guild: Guild,
    http: aiohttp.ClientSession,
    method: str,
    template: str,
    bad: Any,
    fixed: Any,
    field: str,
    code: str,
) -> None:
    def path() -> str:  # a fresh interaction each time: a callback can only be answered once
        interaction = registered_interaction(discord_, guild)
        return template.format(
            channel=guild.default_channel.id, iid=interaction.id, token=interaction.token, app=discord_.application_id
        )

    async with http.request(method, "/api/v10" + path(), json=bad) as resp:
        body = await resp.json()
    assert resp.status == 400, body
    assert (body["code"], body["message"]) == (50035, "Invalid Form Body")
    assert code in [e["code"] for e in _dig(body["errors"], field)], body
    assert discord_.invalid_requests[-1].invalid

    if fixed is not None or method == "GET":
        fixed_path = path().replace("limit=101", "limit=100").replace("before=yesterday", "before=1")
        async with http.request(method, "/api/v10" + fixed_path, json=copy.deepcopy(fixed)) as resp:
            assert resp.status in (200, 201, 204), await resp.text()


async def test_every_request_is_validated_and_recorded(
    discord_: StandIn, guild: Guild, http: aiohttp.ClientSession
) -> None:
    """The count of validated requests grows, and an invalid one fails the e2e teardown check."""
    before = discord_.validated_requests
    async with http.post(f"/api/v10/channels/{guild.default_channel.id}/messages", json={"content": "ok"}) as resp:
        assert resp.status == 200
    discord_.assert_discord_accepted()
    async with http.post(f"/api/v10/channels/{guild.default_channel.id}/messages", json={"content": 5}) as resp:
        assert resp.status == 400
    assert discord_.validated_requests == before + 2
    with pytest.raises(AssertionError, match="content"):
        discord_.assert_discord_accepted()


def test_spec_location_override_and_clear_message(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    """``$STANDIN_DISCORD_SPEC`` wins; a missing spec gives one message naming where to put it."""
    monkeypatch.setenv(SPEC_ENV, str(locate_spec()))
    assert locate_spec().name == "openapi.json"
    assert load_spec() is load_spec()  # compiled once per process
    monkeypatch.setattr("standin.spec.__file__", str(tmp_path / "repo" / "standin" / "spec.py"))
    monkeypatch.setenv(SPEC_ENV, str(tmp_path / "missing.json"))
    with pytest.raises(SpecMissingError, match=SPEC_ENV):
        locate_spec()


async def test_installed_copy_without_the_spec_still_serves(monkeypatch: pytest.MonkeyPatch) -> None:
    """The offline console of an installed copy has no ../shared: the stand-in serves, unvalidated."""

    def missing() -> None:
        raise SpecMissingError("no spec here")

    monkeypatch.setattr("standin.spec.load_spec", missing)
    async with StandIn() as standin:
        assert standin.spec is None
        guild = standin.add_guild("G")
        headers = {"Authorization": f"Bot {standin.token}"}
        async with (
            aiohttp.ClientSession(standin.base_url, headers=headers) as http,
            http.post(f"/api/v10/channels/{guild.default_channel.id}/messages", json={"content": "hi"}) as resp,
        ):
            assert resp.status == 200
        assert standin.validated_requests == 0
