"""Discord's payload limits produce Discord-style 400 errors."""

from __future__ import annotations

from typing import Any

import pytest

from standin.limits import autocomplete_errors, command_errors, message_errors, modal_errors


def _button(custom_id: str, label: str = "ok") -> dict[str, Any]:
    return {"type": 2, "style": 1, "label": label, "custom_id": custom_id}


def _row(*components: dict[str, Any]) -> dict[str, Any]:
    return {"type": 1, "components": list(components)}


def _select(custom_id: str = "s", n: int = 2, **extra: Any) -> dict[str, Any]:
    options = [{"label": f"o{i}", "value": f"v{i}"} for i in range(n)]
    return {"type": 3, "custom_id": custom_id, "options": options, **extra}


def _dig(errors: dict[str, Any], path: str) -> list[dict[str, str]]:
    node: Any = errors
    for key in path.split("."):
        node = node[key]
    return node["_errors"]


MESSAGE_CASES = [
    ({"content": "x" * 2001}, "content", "BASE_TYPE_MAX_LENGTH"),
    ({"embeds": [{"title": "t"}] * 11}, "embeds", "BASE_TYPE_MAX_LENGTH"),
    ({"embeds": [{"title": "x" * 257}]}, "embeds.0.title", "BASE_TYPE_MAX_LENGTH"),
    ({"embeds": [{"description": "x" * 4097}]}, "embeds.0.description", "BASE_TYPE_MAX_LENGTH"),
    ({"embeds": [{"fields": [{"name": "n", "value": "v"}] * 26}]}, "embeds.0.fields", "BASE_TYPE_MAX_LENGTH"),
    ({"embeds": [{"fields": [{"name": "n" * 257, "value": "v"}]}]}, "embeds.0.fields.0.name", "BASE_TYPE_MAX_LENGTH"),
    ({"embeds": [{"fields": [{"name": "n", "value": "v" * 1025}]}]}, "embeds.0.fields.0.value", "BASE_TYPE_MAX_LENGTH"),
    ({"embeds": [{"footer": {"text": "f" * 2049}}]}, "embeds.0.footer.text", "BASE_TYPE_MAX_LENGTH"),
    ({"embeds": [{"author": {"name": "a" * 257}}]}, "embeds.0.author.name", "BASE_TYPE_MAX_LENGTH"),
    ({"embeds": [{"description": "x" * 4000}, {"description": "y" * 2001}]}, "embeds", "MAX_EMBED_SIZE_EXCEEDED"),
    ({"components": [_row(_button(f"b{i}")) for i in range(6)]}, "components", "BASE_TYPE_MAX_LENGTH"),
    ({"components": [_row(*[_button(f"b{i}") for i in range(6)])]}, "components.0.components", "BASE_TYPE_MAX_LENGTH"),
    ({"components": [_row(_select(), _button("b"))]}, "components.0.components", "COMPONENT_LAYOUT_WIDTH_EXCEEDED"),
    ({"components": [_row(_button("b", label="l" * 81))]}, "components.0.components.0.label", "BASE_TYPE_MAX_LENGTH"),
    ({"components": [_row(_button("c" * 101))]}, "components.0.components.0.custom_id", "BASE_TYPE_MAX_LENGTH"),
    (
        {"components": [_row(_button("same")), _row(_button("same"))]},
        "components.1.components.0.custom_id",
        "COMPONENT_CUSTOM_ID_DUPLICATED",
    ),
    ({"components": [_row(_select(n=26))]}, "components.0.components.0.options", "BASE_TYPE_MAX_LENGTH"),
    ({"components": [_row(_select(n=0))]}, "components.0.components.0.options", "BASE_TYPE_MIN_LENGTH"),
    (
        {"components": [_row(_select(placeholder="p" * 151))]},
        "components.0.components.0.placeholder",
        "BASE_TYPE_MAX_LENGTH",
    ),
    (
        {"components": [_row({**_select(), "options": [{"label": "l" * 101, "value": "v"}]})]},
        "components.0.components.0.options.0.label",
        "BASE_TYPE_MAX_LENGTH",
    ),
    (
        {"components": [_row({**_select(), "options": [{"label": "l", "value": "v", "description": "d" * 101}]})]},
        "components.0.components.0.options.0.description",
        "BASE_TYPE_MAX_LENGTH",
    ),
]


