"""SQLite storage: one file, the default for a single control-plane process (WAL, busy timeout)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from ._sql import SqlStorage

__all__ = ["SQLiteStorage"]


class SQLiteStorage(SqlStorage):
    """Storage in a SQLite file; ``BEGIN IMMEDIATE`` serialises writers so compare-and-set holds."""

    begin = "BEGIN IMMEDIATE"

    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = path
        if path != ":memory:":
            _private_file(Path(path).expanduser())

    def __repr__(self) -> str:
        return f"<SQLiteStorage {self.path}>"

    def _connect(self) -> Any:
        conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA busy_timeout = 30000")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        return conn


def _private_file(path: Path) -> None:
    """Create the database file owner-only (0600) before SQLite opens it: it holds the signing keys.

    SQLite gives its -wal and -shm files the database file's mode, so they stay private too. A file
    an earlier version created world-readable is tightened.
    """
    import os

    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    os.close(fd)
    if path.stat().st_mode & 0o077:
        path.chmod(0o600)
