"""Frozen, keyword-only, slotted records that cost nothing to define.

``@dataclass`` writes and compiles six functions for every frozen class (``__init__``,
``__repr__``, ``__eq__``, ``__hash__``, ``__setattr__``, ``__delattr__``): about half a
millisecond each time. The server events and inbox items are ~50 such classes, all
imported by ``convctl run`` before it can say a word, so that was ~30 ms of every
start-up's CPU (benchmarks/bench_live.py counts start-up in the conversation's CPU).

``@record`` makes the same kind of class without writing any code: the methods are shared
and read the class's field table. Type checkers see a frozen, keyword-only dataclass
(``dataclass_transform``), so constructors and attribute types are checked as before.
``replace(record, **changes)`` is the copy with changes. What it does not do: positional
arguments, ``dataclasses.fields`` / ``asdict`` (use ``@dataclass`` for classes that need
them), or fields without an annotation. Data only: no behaviour and no I/O here.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import FrozenInstanceError
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from typing_extensions import dataclass_transform
elif sys.version_info >= (3, 11):
    from typing import dataclass_transform
else:  # Python 3.10: only type checkers read it
    def dataclass_transform(**_: Any) -> Callable[[Any], Any]:
        return lambda decorated: decorated

T = TypeVar("T", bound=type)

_MISSING: Any = object()


class Field:
    """What ``field()`` says about one field: its default and whether it shows and counts."""

    __slots__ = ("compare", "default", "default_factory", "repr")

    def __init__(self, default: Any, default_factory: Callable[[], Any] | None,
                 repr: bool, compare: bool) -> None:
        self.default = default
        self.default_factory = default_factory
        self.repr = repr
        self.compare = compare


def field(*, default: Any = _MISSING, default_factory: Callable[[], Any] | None = None,
          repr: bool = True, compare: bool = True) -> Any:
    """Like ``dataclasses.field`` for a record: ``repr=False`` leaves it out of the repr,
    ``compare=False`` out of ``==`` and ``hash``."""
    if default is not _MISSING and default_factory is not None:
        raise ValueError("a field has a default or a default_factory, not both")
    return Field(default, default_factory, repr, compare)


@dataclass_transform(kw_only_default=True, frozen_default=True, field_specifiers=(field,))
def record(cls: T) -> T:
    """Make ``cls`` a frozen, keyword-only record with ``__slots__`` for its annotated
    fields (after those of a record it inherits from)."""
    inherited: tuple[tuple[str, Field], ...] = ()
    for base in cls.__mro__[1:]:
        if "_record_fields" in base.__dict__:
            inherited = base.__dict__["_record_fields"]
            break
    namespace = dict(cls.__dict__)
    own: list[tuple[str, Field]] = []
    for name, annotation in cls.__dict__.get("__annotations__", {}).items():  # noqa: RUF063 - own fields only, unevaluated
        if str(annotation).startswith(("ClassVar", "typing.ClassVar")):
            continue
        value = namespace.pop(name, _MISSING)
        spec = value if isinstance(value, Field) else Field(value, None, True, True)
        own.append((name, spec))
    for name in ("__dict__", "__weakref__"):
        namespace.pop(name, None)
    fields = inherited + tuple(own)
    namespace.update(
        __slots__=tuple(name for name, _ in own),
        _record_fields=fields,
        _record_init=tuple((name, spec.default, spec.default_factory) for name, spec in fields),
        _record_repr=tuple(name for name, spec in fields if spec.repr),
        _record_compare=tuple(name for name, spec in fields if spec.compare),
        __match_args__=(),
        __init__=_init, __repr__=_repr, __eq__=_eq, __hash__=_hash,
        __setattr__=_refuse_change, __delattr__=_refuse_change,
        __getstate__=_getstate, __setstate__=_setstate,
    )
    made = type(cls)(cls.__name__, cls.__bases__, namespace)
    made.__qualname__ = cls.__qualname__
    return made


R = TypeVar("R")


def replace(instance: R, **changes: Any) -> R:
    """A copy of the record ``instance`` with ``changes`` (``dataclasses.replace``)."""
    fields = getattr(type(instance), "_record_fields", None)
    if fields is None:
        raise TypeError(f"replace() needs a record, got {type(instance).__name__}")
    values = {name: getattr(instance, name) for name, _ in fields}
    values.update(changes)
    return type(instance)(**values)


_set = object.__setattr__


def _init(self: Any, **values: Any) -> None:
    for name, default, factory in self._record_init:
        if name in values:
            _set(self, name, values.pop(name))
        elif default is not _MISSING:
            _set(self, name, default)
        elif factory is not None:
            _set(self, name, factory())
        else:
            raise TypeError(f"{type(self).__name__}() missing required keyword argument: "
                            f"{name!r}")
    if values:
        raise TypeError(f"{type(self).__name__}() got an unexpected keyword argument "
                        f"{next(iter(values))!r}")


def _repr(self: Any) -> str:
    shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._record_repr)
    return f"{type(self).__qualname__}({shown})"


def _compared(self: Any) -> tuple[Any, ...]:
    return tuple(getattr(self, name) for name in self._record_compare)


def _eq(self: Any, other: object) -> bool:
    if other.__class__ is not self.__class__:
        return NotImplemented
    return _compared(self) == _compared(other)


def _hash(self: Any) -> int:
    return hash(_compared(self))


def _refuse_change(self: Any, name: str, *_value: Any) -> None:
    raise FrozenInstanceError(f"cannot assign to field {name!r}")


def _getstate(self: Any) -> tuple[Any, ...]:
    return tuple(getattr(self, name) for name, _ in self._record_fields)


def _setstate(self: Any, state: tuple[Any, ...]) -> None:
    for (name, _), value in zip(self._record_fields, state, strict=True):
        _set(self, name, value)
