"""`python -m bot`: run the bot (or the offline console), or one of the maintenance commands."""

from __future__ import annotations

import argparse
import sys

from bot.config import ConfigError, load_settings


def build_parser() -> argparse.ArgumentParser:
    """Describe the command line."""
    parser = argparse.ArgumentParser(prog="python -m bot", description="Immunobot: an immunotherapy study glossary.")
    commands = parser.add_subparsers(dest="command")
    lookup = commands.add_parser("lookup", help="resolve a term and print its entry")
    lookup.add_argument("query", nargs="?", help="what to look up (loosely typed is fine)")
    lookup.add_argument("--json", action="store_true", help="read one query per line from stdin, write JSON lines")
    commands.add_parser("load", help="validate data/ and (re)load it into the database")
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
    build_parser().print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())
