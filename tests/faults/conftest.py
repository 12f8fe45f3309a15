"""Fixtures for the fault tests: a private PostgreSQL server on loopback, an unprivileged user."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

PG_ROOT = Path("/usr/lib/postgresql")


def pg_bindir() -> Path | None:
    """The newest Debian PostgreSQL server's bin directory, if installed."""
    found = [p.parent for p in PG_ROOT.glob("*/bin/pg_ctl") if p.parent.parent.name.isdigit()]
    return max(found, key=lambda p: int(p.parent.name)) if found else None


def as_user(name: str) -> list[str]:
    """Command prefix that runs as ``name`` when we are root (nothing otherwise)."""
    return ["runuser", "-u", name, "--"] if os.geteuid() == 0 else []


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def shared_tmpdir(prefix: str, owner: str | None = None) -> Path:
    """A temporary directory other users can reach (pytest's own is private to root)."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o755)
    if owner and os.geteuid() == 0:
        entry = pwd.getpwnam(owner)
        os.chown(path, entry.pw_uid, entry.pw_gid)
    return path


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """Start a throw-away PostgreSQL cluster on 127.0.0.1; yield its base URL (no database)."""
    bindir = pg_bindir()
    if bindir is None:
        pytest.skip(f"PostgreSQL server not installed (no {PG_ROOT}/<ver>/bin/pg_ctl): "
                    "apt-get install -y postgresql")
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no 'postgres' user to run the server")
    base = shared_tmpdir("afx-pg-", owner="postgres")
    data, port = base / "data", free_port()
    run = as_user("postgres")
    subprocess.run([*run, str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U",
                    "postgres", "-E", "UTF8", "--no-sync"], check=True, capture_output=True)
    options = f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off"
    subprocess.run([*run, str(bindir / "pg_ctl"), "-D", str(data), "-l", str(base / "log"),
                    "-w", "-o", options, "start"], check=True, capture_output=True)
    try:
        yield f"postgresql+psycopg2://postgres@127.0.0.1:{port}"
    finally:
        subprocess.run([*run, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate",
                        "stop"], capture_output=True, check=False)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres_server: str) -> str:
    """A fresh, empty database on the session's server."""
    import psycopg2

    name = f"afx_{uuid.uuid4().hex[:12]}"
    dsn = postgres_server.replace("postgresql+psycopg2", "postgresql") + "/postgres"
    conn = psycopg2.connect(dsn)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE {name}")
    conn.close()
    return f"{postgres_server}/{name}"
