"""The last good bundle on disk: written atomically, re-verified before it is ever used again.

The file (``D2_STATE_PATH``, default ``$XDG_CONFIG_HOME/d2/bundles.json``; ``:memory:`` disables it)
maps a source key (the bundle URL and a digest of the token, never the token) to the signed bundle,
the JWKS that verified it and its ETag. It holds nothing secret and nothing trusted: on start the
bundle is verified again with trusted keys only (:mod:`d2._sources.trust`; never the file's own key
set), and a file that is missing, torn, tampered with, owned by another user or open to others
(mode must be 0600) is simply not used.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from d2._base.log import logger

__all__ = ["SavedBundle", "default_state_path", "load_saved", "save_bundle", "source_key"]

_FORMAT = 1


@dataclass(frozen=True, slots=True)
class SavedBundle:
    """What was persisted for one source: the token, the JWKS it verified against, and its ETag."""

    token: str
    jwks: dict[str, Any]
    etag: str | None


def default_state_path() -> Path | None:
    """``D2_STATE_PATH`` (``:memory:`` -> None), else ``bundles.json`` beside the XDG policy directory."""
    from d2._sources.discovery import xdg_policy_dir

    raw = os.environ.get("D2_STATE_PATH")
    if raw == ":memory:":
        return None
    if raw:
        return Path(raw).expanduser()
    return xdg_policy_dir() / "bundles.json"


def source_key(bundle_url: str, token: str | None) -> str:
    """Name a source by URL and token digest, so switching tokens or apps never mixes bundles."""
    digest = hashlib.sha256((token or "").encode("utf-8")).hexdigest()[:16]
    return f"{bundle_url}#{digest}"


def _private(path: Path) -> bool:
    """The file must be ours and private (0600): anyone else who can write it could plant a bundle."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return True
    except OSError:
        return False
    getuid = getattr(os, "getuid", None)
    if getuid is not None and st.st_uid != getuid():
        logger().error("d2: ignoring bundle state %s: owned by uid %d, not this user", path, st.st_uid)
        return False
    if getuid is not None and st.st_mode & 0o077:
        logger().error(
            "d2: ignoring bundle state %s: mode %o lets others read or write it (chmod 600 it)",
            path,
            st.st_mode & 0o777,
        )
        return False
    return True


def _read(path: Path) -> dict[str, Any]:
    if not _private(path):
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        logger().warning("d2: ignoring unreadable bundle state %s: %s", path, exc)
        return {}
    if (
        not isinstance(data, dict)
        or data.get("format") != _FORMAT
        or not isinstance(data.get("sources"), dict)
    ):
        return {}
    return data


def load_saved(path: Path | None, key: str) -> SavedBundle | None:
    """Return the bundle saved for ``key``, if the file holds a well-formed entry (not yet verified)."""
    if path is None:
        return None
    entry = _read(path).get("sources", {}).get(key)
    if not isinstance(entry, dict):
        return None
    token, jwks, etag = entry.get("bundle"), entry.get("jwks"), entry.get("etag")
    if not isinstance(token, str) or not isinstance(jwks, dict):
        return None
    return SavedBundle(token, jwks, etag if isinstance(etag, str) else None)


def save_bundle(path: Path | None, key: str, saved: SavedBundle) -> None:
    """Write ``saved`` under ``key``: temp file in the same directory, fsync, then an atomic rename."""
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    # Read-modify-write under an exclusive lock: several processes sharing the file (workers of one
    # server, several apps) each keep the others' entries instead of the last writer winning.
    with _locked(path):
        data = _read(path) or {"format": _FORMAT, "sources": {}}
        data["sources"][key] = {
            "bundle": saved.token,
            "jwks": saved.jwks,
            "etag": saved.etag,
            "saved_at": int(time.time()),
        }
        fd, tmp = tempfile.mkstemp(prefix=".bundles-", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(data, fh, separators=(",", ":"), sort_keys=True)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        _fsync_dir(path.parent)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``<file>.lock`` beside the state file (no-op where flock is missing)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: writes stay atomic, concurrent saves may race
        yield
        return
    fd = os.open(path.with_name(path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _fsync_dir(directory: Path) -> None:
    """Make the rename durable where the platform allows opening a directory."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