@pytest.mark.parametrize(("payload", "path", "code"), MESSAGE_CASES)
def test_message_limits(payload: dict[str, Any], path: str, code: str) -> None:
    errors = message_errors(payload)
    assert _dig(errors, path)[0]["code"] == code


def test_message_within_limits_passes() -> None:
    payload = {
        "content": "x" * 2000,
        "embeds": [{"title": "t" * 256, "description": "d" * 4096, "fields": [{"name": "n", "value": "v"}] * 25}],
        "components": [_row(*[_button(f"b{i}", "l" * 80) for i in range(5)]), _row(_select(n=25))],
    }
    assert message_errors(payload) == {}


def test_callback_errors_are_nested_under_data() -> None:
    assert _dig(message_errors({"content": "x" * 2001}, prefix=["data"]), "data.content")


@pytest.mark.parametrize(
    ("data", "path"),
    [
        ({"choices": [{"name": "n", "value": "v"}] * 26}, "data.choices"),
        ({"choices": [{"name": "", "value": "v"}]}, "data.choices.0.name"),
        ({"choices": [{"name": "n" * 101, "value": "v"}]}, "data.choices.0.name"),
        ({"choices": [{"name": "n", "value": "v" * 101}]}, "data.choices.0.value"),
    ],
)
def test_autocomplete_limits(data: dict[str, Any], path: str) -> None:
    assert _dig(autocomplete_errors(data), path)


def _text(custom_id: str = "f", label: str = "Label", **extra: Any) -> dict[str, Any]:
    return {"type": 4, "custom_id": custom_id, "label": label, "style": 1, **extra}


@pytest.mark.parametrize(
    ("modal", "path"),
    [
        ({"title": "t" * 46, "custom_id": "m", "components": [_row(_text())]}, "data.title"),
        ({"title": "t", "custom_id": "m" * 101, "components": [_row(_text())]}, "data.custom_id"),
        ({"title": "t", "custom_id": "m", "components": [_row(_text(f"f{i}")) for i in range(6)]}, "data.components"),
        (
            {"title": "t", "custom_id": "m", "components": [_row(_text(label="l" * 46))]},
            "data.components.0.components.0.label",
        ),
        (
            {"title": "t", "custom_id": "m", "components": [_row(_text(value="v" * 4001))]},
            "data.components.0.components.0.value",
        ),
        (
            {"title": "t", "custom_id": "m", "components": [{"type": 18, "label": "l" * 46, "component": _text()}]},
            "data.components.0.label",
        ),
    ],
)
def test_modal_limits(modal: dict[str, Any], path: str) -> None:
    assert _dig(modal_errors(modal), path)


def _cmd(name: str = "define", description: str = "Define a term", **extra: Any) -> dict[str, Any]:
    return {"name": name, "description": description, "type": 1, **extra}


@pytest.mark.parametrize(
    ("commands", "path"),
    [
        ([_cmd("Define")], "0.name"),
        ([_cmd("two words")], "0.name"),
        ([_cmd("x" * 33)], "0.name"),
        ([_cmd(description="")], "0.description"),
        ([_cmd(description="d" * 101)], "0.description"),
        ([_cmd(options=[{"type": 3, "name": f"o{i}", "description": "d"} for i in range(26)])], "0.options"),
        (
            [
                _cmd(
                    options=[
                        {
                            "type": 1,
                            "name": "set",
                            "description": "d",
                            "options": [{"type": 3, "name": "Bad", "description": "d"}],
                        }
                    ]
                )
            ],
            "0.options.0.options.0.name",
        ),
        ([_cmd(), _cmd()], "1.name"),
    ],
)
def test_command_sync_limits(commands: list[dict[str, Any]], path: str) -> None:
    assert _dig(command_errors(commands), path)


def test_context_menu_names_may_have_spaces() -> None:
    assert command_errors([{"name": "Explain This", "description": "", "type": 3}]) == {}
