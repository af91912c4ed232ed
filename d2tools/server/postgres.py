"""PostgreSQL storage: several server replicas share one database and nothing else.

Tables live in their own schema (``--schema``, default ``d2``), so one database can host several
control planes, and test runs can use a throwaway schema each. psycopg 3 is imported on connect.
"""

from __future__ import annotations

import re
from typing import Any

from ._sql import SqlStorage

__all__ = ["PostgresStorage"]

_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class PostgresStorage(SqlStorage):
    """Storage in a PostgreSQL schema; row-level compare-and-set keeps replicas consistent."""

    placeholder = "%s"
    serial = "BIGSERIAL PRIMARY KEY"

    def __init__(self, url: str, *, schema: str = "d2") -> None:
        if not _SCHEMA_NAME.match(schema):
            raise ValueError(f"schema name {schema!r} must match {_SCHEMA_NAME.pattern}")
        super().__init__()
        self.url = url
        self.schema = schema

    def __repr__(self) -> str:
        return f"<PostgresStorage schema={self.schema}>"

    def _connect(self) -> Any:
        import psycopg

        conn = psycopg.connect(self.url, autocommit=True)
        conn.execute(f'SET search_path TO "{self.schema}"')
        return conn

    def _lock_schema(self, cur: Any) -> None:
        cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"d2:{self.schema}",))
        cur.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')

    def drop_schema(self) -> None:
        """Remove the schema and everything in it (tests and ``d2 serve`` tear-down only)."""
        with self._tx() as cur:
            cur.execute(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')
