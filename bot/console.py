"""The offline console: the real bot, run against the local Discord stand-in, driven by typed commands.

Commands are typed as in Discord (`/define term:immunoterapy`, or `/define immunoterapy` for the first
option); a trailing `?` (or Tab, interactively) shows autocomplete; buttons and menus are chosen by number;
a modal asks for each field in turn. Fed from a pipe, it answers each line and exits at end of input.
"""

from __future__ import annotations

import asyncio
import logging
import re
import sys
import tempfile
import textwrap
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import discord

from bot.client import ImmunoBot
from bot.config import Settings
from standin import InteractionResult, StandIn, Upload, run_bot
from standin.state import Attachment, Guild, Member, Role

PROMPT = "immunobot> "
WIDTH = 100
HELP = """Type slash commands as in Discord, for example:
  /define term:immunoterapy      /define FK506        /define mono?   (a trailing ? shows autocomplete)
  /category                      /category name:cell therapy
  /stages                        /stages stage:immune blocking
  /search text:calcineurin       /about
  /explain tacrolimus or MMF?    (right-click → Apps → Explain terms on a message with that text;
                                  /explain alone explains the last public answer shown)
Moderators (you are one here):
  /concept edit term:tacrolimus  (the form asks for each field; Enter keeps the shown text)
  /concept add category:cell therapy      /concept alias add term:MMF alias:mofetil
  /concept history term:MMF      /concept revert term:MMF revision:0     /concept hide term:BCG
  /concept import file:path/to/entries.yaml      /concept export    (files are saved and their path shown)
Study: /quiz start questions:5   /leaderboard   /stats   /flashcards review   /flashcards status   /top
Daily: /daily set channel:#daily-concepts time:08:00 timezone:Europe/London   /daily now   /daily show
After a reply, type a button's number to press it, or a menu's number and an option's letter (e.g. 2 b).
Press Enter on an empty line to see what the bot did meanwhile (a quiz question closing, a daily post).
Your server and you are the same every run, so edits, scores and cards are kept in the database.
/help shows this, /quit (or end of input) leaves."""

BUTTON, SELECT = 2, 3
MANAGE_GUILD = discord.Permissions(manage_guild=True).value
OFFLINE_GUILD = 100_000_000_000_000_000
OFFLINE_USER = 100_000_000_000_000_500
_OPTION_MARKER = re.compile(r"(?:^|\s)([a-z_][a-z0-9_-]*):", re.IGNORECASE)


@dataclass
class Clickable:
    """A component shown in the last reply, numbered for the user."""

    message_id: int
    component: dict[str, Any]


