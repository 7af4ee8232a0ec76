#!/bin/sh
# The container's entry point.
#   (no arguments) or `paperboy run`  upgrade the database schema, then run the bot
#   `paperboy COMMAND ...`            that command
#   `COMMAND ...` (a paperboy command or an option such as --version)  the same, with paperboy
#   anything else (sh, python, ...)   run as given
set -eu

if [ "$#" -eq 0 ]; then
    set -- paperboy run
elif [ "${1#-}" != "$1" ] || ! command -v "$1" >/dev/null 2>&1; then
    # An option, or a word that is not a program: a paperboy command such as `stats`.
    set -- paperboy "$@"
fi

if [ "$1" = paperboy ] && [ "${2:-}" = run ]; then
    paperboy db upgrade
fi

exec "$@"
