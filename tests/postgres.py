"""A throwaway PostgreSQL cluster for the tests: initdb into a temporary folder, started with
pg_ctl on a free loopback port, removed afterwards. initdb refuses to run as root, so as
root the cluster belongs to (and runs as) the unprivileged `postgres` user."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.httpserver import free_port

USER = "paperboy"
PASSWORD = "paperboy-test"


def _bin_dir() -> Path | None:
    found = shutil.which("pg_ctl")
    candidates = [Path(found).parent] if found else []
    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    for folder in candidates:
        if (folder / "initdb").exists() and (folder / "pg_ctl").exists():
            return folder
    return None


def available() -> str | None:
    """None when a cluster can be made here, else why not."""
    if _bin_dir() is None:
        return "PostgreSQL's initdb and pg_ctl are not installed (apt-get install postgresql)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root, and there is no unprivileged postgres user to run initdb"
    return None


class Cluster:
    def __init__(self) -> None:
        folder = _bin_dir()
        assert folder is not None
        self._bin = folder
        self._root = Path(tempfile.mkdtemp(prefix="paperboy-pg-"))
        self._data = self._root / "data"
        self.port = free_port()
        self._as: list[str] = []
        if os.geteuid() == 0:
            account = pwd.getpwnam("postgres")
            os.chown(self._root, account.pw_uid, account.pw_gid)
            self._as = ["runuser", "-u", "postgres", "--"]

    def _run(self, *command: str) -> None:
        subprocess.run(
            [*self._as, *command], check=True, capture_output=True, text=True, cwd=self._root
        )

    def start(self) -> Cluster:
        password_file = self._root / "password"
        password_file.write_text(PASSWORD + "\n")
        if self._as:
            shutil.chown(password_file, "postgres")
        self._run(
            str(self._bin / "initdb"),
            "-D", str(self._data),
            "-U", USER,
            f"--pwfile={password_file}",
            "--auth=scram-sha-256",
            "-E", "UTF8",
            "--locale=C",
        )  # fmt: skip
        options = f"-h 127.0.0.1 -p {self.port} -k {self._root} -c fsync=off"
        self._run(
            str(self._bin / "pg_ctl"), "-D", str(self._data), "-o", options,
            "-l", str(self._root / "log"), "-w", "start",
        )  # fmt: skip
        return self

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{USER}:{PASSWORD}@127.0.0.1:{self.port}/{database}"

    def stop(self) -> None:
        try:
            self._run(str(self._bin / "pg_ctl"), "-D", str(self._data), "-m", "immediate", "stop")
        finally:
            shutil.rmtree(self._root, ignore_errors=True)
