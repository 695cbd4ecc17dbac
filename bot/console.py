"""The offline console: the real bot, run against the local Discord stand-in, driven by typed commands.

Commands are typed as in Discord (`/define term:immunoterapy`, or `/define immunoterapy` for the first
option); a trailing `?` (or Tab, interactively) shows autocomplete or an option's choices; buttons and menus
are chosen by number; a modal asks for each field in turn. Options are checked as Discord's client checks
them before sending, with a sentence naming the option and what it accepts.

At a terminal the prompt is prompt_toolkit's: what the bot does on its own (a quiz question closing, the
next question, the concept of the day) is printed above the prompt as it happens, without disturbing the
line being typed. Fed from a pipe, it answers each line in turn and exits at end of input.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import sys
import tempfile
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TextIO

import discord

from bot.client import ImmunoBot
from bot.config import Settings
from bot.terminal import Names, layout
from standin import InteractionResult, StandIn, Upload, run_bot
from standin.state import Attachment, Guild, Member, Role

PROMPT = "immunobot> "
WIDTH = 100
HELP = """Type slash commands as in Discord, for example:
  /define term:immunoterapy      /define FK506        /define mono?   (a trailing ? shows autocomplete)
  /category                      /category name:cell therapy
  /stages                        /stages stage:immune blocking
  /search text:calcineurin       /about               /quiz start mode:?   (? after an option lists its choices)
  /explain tacrolimus or MMF?    (right-click → Apps → Explain terms on a message with that text;
                                  /explain alone explains the last public answer shown)
Moderators (you are one here):
  /concept edit term:tacrolimus  (the form asks for each field; Enter keeps the shown text)
  /concept add category:cell therapy      /concept alias add term:MMF alias:mofetil
  /concept history term:MMF      /concept revert term:MMF revision:0     /concept hide term:BCG
  /concept import file:path/to/entries.yaml      /concept export    (files are saved and their path shown)
Study: /quiz start questions:5   /leaderboard   /stats   /flashcards review   /flashcards status   /top
Daily: /daily set channel:#daily-concepts time:08:00 timezone:London   /daily now   /daily show
After a reply, type a button's number to press it, or a menu's number and an option's letter (e.g. 2 b).
What the bot does on its own (a quiz question closing, a daily post) appears as it happens.
Your server and you are the same every run, so edits, scores and cards are kept in the database.
/help shows this; /quit, Ctrl-D or Ctrl-C leaves."""

BUTTON, SELECT = 2, 3
SUBCOMMAND, GROUP, STRING, INTEGER, BOOLEAN, USER, CHANNEL, ROLE, MENTIONABLE, NUMBER, ATTACHMENT = range(1, 12)
MANAGE_GUILD = discord.Permissions(manage_guild=True).value
OFFLINE_GUILD = 100_000_000_000_000_000
OFFLINE_USER = 100_000_000_000_000_500
OFFLINE_ROLE = 100_000_000_000_000_700
WATCH_SECONDS = 0.25
"""How often the interactive console looks for what the bot did on its own."""
_OPTION_MARKER = re.compile(r"(?:^|(?<=\s))([a-z_][a-z0-9_-]*):", re.IGNORECASE)
_TRUE, _FALSE = ("true", "yes", "1", "on", "y"), ("false", "no", "0", "off", "n")
KEEP_BLANK = "-"
"""Typed alone into a form field: empty the field (Enter alone keeps the shown text)."""
SEVERAL_LINES = '"""'
"""Typed alone on a line: starts, and later ends, several lines of text in a paragraph form field."""


class InputError(ValueError):
    """Something typed that Discord's client would not send; the message says what the option accepts."""


class LineSource(Protocol):
    """Where typed lines come from: a terminal prompt or a pipe."""

    interactive: bool

    async def read(self, prompt: str, *, complete: bool = False) -> str:
        """Return one line; raise EOFError at the end of input, KeyboardInterrupt on Ctrl-C."""
        ...


@dataclass
class Clickable:
    """A component shown in the last reply, numbered for the user."""

    message_id: int
    component: dict[str, Any]


def _number(value: float) -> str:
    """A bound as a person writes it: 1000000, not 1e+06."""
    return str(int(value)) if float(value).is_integer() else str(value)


