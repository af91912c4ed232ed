"""The contract between a request log and a shared session-state backend (Redis, or anything else).

A :class:`~d2._core.state.RequestLog` whose ``shared`` is set is a *mirror*: a local copy of a session
whose true history lives in a backend other processes also write. The engine decides on the mirror,
then asks the backend to append this call only if nobody appended since the mirror's version (one
atomic round trip). When someone did, the backend answers with what the mirror missed; the engine
applies it and decides again. So two replicas deciding calls of one session at the same moment can
never both pass a pattern one history would refuse.

Entries are strings: ``"c" + tool`` for an allowed call, ``"f" + label`` for a label set by code.
Nothing here does I/O; the backends live in ``d2._sources``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

__all__ = ["CALL", "FACT", "Delta", "SessionFault", "SharedSession"]

CALL = "c"
FACT = "f"


class SessionFault(Exception):
    """The shared state could not be used for this call; the engine refuses it with ``reason``."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Delta:
    """What the mirror missed: entries to append, or (``reset``) the whole retained history and labels."""

    entries: tuple[str, ...]
    reset: bool = False
    facts: tuple[str, ...] = ()
    lost: bool = False  # the backend lost this session: re-send the whole mirror (see ``reseed``)


class SharedSession(Protocol):
    """One session in a backend, as seen from one process (the mirror's version and unsent entries)."""

    session_id: str

    def commit(self, entries: Sequence[str], labels: Sequence[str]) -> Delta | None:
        """Append ``entries`` (and add ``labels``) iff the mirror is current; else return what it missed.

        An empty ``entries`` only confirms the mirror is current (used before a refusal, so a refusal
        is never decided on a stale view). Raises :class:`SessionFault` when the backend cannot answer.
        Called under the mirror's lock.
        """
        ...

    def local(self, entries: Sequence[str]) -> None:
        """Keep ``entries`` decided locally in degraded mode, to send when the backend is back."""
        ...

    def reseed(self, entries: Sequence[str]) -> None:
        """Queue the whole mirror for the next commit, after the backend lost the session."""
        ...

    @property
    def degraded(self) -> bool:
        """True when a failed round trip may be decided on the local mirror (explicit opt-in only)."""
        ...

    def seal(self, target: str) -> bool:
        """Join this session, while it has no history, into session ``target``, atomically.

        From then on every commit here is refused (``session_invalid``) and every process learns from
        :meth:`joined_to` where this session's calls go, so no replica can start a second history
        beside the joined one. False when the session already has history; True when it is (already)
        sealed into ``target``. Raises :class:`SessionFault` when sealed into another session or when
        the backend cannot answer (a join is never decided in degraded mode).
        """
        ...

    def joined_to(self) -> str | None:
        """The session this one was sealed into, or None; the first call may ask the backend."""
        ...