@dataclass
class ConsoleSession:
    """One person at the console, as a member of an offline guild."""

    standin: StandIn
    guild: Guild
    member: Member
    out: TextIO
    attachments_dir: Path
    clickables: list[Clickable] = field(default_factory=list)
    seen_posts: set[int] = field(default_factory=set)
    seen_edits: dict[int, int] = field(default_factory=dict)
    last_public_message: int | None = None

    def say(self, text: str = "") -> None:
        """Print a line of output, with Discord's mention and timestamp markup shown as a client would."""
        print(self.readable(text), file=self.out, flush=True)

    def readable(self, text: str) -> str:
        """Replace `<#id>` with the channel's name and `<t:unix:style>` with a UTC date."""

        def channel(match: re.Match[str]) -> str:
            found = self.guild.channels.get(int(match.group(1)))
            return f"#{found.name}" if found else "#unknown-channel"

        def moment(match: re.Match[str]) -> str:
            when = datetime.fromtimestamp(int(match.group(1)), UTC)
            if match.group(2) == "R":
                seconds = round((when - datetime.now(UTC)).total_seconds())
                amount = f"{abs(seconds)} s" if abs(seconds) < 120 else f"{round(abs(seconds) / 60)} min"
                return f"in {amount}" if seconds >= 0 else f"{amount} ago"
            return f"{when:%A %d %B %Y %H:%M} UTC"

        text = re.sub(r"<#(\d+)>", channel, text)
        return re.sub(r"<t:(-?\d+)(?::([tTdDfFR]))?>", moment, text)

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
            raise ValueError(f"There is no /{name} command. Known commands: {known}. Type /help for examples.")
        path = [schema["name"]]
        options = schema.get("options") or []
        sub, _, after = rest.strip().partition(" ")
        while options and options[0].get("type") in (1, 2):
            chosen = next((o for o in options if o["name"] == sub.casefold()), None)
            if chosen is None:
                subs = ", ".join(o["name"] for o in options)
                raise ValueError(f"/{' '.join(path)} needs one of: {subs}.")
            path.append(chosen["name"])
            options = chosen.get("options") or []
            rest = after
            sub, _, after = rest.strip().partition(" ")
        return path, self._option_values(rest.strip(), options), options

    @staticmethod
    def _option_values(text: str, options: list[dict[str, Any]]) -> dict[str, str]:
        """Read `name:value` pairs; text before the first name belongs to the first option."""
        names = {o["name"] for o in options}
        markers = [m for m in _OPTION_MARKER.finditer(text) if m.group(1).casefold() in names]
        values: dict[str, str] = {}
        leading = text[: markers[0].start()] if markers else text
        if leading.strip():
            if not options:
                raise ValueError("This command takes no options.")
            values[options[0]["name"]] = leading.strip()
        for index, marker in enumerate(markers):
            end = markers[index + 1].start() if index + 1 < len(markers) else len(text)
            values[marker.group(1).casefold()] = text[marker.end() : end].strip()
        return values

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
                typed = self._typed(values, schemas)
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

    def _typed(self, values: dict[str, str], schemas: list[dict[str, Any]]) -> dict[str, Any]:
        """Convert option text to the types the command declares (channels by #name, numbers, booleans)."""
        kinds = {o["name"]: o.get("type") for o in schemas}
        typed: dict[str, Any] = {}
        for name, value in values.items():
            kind = kinds.get(name)
            if kind == 4:
                typed[name] = int(value)
            elif kind == 10:
                typed[name] = float(value)
            elif kind == 5:
                typed[name] = value.casefold() in ("true", "yes", "1", "on")
            elif kind == 7:
                try:
                    typed[name] = self.guild.channel(value.lstrip("#"))
                except KeyError:
                    known = ", ".join(f"#{c.name}" for c in self.guild.channels.values())
                    raise ValueError(f"There is no channel {value} in the offline server ({known}).") from None
            elif kind == 8:
                typed[name] = self._role(value.lstrip("@"))
            elif kind == 11:
                typed[name] = self._upload(value)
            else:
                typed[name] = value
        return typed

    def _role(self, name: str) -> Role:
        """A role of the offline server, by name."""
        try:
            return self.guild.role(name)
        except KeyError:
            known = ", ".join(sorted(f"@{r.name}" for r in self.guild.roles.values() if r.id != self.guild.id))
            raise ValueError(f"There is no role @{name} in the offline server ({known}).") from None

    @staticmethod
    def _upload(value: str) -> Upload:
        """A local file, attached as Discord attaches an uploaded one."""
        path = Path(value).expanduser()
        if not path.is_file():
            raise ValueError(f"There is no file {path}: give the path of a file to attach.")
        return Upload(path.name, path.read_bytes())

    async def complete(self, line: str, *, quiet: bool = False) -> list[str]:
        """Show the autocomplete choices for the option being typed; return the line completed with each.

        Quiet (for Tab) it only returns them: readline lists them itself.
        """
        path, values, schemas = self.parse(line)
        focusable = [o["name"] for o in schemas if o.get("autocomplete")]
        focused = next((name for name in reversed(values) if name in focusable), focusable[0] if focusable else None)
        if focused is None:
            if not quiet:
                self.say("! This command has no autocompleted option.")
            return []
        typed = self._typed({k: v for k, v in values.items() if k != focused}, schemas)
        typed[focused] = values.get(focused, "")
        result = await self.standin.autocomplete(self.guild, self.member, path, focused=focused, options=typed)
        if not quiet:
            names = [choice["name"] for choice in result.choices]
            self.say("  " + "\n  ".join(names) if names else "  (no suggestions)")
        stem = line.rstrip()
        written = values.get(focused, "")
        if written and stem.endswith(written):
            stem = stem[: len(stem) - len(written)]
        elif focused not in values:
            stem += f" {focused}:"
        return [f"{stem}{choice['value']}" for choice in result.choices]

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

    async def fill_modal(self, modal: dict[str, Any]) -> None:
        """Ask for each text field of a modal in turn, then submit it."""
        self.say(f"[{modal.get('title', 'Form')}] (press Enter to keep a pre-filled value)")
        answers: dict[str, str] = {}
        for row in modal.get("components", []):
            labelled = row.get("type") == 18  # a label wrapping one field
            for field_ in [row["component"]] if labelled else row.get("components", []):
                label = row.get("label") if labelled else field_.get("label")
                hint = f" ({row['description']})" if labelled and row.get("description") else ""
                default = field_.get("value") or ""
                shown = f" [{textwrap.shorten(default, 60)}]" if default else ""
                typed = await read_line(f"  {label or field_['custom_id']}{hint}{shown}: ")
                answers[field_["custom_id"]] = typed if typed else default
        result = await self.standin.submit_modal(self.guild, self.member, modal["custom_id"], answers)
        await self.show(result)

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
        if not keep:
            self.clickables = []
        if ephemeral:
            self.say("(only you can see this)")
        if content:
            self.say(textwrap.fill(content, WIDTH, replace_whitespace=False))
        for embed in embeds:
            self.say("┌" + "─" * (WIDTH - 2))
            if embed.get("title"):
                self.say(f"│ {embed['title'].upper()}")
            for paragraph in (embed.get("description") or "").split("\n"):
                self.say(textwrap.fill(paragraph, WIDTH, initial_indent="│ ", subsequent_indent="│ ") or "│")
            for field_ in embed.get("fields", []):
                self.say(f"│ ▸ {field_['name']}")
                for paragraph in field_["value"].split("\n"):
                    self.say(textwrap.fill(paragraph, WIDTH, initial_indent="│     ", subsequent_indent="│     "))
            if (embed.get("image") or {}).get("url"):
                self.say(f"│ [picture: {embed['image']['url'].removeprefix('attachment://')}]")
            if (embed.get("footer") or {}).get("text"):
                self.say(f"│ — {embed['footer']['text']}")
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


