"""A command's peak resident memory, as the kernel counts it (ru_maxrss).

Counted from a small process of its own: Linux carries a process's peak across exec, so a
command forked straight from a benchmark holding a library or a corpus would report the
benchmark's peak as its own. The launcher passes SIGINT and SIGTERM on (`paperboy run` stops
on them) and writes the child's peak and exit status to a file.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

_LAUNCH = (
    "import os, signal, subprocess, sys\n"
    "child = subprocess.Popen(sys.argv[2:])\n"
    "for number in (signal.SIGINT, signal.SIGTERM):\n"
    "    signal.signal(number, lambda n, _: child.send_signal(n))\n"
    "_, status, usage = os.wait4(child.pid, 0)\n"
    "with open(sys.argv[1], 'w') as out:\n"
    "    out.write(f'{usage.ru_maxrss} {os.waitstatus_to_exitcode(status)}')\n"
)


def launch(argv: list[str], report: Path, **popen: Any) -> subprocess.Popen[bytes]:
    """Start `argv` under the launcher; its peak goes to `report` (read it with peak())."""
    return subprocess.Popen([sys.executable, "-c", _LAUNCH, str(report), *argv], **popen)


def peak(report: Path) -> tuple[float, int]:
    """(peak resident MB, exit code) of a launched command that has ended."""
    kilobytes, code = report.read_text().split()
    return int(kilobytes) / 1024, int(code)