def _describe(option: dict[str, Any]) -> str:
    """What an option accepts, in the words Discord's client would use."""
    kind = option.get("type")
    if option.get("choices"):
        return "one of: " + ", ".join(str(choice["name"]) for choice in option["choices"])
    low, high = option.get("min_value"), option.get("max_value")
    noun = {INTEGER: "a whole number", NUMBER: "a number"}.get(kind)
    if noun:
        if low is not None and high is not None:
            return f"{noun} from {_number(low)} to {_number(high)}"
        if low is not None:
            return f"{noun} of at least {_number(low)}"
        return f"{noun} of at most {_number(high)}" if high is not None else noun
    if kind == BOOLEAN:
        return "True or False"
    if kind == CHANNEL:
        return "a channel, e.g. #general"
    if kind == ROLE:
        return "a role, e.g. @moderators"
    if kind == ATTACHMENT:
        return "the path of a file to attach"
    shortest, longest = option.get("min_length"), option.get("max_length")
    if shortest and longest:
        return f"text of {shortest} to {longest} characters"
    if longest:
        return f"text of up to {longest} characters"
    return "text" + (" (autocompleted: end with ? to see suggestions)" if option.get("autocomplete") else "")


@dataclass
class ConsoleSession:
    """One person at the console, as a member of an offline guild."""

    standin: StandIn
    guild: Guild
    member: Member
    out: TextIO | None
    attachments_dir: Path
    source: LineSource | None = None
    ansi: bool = False
    clickables: list[Clickable] = field(default_factory=list)
    seen_posts: set[int] = field(default_factory=set)
    seen_edits: dict[int, int] = field(default_factory=dict)
    completion_labels: dict[str, str] = field(default_factory=dict)
    """The label each completed line of the last completion had (what Tab's menu shows), by folded line."""
    last_public_message: int | None = None
    """The last public answer shown, which `/explain` alone runs the Explain terms menu on."""

    # --- output -----------------------------------------------------------------------------------------

    def say(self, text: str = "") -> None:
        """Print text as is (already laid out); to the current stdout, which is prompt_toolkit's at a prompt."""
        print(text, file=self.out or sys.stdout, flush=True)

    def names(self) -> Names:
        """Name users, roles and channels of the offline world, as a Discord client shows mentions."""
        world = self.standin.world

        def user(user_id: int) -> str | None:
            member = self.guild.members.get(user_id)
            if member is not None and member.nick:
                return member.nick
            found = world.users.get(user_id)
            return (found.global_name or found.username) if found else None

        def role(role_id: int) -> str | None:
            found = self.guild.roles.get(role_id)
            return found.name if found else None

        def channel(channel_id: int) -> str | None:
            found = world.channel(channel_id)
            return found.name if found is not None else None

        return Names(user, role, channel)

    def write(self, text: str, *, indent: str = "", width: int = WIDTH) -> None:
        """Print message or embed text the way a person reads it (see bot.terminal)."""
        for line in layout(text, self.names(), ansi=self.ansi, width=width, indent=indent):
            self.say(line)

    # --- parsing ----------------------------------------------------------------------------------------

    def command_schemas(self) -> dict[str, dict[str, Any]]:
        """Return the synced commands by name (guild commands first, then global)."""
        schemas = {c["name"]: c for c in self.standin.commands()}
        schemas.update({c["name"]: c for c in self.standin.commands(guild=self.guild)})
        return schemas

    def parse(self, line: str) -> tuple[list[str], dict[str, str], list[dict[str, Any]]]:
        """Split `/group sub opt:value ...` into the command path, option values and the option schemas."""
        words = line.lstrip("/").strip()
        schemas = self.command_schemas()
        name, _, rest = words.partition(" ")
        schema = schemas.get(name.casefold())
        if schema is None:
            known = ", ".join(f"/{n}" for n in sorted(schemas))
            raise InputError(f"There is no /{name} command. Known commands: {known}. Type /help for examples.")
        path = [schema["name"]]
        options = schema.get("options") or []
        sub, _, after = rest.strip().partition(" ")
        while options and options[0].get("type") in (SUBCOMMAND, GROUP):
            chosen = next((o for o in options if o["name"] == sub.casefold()), None)
            if chosen is None:
                subs = ", ".join(o["name"] for o in options)
                raise InputError(f"/{' '.join(path)} needs one of: {subs}.")
            path.append(chosen["name"])
            options = chosen.get("options") or []
            rest = after
            sub, _, after = rest.strip().partition(" ")
        return path, self._option_values(path, rest.strip(), options), options

    @staticmethod
    def _option_values(path: list[str], text: str, options: list[dict[str, Any]]) -> dict[str, str]:
        """Read `name:value` pairs; text before the first name belongs to the first option.

        A `word:value` (no space after the colon) that is not one of the command's options is refused, as
        Discord's client offers only the command's own options; prose such as `reason:typo fix: spelling`
        (a space after the colon) stays part of the value.
        """
        names = {o["name"] for o in options}
        markers = []
        for marker in _OPTION_MARKER.finditer(text):
            name = marker.group(1).casefold()
            if name in names:
                markers.append(marker)
                continue
            after = text[marker.end() :]
            if after[:1].strip() and not after.startswith("//"):
                listed = ", ".join(f"{o['name']}:" for o in options)
                command = "/" + " ".join(path)
                raise InputError(
                    f"{command} has no option {name}: — its options are {listed}."
                    if options
                    else f"{command} takes no options."
                )
        values: dict[str, str] = {}
        leading = text[: markers[0].start()] if markers else text
        if leading.strip():
            if not options:
                raise InputError(f"/{' '.join(path)} takes no options.")
            values[options[0]["name"]] = leading.strip()
        for index, marker in enumerate(markers):
            end = markers[index + 1].start() if index + 1 < len(markers) else len(text)
            values[marker.group(1).casefold()] = text[marker.end() : end].strip()
        return values

    def typed(self, path: list[str], values: dict[str, str], schemas: list[dict[str, Any]]) -> dict[str, Any]:
        """Check option text as Discord's client does and convert it to the declared types.

        Every refusal is one sentence naming the option and what it accepts: missing required options,
        whole numbers, ranges, lengths, choices, channels, roles and files.
        """
        missing = [o for o in schemas if o.get("required") and not values.get(o["name"], "").strip()]
        if missing:
            command = "/" + " ".join(path)
            needs = "; ".join(f"{o['name']}: ({o.get('description') or _describe(o)})" for o in missing)
            example = " ".join(f"{o['name']}:…" for o in missing)
            raise InputError(f"{command} needs {needs}. Type it as {command} {example}")
        by_name = {o["name"]: o for o in schemas}
        return {name: self._convert(by_name[name], value) for name, value in values.items()}

    def _convert(self, option: dict[str, Any], value: str) -> Any:
        name, kind = option["name"], option.get("type")
        value = value.strip()
        wrong = f"{name}: takes {_describe(option)}"
        if option.get("choices"):
            typed = value.casefold()
            for choice in option["choices"]:
                if typed in (str(choice["name"]).casefold(), str(choice["value"]).casefold()):
                    return choice["value"]
            starting = [c for c in option["choices"] if typed and str(c["name"]).casefold().startswith(typed)]
            if len(starting) == 1:  # the start of one choice's name is enough ("stages" for "stages in order")
                return starting[0]["value"]
            raise InputError(f"{wrong}; “{value[:40]}” is not one of them.")
        converted: Any
        if kind == INTEGER:
            try:
                converted = int(value.replace("_", ""))
            except ValueError:
                raise InputError(f"{wrong}; “{value[:40]}” is not a whole number.") from None
        elif kind == NUMBER:
            try:
                converted = float(value)
            except ValueError:
                raise InputError(f"{wrong}; “{value[:40]}” is not a number.") from None
        elif kind == BOOLEAN:
            if value.casefold() not in (*_TRUE, *_FALSE):
                raise InputError(f"{wrong}; “{value[:40]}” is neither.")
            return value.casefold() in _TRUE
        elif kind == CHANNEL:
            try:
                return self.guild.channel(value.lstrip("#"))
            except KeyError:
                known = ", ".join(f"#{c.name}" for c in self.guild.channels.values())
                raise InputError(f"There is no channel {value} in the offline server ({known}).") from None
        elif kind == ROLE:
            return self._role(value.lstrip("@"))
        elif kind == ATTACHMENT:
            return self._upload(value)
        else:
            shortest, longest = option.get("min_length", 0), option.get("max_length", 6000)
            if not shortest <= len(value) <= longest:
                raise InputError(f"{wrong}; what you typed has {len(value)}.")
            return value
        low, high = option.get("min_value"), option.get("max_value")
        if (low is not None and converted < low) or (high is not None and converted > high):
            raise InputError(f"{wrong}; {value} is out of range.")
        return converted

    def _role(self, name: str) -> Role:
        """A role of the offline server, by name."""
        try:
            return self.guild.role(name)
        except KeyError:
            known = ", ".join(sorted(f"@{r.name}" for r in self.guild.roles.values() if r.id != self.guild.id))
            raise InputError(f"There is no role @{name} in the offline server ({known}).") from None

    @staticmethod
    def _upload(value: str) -> Upload:
        """A local file, attached as Discord attaches an uploaded one."""
        path = Path(value).expanduser()
        if not path.is_file():
            raise InputError(f"There is no file {path}: give the path of a file to attach.")
        return Upload(path.name, path.read_bytes())

    # --- running ----------------------------------------------------------------------------------------

    async def handle(self, line: str) -> bool:
        """Act on one input line; return False to quit."""
        line = line.strip()
        if not line:  # an empty line shows what happened meanwhile (a quiz question closing, a daily post)
            self.show_channel_posts()
            return True
        if line in ("/quit", "/exit", "quit", "exit"):
            return False
        if line in ("/help", "help", "?"):
            self.say(HELP)
            return True
        if not line.startswith("/"):
            await self.choose(line)
            self.show_channel_posts()
            return True
        if line.split()[0].casefold() == "/explain":
            await self.explain(line.partition(" ")[2].strip())
            return True
        try:
            if line.endswith("?"):
                await self.complete(line[:-1])
            else:
                path, values, schemas = self.parse(line)
                typed = self.typed(path, values, schemas)
                result = await self.standin.slash(self.guild, self.member, path, options=typed)
                await self.show(result)
        except (ValueError, AssertionError) as error:
            self.say(f"! {error}")
        self.show_channel_posts()
        return True

    def show_channel_posts(self) -> None:
        """Print what the bot posted or changed in channels on its own since last time: the concept of the day,
        a quiz's next question, a question closing with its answer."""
        for channel in self.guild.channels.values():
            for message in self.standin.channel_messages(channel):
                if message.author.id != self.standin.bot_user.id:
                    continue
                edits = len(message.edits)
                if message.id not in self.seen_posts:
                    self.seen_posts.add(message.id)
                    self.seen_edits[message.id] = edits
                    if message.interaction_id is not None:  # an answer to a command: already shown
                        continue
                    self.say(f"[new message in #{channel.name}]")
                elif edits > self.seen_edits.get(message.id, 0):
                    self.seen_edits[message.id] = edits
                    self.say(f"[message updated in #{channel.name}]")
                else:
                    continue
                self.render(message.id, message.content, message.embeds, message.components,
                            message.attachments, ephemeral=False, keep=True)  # fmt: skip

    async def complete(self, line: str, *, quiet: bool = False) -> list[str]:
        """Show the suggestions for the option being typed; return the line completed with each.

        The option being typed is the last one on the line. An option with fixed choices lists them (those
        matching what was typed); an autocompleted one asks the bot; any other says what it accepts.
        Quiet (for Tab) it only returns the completed lines.
        """
        path, values, schemas = self.parse(line)
        by_name = {o["name"]: o for o in schemas}
        focused = next(reversed(values), None) or next((o["name"] for o in schemas if o.get("autocomplete")), None)
        option = by_name.get(focused) if focused else None
        if option is None:
            if not quiet:
                self.say(f"! /{' '.join(path)} takes no options." if not schemas else "! Nothing to suggest here.")
            return []
        written = values.get(option["name"], "")
        if option.get("choices"):
            wanted = written.strip().casefold()
            choices = [c for c in option["choices"] if wanted in str(c["name"]).casefold()] or option["choices"]
            pairs = [(str(c["name"]), str(c["name"])) for c in choices]
        elif option.get("autocomplete"):
            typed = {k: v for k, v in self._typed_loosely(values, schemas).items() if k != option["name"]}
            typed[option["name"]] = written
            result = await self.standin.autocomplete(
                self.guild, self.member, path, focused=option["name"], options=typed
            )
            pairs = [(choice["name"], str(choice["value"])) for choice in result.choices]
        else:
            if not quiet:
                self.say(f"  {option['name']}: takes {_describe(option)}.")
            return []
        if not quiet:
            self.say("  " + "\n  ".join(label for label, _ in pairs) if pairs else "  (no suggestions)")
        stem = line.rstrip()
        if written and stem.endswith(written):
            stem = stem[: len(stem) - len(written)]
        elif option["name"] not in values:
            stem += f" {option['name']}:"
        self.completion_labels = {f"{stem}{value}".casefold(): label for label, value in pairs}
        return [f"{stem}{value}" for _, value in pairs]

    def _typed_loosely(self, values: dict[str, str], schemas: list[dict[str, Any]]) -> dict[str, Any]:
        """The other options' values for an autocomplete request: those that are valid (Discord sends what
        the person has filled in so far)."""
        by_name = {o["name"]: o for o in schemas}
        typed: dict[str, Any] = {}
        for name, value in values.items():
            with contextlib.suppress(InputError):
                typed[name] = self._convert(by_name[name], value)
        return typed

    def _open_question(self, clickable: Clickable) -> bool:
        """Whether a numbered component is an answer to a quiz question still open (its buttons not disabled)."""
        if not str(clickable.component.get("custom_id", "")).startswith("quiz:"):
            return False
        for channel in self.guild.channels.values():
            for message in self.standin.channel_messages(channel):
                if message.id == clickable.message_id:
                    current = [c for row in message.components for c in row.get("components", [])
                               if c.get("custom_id") == clickable.component.get("custom_id")]  # fmt: skip
                    return bool(current) and not current[0].get("disabled")
        return False

    async def choose(self, line: str) -> None:
        """Press a numbered button, or pick an option (by letter or number) from a numbered menu."""
        parts = line.split()
        if not parts[0].isdigit() or not 1 <= int(parts[0]) <= len(self.clickables):
            self.say("! Type a slash command (see /help), or the number of a button shown above.")
            return
        clickable = self.clickables[int(parts[0]) - 1]
        component = clickable.component
        try:
            if component.get("type") == SELECT:
                options = component.get("options") or []
                if len(parts) < 2:
                    self.say("! Choose an option too, e.g. `2 a`.")
                    return
                pick = parts[1].casefold()
                index = ord(pick) - ord("a") if pick.isalpha() and len(pick) == 1 else int(pick) - 1
                if not 0 <= index < len(options):
                    self.say("! There is no such option in that menu.")
                    return
                result = await self.standin.select(
                    self.guild, self.member, clickable.message_id, component["custom_id"], [options[index]["value"]]
                )
            else:
                result = await self.standin.click(self.guild, self.member, clickable.message_id, component["custom_id"])
            await self.show(result)
        except (ValueError, AssertionError) as error:
            self.say(f"! {error}")

    async def explain(self, text: str) -> None:
        """Use the "Explain terms" message context menu: on a message you post with `text`, or on the last
        public answer shown."""
        target: int | None = self.last_public_message
        if text:
            target = self.standin.user_message(self.guild, self.member, text).id
        if target is None:
            self.say("! Nothing to explain yet: type `/explain` and some text, or run a command first.")
            return
        try:
            await self.show(await self.standin.message_command(self.guild, self.member, "Explain terms", target))
        except (ValueError, AssertionError) as error:
            self.say(f"! {error}")

    async def show(self, result: InteractionResult) -> None:
        """Render the bot's answer (and any follow-ups that come quickly) as text."""
        response = await result.wait_response()
        if response.type == 9:
            await self.fill_modal(response.data)
            return
        if response.type in (5, 6):
            await asyncio.sleep(0)
            message = await result.wait_followup(1) if response.type == 5 else None
            if message is not None:
                self.render(message.id, message.content, message.embeds, message.components, message.attachments,
                            message.ephemeral)  # fmt: skip
            return
        message_id = result.message_id or 0
        if result.message is not None and not response.ephemeral:
            self.last_public_message = result.message.id
        if result.message is not None:  # an update by this very click is shown here, not again as "updated"
            self.seen_posts.add(result.message.id)
            self.seen_edits[result.message.id] = len(result.message.edits)
        self.render(message_id, response.content, response.embeds, response.components, response.attachments,
                    response.ephemeral)  # fmt: skip

    # --- forms ------------------------------------------------------------------------------------------

    async def fill_modal(self, modal: dict[str, Any]) -> None:
        """Ask for each text field of a modal in turn, then submit it.

        As in Discord's form: pre-filled text is shown whole (one line per line, nothing cut), required
        fields are marked, a field left invalid is asked again (nothing typed before is lost), paragraph
        fields take several lines, and what is typed is sent exactly as typed. Ctrl-C cancels the form.
        """
        fields = list(_modal_fields(modal))
        paragraphs = any(f["style"] == 2 for f in fields)
        self.say(f"[{modal.get('title', 'Form')}]  * = required · Enter keeps the shown text · {KEEP_BLANK} empties it")
        if paragraphs:
            self.say(f"  Several lines (paragraphs): {SEVERAL_LINES} alone, the lines, then {SEVERAL_LINES} alone")
        answers: dict[str, str] = {}
        try:
            for item in fields:
                answers[item["custom_id"]] = await self._ask_field(item)
        except KeyboardInterrupt:
            self.say("(form cancelled: nothing was sent)")
            return
        try:
            result = await self.standin.submit_modal(self.guild, self.member, modal["custom_id"], answers)
        except (ValueError, AssertionError) as error:  # Discord would not send it; say why, keep the text
            self.say(f"! The form was not sent: {error}")
            self._give_back(fields, answers)
            return
        await self.show(result)

    async def _ask_field(self, item: dict[str, Any]) -> str:
        """Ask for one field until what is typed would be accepted by Discord's form."""
        label = item["label"] + (" *" if item["required"] else "")
        if item["description"]:
            label += f"  ({item['description']})"
        default = item["value"]
        if default and "\n" not in default and len(default) <= 60:
            self.say(f"  {label} — now: {default}")
        elif default:
            self.say(f"  {label} — now:")
            for line in default.split("\n"):
                self.say(f"      {line}")
        else:
            self.say(f"  {label}")
        while True:
            text = await self._read_field(item["style"] == 2)
            if text == "":
                text = default
            elif text.strip() == KEEP_BLANK:
                text = ""
            problem = _field_problem(item, text)
            if problem is None:
                return text
            self.say(f"  ! {problem}")

    async def _read_field(self, several_lines: bool) -> str:
        """One line; in a paragraph field, SEVERAL_LINES alone starts several lines, ended by it alone again."""
        first = await self._read_echoed("  > ")
        if not several_lines or first.strip() != SEVERAL_LINES:
            return first
        lines: list[str] = []
        while True:
            line = await self._read_echoed("  … ")
            if line.strip() == SEVERAL_LINES:
                return "\n".join(lines).strip("\n")
            lines.append(line)

    async def _read_echoed(self, prompt: str) -> str:
        """Read a line; from a pipe, show it after the prompt as a terminal would have."""
        assert self.source is not None
        line = await self.source.read(prompt)
        if not self.source.interactive:
            self.say(f"{prompt}{line}".rstrip())
        return line

    def _give_back(self, fields: list[dict[str, Any]], answers: dict[str, str]) -> None:
        """Show what was typed into a form that could not be sent, exactly as typed."""
        self.say("Your text, so nothing is lost:")
        for item in fields:
            if answers.get(item["custom_id"]):
                self.say(f"  {item['label']}:")
                for line in answers[item["custom_id"]].split("\n"):
                    self.say(f"  ▏ {line}")

    # --- rendering --------------------------------------------------------------------------------------

    def render(
        self,
        message_id: int,
        content: str | None,
        embeds: list[dict[str, Any]],
        components: list[dict[str, Any]],
        attachments: list[Attachment],
        ephemeral: bool,
        *,
        keep: bool = False,
    ) -> None:
        """Print a message: content, embeds as boxes of text, files saved to disk, components numbered.

        `keep` adds this message's components to those already numbered instead of starting afresh.
        """
        if not keep:  # a new reply numbers its own components; an open quiz question's stay pressable
            self.clickables = [c for c in self.clickables if self._open_question(c)]
        if ephemeral:
            self.say("(only you can see this)")
        if content:
            self.write(content)
        for embed in embeds:
            self.say("┌" + "─" * (WIDTH - 2))
            if embed.get("title"):
                self.write(embed["title"].upper(), indent="│ ")
            if embed.get("description"):
                self.write(embed["description"], indent="│ ")
            for field_ in embed.get("fields", []):
                self.write(f"▸ {field_['name']}", indent="│ ")
                self.write(field_["value"], indent="│     ")
            if (embed.get("image") or {}).get("url"):
                self.say(f"│ [picture: {embed['image']['url'].removeprefix('attachment://')}]")
            if (embed.get("footer") or {}).get("text"):
                self.write(f"— {embed['footer']['text']}", indent="│ ")
            self.say("└" + "─" * (WIDTH - 2))
        for attachment in attachments:
            path = self.attachments_dir / attachment.filename
            path.write_bytes(attachment.content)
            self.say(f"[file saved: {path}]")
        for row in components:
            for component in row.get("components", []):
                self.clickables.append(Clickable(message_id, component))
                number = len(self.clickables)
                disabled = " (disabled)" if component.get("disabled") else ""
                if component.get("type") == SELECT:
                    self.say(f"  [{number}] {component.get('placeholder') or 'Choose'}{disabled}")
                    for index, option in enumerate(component.get("options", [])):
                        self.say(f"        {chr(ord('a') + index) if index < 26 else index + 1}) {option['label']}")
                elif component.get("type") == BUTTON:
                    label = component.get("label") or component.get("emoji", {}).get("name", "?")
                    self.say(f"  [{number}] {label}{disabled}")


