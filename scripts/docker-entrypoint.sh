#!/bin/sh
# The container's entry point.
#   (no arguments) or `paperboy run`  upgrade the database schema, then run the bot
#   `paperboy COMMAND ...`            that command
#   `COMMAND ...` (a paperboy command or an option such as --version)  the same, with paperboy
#   anything else (sh, python, ...)   run as given
set -eu

if [ "$#" -eq 0 ]; then
    set -- paperboy run
else
    case "$1" in
        # paperboy's commands and options: some (export) are shell builtins too, which
        # `command -v` would take for programs.
        -*|ingest|stats|run|demo|preview|digest|search|export|import|health|db)
            set -- paperboy "$@" ;;
    esac
fi

if [ "$1" = paperboy ] && [ "${2:-}" = run ]; then
    paperboy db upgrade
fi

exec "$@"
