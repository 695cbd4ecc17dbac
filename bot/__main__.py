"""`python -m bot`: run the bot (or the offline console), or one of the maintenance commands."""

from __future__ import annotations

import argparse
import asyncio
import sys

from bot.config import ConfigError, load_settings


def build_parser() -> argparse.ArgumentParser:
    """Describe the command line."""
    parser = argparse.ArgumentParser(
        prog="python -m bot",
        description="Immunobot: an immunotherapy study glossary for Discord. With DISCORD_TOKEN set it connects "
        "to Discord; without one it starts the offline console.",
    )
    parser.add_argument("--console", action="store_true", help="start the offline console even if a token is set")
    commands = parser.add_subparsers(dest="command")
    lookup = commands.add_parser("lookup", help="resolve a term and print its entry")
    lookup.add_argument("query", nargs="?", help="what to look up (loosely typed is fine)")
    lookup.add_argument("--json", action="store_true", help="read one query per line from stdin, write JSON lines")
    commands.add_parser("load", help="validate data/ and (re)load it into the database")
    commands.add_parser("sync", help="sync the slash commands with Discord now (needs DISCORD_TOKEN)")
    commands.add_parser("health", help="exit 0 if the running bot touched HEALTH_FILE in the last 90 seconds")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Dispatch the command line; configuration errors end in one clear line, never a traceback."""
    arguments = build_parser().parse_args(argv)
    from bot import cli

    if arguments.command == "lookup":
        return cli.run_lookup(arguments.query, arguments.json)
    try:
        settings = load_settings()
    except ConfigError as error:
        print(error, file=sys.stderr)
        return 2
    if arguments.command == "load":
        return cli.run_load(settings)
    if arguments.command == "health":
        return cli.run_health(settings)

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
        except (GlossaryError, SchemaError) as error:
            print(error, file=sys.stderr)
            return 1
    return run_online(settings)


if __name__ == "__main__":
    sys.exit(main())
