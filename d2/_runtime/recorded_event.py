"""A DecisionEvent built from the guard's ring record on first read, so delivery costs a few slots.

The consumer thread hands every sink an event per decision. Building all ten fields costs more than
the guarded call itself, and under the GIL that cost lands on the calling threads; most sinks read
a few fields or none. A :class:`RecordedEvent` is a ``DecisionEvent`` (``isinstance``, ``asdict``,
``fields``, ``replace``, equality, hashing, ``repr`` and pickling all behave as for the plain class)
whose fields are filled in from the record the first time any of them is read.
"""

from __future__ import annotations

from typing import Any

from d2._runtime.event_model import DecisionEvent

__all__ = ["EPOCH_SET", "NEW", "RECORD_SET", "RecordedEvent"]

_FIELDS = tuple(DecisionEvent.__dataclass_fields__)
_GET = {name: getattr(DecisionEvent, name).__get__ for name in _FIELDS}
_SET = tuple(getattr(DecisionEvent, name).__set__ for name in _FIELDS)


def _field(name: str) -> property:
    get = _GET[name]

    def read(self: RecordedEvent) -> Any:
        if self._record is not None:
            self._fill()
        return get(self)

    return property(read, doc=f"``{name}``, filled in from the record on first read")


class RecordedEvent(DecisionEvent):
    """A DecisionEvent over a ring record (see ``events.record``), filled in on first read."""

    __slots__ = ("_epoch", "_record")

    _record: tuple[Any, ...] | None
    _epoch: float

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        # ``dataclasses.replace`` calls ``type(event)(**fields)``: give it a plain DecisionEvent.
        return DecisionEvent(*args, **kwargs)

    def _fill(self) -> None:
        record = self._record
        if record is None:
            return
        _, tool, user_id, roles, allowed, reason, location, started, ended, version, request_id = record
        values = (
            tool,
            user_id,
            roles,
            allowed,
            reason,
            location,
            (ended - started) * 1e6,
            version,
            request_id,
            self._epoch + ended,
        )
        for setter, value in zip(_SET, values, strict=True):
            setter(self, value)
        RECORD_SET(self, None)

    def _plain(self) -> DecisionEvent:
        return DecisionEvent(*(getattr(self, name) for name in _FIELDS))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, DecisionEvent):
            return all(getattr(self, n) == getattr(other, n) for n in _FIELDS)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._plain())

    def __repr__(self) -> str:
        return repr(self._plain())

    def __reduce__(self) -> tuple[Any, ...]:
        return (DecisionEvent, tuple(getattr(self, name) for name in _FIELDS))


for _name in _FIELDS:
    setattr(RecordedEvent, _name, _field(_name))

# The events consumer builds each event with these, in its loop: new object, record, epoch.
NEW = object.__new__
RECORD_SET = vars(RecordedEvent)["_record"].__set__
EPOCH_SET = vars(RecordedEvent)["_epoch"].__set__
