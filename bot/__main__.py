"""`bash scripts/run.sh` (or the installed `immunobot`): run the bot or the offline console, or a maintenance
command."""

from __future__ import annotations

import argparse
import asyncio
import sys

from bot import __version__
from bot.cli import command_name
from bot.config import ConfigError, load_settings

SUBCOMMANDS = {
    "lookup": "print the entry for a loosely typed term (--json: batch)",
    "load": "validate data/ and load it into the database",
    "sync": "push the slash commands to Discord now (needs DISCORD_TOKEN)",
    "health": "exit 0 if the running bot's HEALTH_FILE is fresh",
    "migrate-to": "copy the SQLite database into an empty PostgreSQL one",
}
"""Each subcommand with its one line for --help (the same line argparse shows in the subcommand's own help)."""


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps every subcommand's summary on its name's line (argparse wraps below names longer than the others)."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=18)
        self._action_max_length = 16


def build_parser() -> argparse.ArgumentParser:
    """Describe the command line; --help lists every subcommand with one line each."""
    prog = command_name()
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Immunobot: an immunotherapy study glossary for Discord.\n"
        "With no subcommand it runs the bot: with DISCORD_TOKEN set it connects to\n"
        "Discord; without one it starts the offline console (the real bot on a local\n"
        "stand-in of Discord).",
        epilog=f"examples:\n  {prog}\n  {prog} lookup immunoterapy\n  printf 'FK506\\nMMF\\n' | {prog} lookup --json",
        formatter_class=_HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"Immunobot {__version__}")
    parser.add_argument("--console", action="store_true", help="start the offline console even if a token is set")
    parser.add_argument("--shards", metavar="IDS", help="shards this process runs, e.g. 0-3 or 0,2,5 (SHARD_IDS)")
    parser.add_argument("--shard-count", metavar="N", help="shards of the whole bot, all processes (SHARD_COUNT)")
    commands = parser.add_subparsers(dest="command", title="subcommands", metavar="COMMAND")
    lookup = commands.add_parser("lookup", help=SUBCOMMANDS["lookup"], description=SUBCOMMANDS["lookup"])
    lookup.add_argument("query", nargs="?", help="what to look up (loosely typed is fine)")
    lookup.add_argument("--json", action="store_true", help="read one query per line from stdin, write JSON lines")
    for name in ("load", "sync", "health"):
        commands.add_parser(name, help=SUBCOMMANDS[name], description=SUBCOMMANDS[name])
    migrate_to = commands.add_parser(
        "migrate-to", help=SUBCOMMANDS["migrate-to"], description=SUBCOMMANDS["migrate-to"]
    )
    migrate_to.add_argument("url", help="postgresql://user:password@host:5432/database (must be empty)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Dispatch the command line; configuration errors end in one clear line, never a traceback."""
    arguments = build_parser().parse_args(argv)
    from bot import cli

    if arguments.command == "lookup":
        return cli.run_lookup(arguments.query, arguments.json)
    overrides = {
        name: value
        for name, value in (("shard_ids", arguments.shards), ("shard_count", arguments.shard_count))
        if value is not None
    }
    try:
        settings = load_settings(**overrides)
    except ConfigError as error:
        print(error, file=sys.stderr)
        return 2
    if arguments.command == "load":
        return cli.run_load(settings)
    if arguments.command == "health":
        return cli.run_health(settings)
    if arguments.command == "migrate-to":
        return cli.run_migrate_to(settings, arguments.url)

    if arguments.command is None and settings.database.sqlite_path is not None:
        from bot.db.lock import DatabaseInUseError, hold_sqlite_lock

        try:  # before anything slow: a refused start is immediate
            hold_sqlite_lock(settings.database.sqlite_path)
        except DatabaseInUseError as error:
            print(error, file=sys.stderr)
            return 1

    from bot.runner import run_online, setup_logging

    console = arguments.command is None and (settings.discord_token is None or arguments.console)
    setup_logging(settings, console=console)
    if arguments.command == "sync":
        if settings.discord_token is None:
            print("Syncing needs DISCORD_TOKEN (the bot token from the Discord Developer Portal).", file=sys.stderr)
            return 2
        return run_online(settings, sync_only=True)
    if console:
        if not arguments.console:
            print("No DISCORD_TOKEN set: starting the offline console (the bot on a local stand-in of Discord).",
                  file=sys.stderr)  # fmt: skip
        from bot.console import run_console
        from bot.loader import GlossaryError
        from bot.store import SchemaError

        try:
            return asyncio.run(run_console(settings))
        except KeyboardInterrupt:  # Ctrl-C while a command was being answered: stop as cleanly as at the prompt
            return 130
        except (GlossaryError, SchemaError) as error:
            print(error, file=sys.stderr)
            return 1
    return run_online(settings)


if __name__ == "__main__":
    sys.exit(main())