_INPUT: TextIO = sys.stdin


async def read_line(prompt: str) -> str:
    """Read one line without blocking the event loop; an empty string at end of input."""
    if _INPUT.isatty():
        try:
            return await asyncio.to_thread(input, prompt)
        except EOFError:
            raise EOFError from None
    line = await asyncio.to_thread(_INPUT.readline)
    if not line:
        raise EOFError
    return line.rstrip("\n")


def _tab_candidates(line: str, completions: list[str]) -> list[str]:
    """Completions readline can use: those extending what was typed (so it never shortens the line), else the
    single best suggestion (Tab then corrects a typo)."""
    extending = list(
        dict.fromkeys(line + c[len(line) :] for c in completions if c.casefold().startswith(line.casefold()))
    )
    return extending or completions[:1]


def _install_tab_completion(session: ConsoleSession, loop: asyncio.AbstractEventLoop) -> None:
    """Complete the option being typed with the bot's own autocomplete (interactive terminals only)."""
    try:
        import readline
    except ImportError:  # not available on every platform; `?` still works
        return
    cache: list[str] = []

    def complete(text: str, state: int) -> str | None:
        if state == 0:
            line = readline.get_line_buffer()
            cache.clear()
            if line.startswith("/"):
                future = asyncio.run_coroutine_threadsafe(session.complete(line, quiet=True), loop)
                try:
                    cache.extend(_tab_candidates(line, future.result(timeout=3)))
                except Exception:
                    return None
        return cache[state] if state < len(cache) else None

    readline.set_completer(complete)
    readline.set_completer_delims("")
    readline.parse_and_bind("tab: complete")


async def run_console(settings: Settings, *, out: TextIO = sys.stdout) -> int:
    """Start the stand-in and the bot, then read commands until end of input or /quit."""
    attachments_dir = Path(tempfile.gettempdir()) / "immunobot-console"
    attachments_dir.mkdir(parents=True, exist_ok=True)
    async with StandIn(bot_name="Immunobot") as standin:
        # Fixed ids: the console's server and person are the same every run, so edits, schedules, scores and
        # flashcards kept in the database are still theirs next time.
        guild = standin.add_guild("Offline study group", channels=("general", "daily-concepts"), guild_id=OFFLINE_GUILD)
        you = standin.add_user("you", user_id=OFFLINE_USER)
        member = standin.add_member(guild, you, permissions=MANAGE_GUILD)
        bot = ImmunoBot(settings, sync_commands=False, guild_ready_timeout=0.05)
        async with run_bot(bot, standin, preload=True):
            session = ConsoleSession(standin, guild, member, out, attachments_dir)
            interactive = _INPUT.isatty()
            if interactive:
                _install_tab_completion(session, asyncio.get_running_loop())
                session.say("Immunobot offline console — the real bot, on a local stand-in of Discord. /help for help.")
            while True:
                try:
                    line = await read_line(PROMPT if interactive else "")
                except EOFError:
                    break
                if not interactive and line.strip():
                    session.say(f"{PROMPT}{line.strip()}")
                try:
                    keep_going = await session.handle(line)
                except Exception as error:  # the console must survive anything a person types
                    logging.getLogger(__name__).exception("Console command failed: %s", line)
                    session.say(f"! That failed unexpectedly ({type(error).__name__}); details are in the log.")
                    keep_going = True
                if not keep_going:
                    break
    return 0