def _modal_fields(modal: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The text fields of a modal, in order, with what the console needs to ask for them."""
    for row in modal.get("components", []):
        labelled = row.get("type") == 18  # a label wrapping one field
        for component in [row["component"]] if labelled else row.get("components", []):
            if component.get("type") != 4:
                continue
            yield {
                "custom_id": component["custom_id"],
                "label": (row.get("label") if labelled else component.get("label")) or component["custom_id"],
                "description": row.get("description") if labelled else None,
                "value": component.get("value") or "",
                "required": component.get("required", True),
                "style": component.get("style", 1),
                "min_length": component.get("min_length", 0),
                "max_length": component.get("max_length", 4000),
            }


def _field_problem(item: dict[str, Any], text: str) -> str | None:
    """Why Discord's form would not accept `text` for this field, or None."""
    if not text:
        return f"{item['label']} is required: type something." if item["required"] else None
    if len(text) > item["max_length"]:
        return f"{item['label']} takes at most {item['max_length']} characters; you typed {len(text)}."
    if len(text) < item["min_length"]:
        return f"{item['label']} takes at least {item['min_length']} characters; you typed {len(text)}."
    return None


def _tab_candidates(line: str, completions: list[str]) -> list[str]:
    """Completions Tab can use: those extending what was typed (so it never shortens the line), else the
    single best suggestion (Tab then corrects a typo)."""
    extending = list(
        dict.fromkeys(line + c[len(line) :] for c in completions if c.casefold().startswith(line.casefold()))
    )
    return extending or completions[:1]


# --- where lines come from ---------------------------------------------------------------------------------


class PipeSource:
    """Lines from a pipe or file, read by a daemon thread so a blocked read never holds up the exit."""

    interactive = False

    def __init__(self, stream: TextIO) -> None:
        self._lines: asyncio.Queue[str | None] = asyncio.Queue()
        loop = asyncio.get_running_loop()

        def pump() -> None:
            for line in stream:
                loop.call_soon_threadsafe(self._lines.put_nowait, line.rstrip("\r\n"))
            loop.call_soon_threadsafe(self._lines.put_nowait, None)

        threading.Thread(target=pump, name="console-input", daemon=True).start()

    async def read(self, prompt: str, *, complete: bool = False) -> str:
        """The next line; EOFError at the end of input."""
        line = await self._lines.get()
        if line is None:
            self._lines.put_nowait(None)
            raise EOFError
        return line


class TerminalSource:
    """A prompt_toolkit prompt: editing, history, Tab completion from the bot's own autocomplete, and
    output printed meanwhile appears above the line being typed."""

    interactive = True

    def __init__(self, session: ConsoleSession) -> None:
        from prompt_toolkit import PromptSession
        from prompt_toolkit.completion import Completer, Completion

        class BotCompleter(Completer):
            """Complete the option being typed with what the bot's autocomplete (or the choices) offer."""

            def get_completions(self, document: Any, complete_event: Any) -> Iterator[Completion]:
                return iter(())  # only the asynchronous path is used

            async def get_completions_async(self, document: Any, complete_event: Any) -> AsyncIterator[Completion]:
                line = document.text_before_cursor
                if not line.startswith("/"):
                    return
                try:
                    offered = _tab_candidates(line, await session.complete(line, quiet=True))
                except (ValueError, AssertionError):
                    return
                for candidate in offered:
                    label = session.completion_labels.get(candidate.casefold(), candidate)
                    yield Completion(candidate, start_position=-len(line), display=label)

        self._prompt: Any = PromptSession(completer=BotCompleter(), complete_while_typing=False)
        self._plain: Any = PromptSession()

    async def read(self, prompt: str, *, complete: bool = False) -> str:
        """The next line typed; EOFError on Ctrl-D, KeyboardInterrupt on Ctrl-C."""
        session = self._prompt if complete else self._plain
        return await session.prompt_async(prompt)


@contextlib.contextmanager
def _output_above_prompt(interactive: bool) -> Iterator[None]:
    """At a terminal, route stdout and log lines through prompt_toolkit so they print above the prompt."""
    if not interactive:
        yield
        return
    from prompt_toolkit.patch_stdout import patch_stdout

    original = sys.stderr
    with patch_stdout(raw=True):
        handlers = [
            h for h in logging.getLogger().handlers if isinstance(h, logging.StreamHandler) and h.stream is original
        ]
        for handler in handlers:
            handler.setStream(sys.stderr)
        try:
            yield
        finally:
            for handler in handlers:
                handler.setStream(original)


async def _watch(session: ConsoleSession, busy: asyncio.Lock) -> None:
    """Print what the bot does on its own as it happens, while no command is being answered."""
    while True:
        await asyncio.sleep(WATCH_SECONDS)
        if not busy.locked():
            session.show_channel_posts()


def _add_fixed_role(standin: StandIn, guild: Guild, name: str, role_id: int) -> Role:
    """A role with the same id every run, so a moderator role set with /concept config is still known (and
    named, not shown as a deleted role) next time."""
    role = standin.add_role(guild, name)
    del guild.roles[role.id]
    role.id = role_id
    guild.roles[role_id] = role
    return role


async def run_console(settings: Settings, *, out: TextIO | None = None, stdin: TextIO | None = None) -> int:
    """Start the stand-in and the bot, then read commands until end of input, /quit or Ctrl-C."""
    attachments_dir = Path(tempfile.gettempdir()) / "immunobot-console"
    attachments_dir.mkdir(parents=True, exist_ok=True)
    stream = stdin or sys.stdin
    interactive = stream.isatty() and (out or sys.stdout).isatty()
    async with StandIn(bot_name="Immunobot") as standin:
        # Fixed ids: the console's server and person are the same every run, so edits, schedules, scores and
        # flashcards kept in the database are still theirs next time.
        guild = standin.add_guild("Offline study group", channels=("general", "daily-concepts"), guild_id=OFFLINE_GUILD)
        you = standin.add_user("you", user_id=OFFLINE_USER)
        member = standin.add_member(guild, you, permissions=MANAGE_GUILD)
        _add_fixed_role(standin, guild, "moderators", OFFLINE_ROLE)
        bot = ImmunoBot(settings, sync_commands=False, guild_ready_timeout=0.05)
        async with run_bot(bot, standin, preload=True):
            session = ConsoleSession(standin, guild, member, out, attachments_dir, ansi=interactive)
            source: LineSource = TerminalSource(session) if interactive else PipeSource(stream)
            session.source = source
            with _output_above_prompt(interactive):
                await _converse(session, source)
    return 0


async def _converse(session: ConsoleSession, source: LineSource) -> None:
    """The read–answer loop; at a terminal a watcher prints the bot's own actions meanwhile."""
    busy = asyncio.Lock()
    watcher = asyncio.create_task(_watch(session, busy)) if source.interactive else None
    if source.interactive:
        session.say("Immunobot offline console — the real bot, on a local stand-in of Discord. /help for help.")
    try:
        while True:
            try:
                line = await source.read(PROMPT if source.interactive else "", complete=True)
            except (EOFError, KeyboardInterrupt):
                break
            if not source.interactive and line.strip():
                session.say(f"{PROMPT}{line.strip()}")
            async with busy:
                try:
                    keep_going = await session.handle(line)
                except EOFError:  # input ended inside a form
                    break
                except Exception as error:  # the console must survive anything a person types
                    logging.getLogger(__name__).exception("Console command failed: %s", line)
                    session.say(f"! That failed unexpectedly ({type(error).__name__}); details are in the log.")
                    keep_going = True
            if not keep_going:
                break
    finally:
        if watcher is not None:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
