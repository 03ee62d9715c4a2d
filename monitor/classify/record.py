"""Record: the base of the small value classes built per item (Segment, CueHit, Hit, Actor).

They were NamedTuples; they are plain classes with an `__init__` so that, compiled by mypyc, each is a native
class (a field read is a C struct read, a construction one C call) while the uncompiled path stays ordinary
Python. What the NamedTuples gave and callers use is kept: the repr (the same text), value equality and hash,
`_fields`, and iteration over the values in field order. None of these is on the hot path.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar


class Record:
    __slots__ = ()
    _fields: ClassVar[tuple[str, ...]] = ()

    def _values(self) -> tuple[Any, ...]:
        return tuple([getattr(self, name) for name in self._fields])

    def __repr__(self) -> str:
        fields = ", ".join([f"{name}={getattr(self, name)!r}" for name in self._fields])
        return f"{type(self).__name__}({fields})"

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self) or not isinstance(other, Record):
            return NotImplemented
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash(self._values())

    def __iter__(self) -> Iterator[Any]:
        return iter(self._values())

    def __len__(self) -> int:
        return len(self._fields)
