"""Pick a storage backend from a database URL (the records and the protocol live in ``storage``)."""

from __future__ import annotations

from .storage import Storage

__all__ = ["open_storage"]


def open_storage(url: str, *, schema: str | None = None) -> Storage:
    """Open the backend ``url`` names: ``postgresql://...`` for PostgreSQL, anything else a SQLite file."""
    if url.startswith(("postgresql://", "postgres://")):
        from .postgres import PostgresStorage

        return PostgresStorage(url, schema=schema or "d2")
    from .sqlite import SQLiteStorage

    path = url.removeprefix("sqlite:///") if url.startswith("sqlite:///") else url
    return SQLiteStorage(path)
