"""`paperboy model fetch`: the recommender's sentence model, downloaded once. Imported only
when it runs."""

from __future__ import annotations

import argparse
import sys

from sqlalchemy import Engine

from bot import model_files
from bot.config import Settings


def cmd_model_fetch(args: argparse.Namespace, settings: Settings, engine: Engine | None) -> int:
    target = settings.model_dir
    try:
        fetched = model_files.fetch(target)
    except model_files.FetchError as exc:
        print(f"paperboy: {exc}", file=sys.stderr)
        return 1
    state = "installed in" if fetched else "already installed in"
    print(f"sentence model {model_files.PACKAGE} {state} {target}")
    return 0
