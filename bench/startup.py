"""How long a command takes to start: `paperboy --version` and `paperboy stats` beside a
bare `python -c pass`, in the same run.

Each command runs --runs times, the three taking turns (so that a change in the machine's
load falls on all of them alike). CPU is the child's user + system time (os.wait4), wall
the time from start to exit; the figures are medians. `stats` reads a small migrated SQLite
database (the sample page ingested) made in a temporary folder, with no other PAPERBOY_*
setting and no .env file in the way.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SAMPLE = Path(__file__).resolve().parents[1] / "bot" / "data" / "sample_page.txt"
# The bound for --version and stats.
TARGET_CPU = 0.3


def paperboy() -> list[str]:
    """The console script beside this Python, as installed; else the module."""
    script = Path(sys.executable).with_name("paperboy")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "bot.cli"]


def timed(argv: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of one run, which must succeed."""
    start = time.perf_counter()
    child = subprocess.Popen(argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode:
        raise SystemExit(f"{' '.join(argv)} failed with exit code {child.returncode}")
    return usage.ru_utime + usage.ru_stime, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20, help="runs of each command")
    runs = parser.parse_args().runs

    with tempfile.TemporaryDirectory() as folder:
        cwd = Path(folder)
        env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERBOY_")}
        env["PAPERBOY_DATABASE_URL"] = f"sqlite:///{cwd / 'paperboy.db'}"
        subprocess.run(
            [*paperboy(), "ingest", str(SAMPLE)],
            env=env,
            cwd=cwd,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        commands = {
            "python -c pass": [sys.executable, "-c", "pass"],
            "paperboy --version": [*paperboy(), "--version"],
            "paperboy stats": [*paperboy(), "stats"],
        }
        load = os.getloadavg()[0]
        for argv in commands.values():  # warm the page cache and the bytecode
            timed(argv, env, cwd)
        samples: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
        for _ in range(runs):
            for name, argv in commands.items():
                samples[name].append(timed(argv, env, cwd))
        load_after = os.getloadavg()[0]

    medians = {
        name: (statistics.median(c for c, _ in got), statistics.median(w for _, w in got))
        for name, got in samples.items()
    }
    bare_cpu, bare_wall = medians["python -c pass"]
    print(f"medians over {runs} runs of each, taking turns:")
    print(f"  {'command':<20} {'CPU':>9} {'wall':>9}   over bare Python: CPU, wall")
    for name, (cpu, wall) in medians.items():
        extra = (
            ""
            if name.startswith("python")
            else f"+{(cpu - bare_cpu) * 1000:.0f} ms ({cpu / bare_cpu:.1f}x), "
            f"+{(wall - bare_wall) * 1000:.0f} ms ({wall / bare_wall:.1f}x)"
        )
        print(f"  {name:<20} {cpu * 1000:6.0f} ms {wall * 1000:6.0f} ms   {extra}")
    for name in ("paperboy --version", "paperboy stats"):
        cpu = medians[name][0]
        verdict = "met" if cpu <= TARGET_CPU else "missed"
        print(f"  {name}: {cpu:.3f} s CPU, target <= {TARGET_CPU} s: {verdict}")
    print(
        f"machine load (1-minute average) {load:.1f} at the start, {load_after:.1f} at the end, "
        f"on {os.cpu_count()} CPUs"
    )


if __name__ == "__main__":
    main()
