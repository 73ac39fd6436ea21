"""Reading a parsed TOML document key by key, for ``faas.config.load``; nothing here knows its sections.

A :class:`Table` is read into one record (a dataclass): a key left out takes the default of the
record's field of the same name, so every default is written once, on the dataclass. Each typed
getter refuses a bad value with the key path, the value and what is allowed; whatever is left unread
when the table is ``done()`` is an unknown key.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Iterator
from decimal import Decimal, InvalidOperation
from typing import Any, TypeGuard

from faas.exceptions import ConfigError

__all__ = [
    "Table",
    "entries",
    "field_default",
    "is_integer",
    "is_number",
    "named_entries",
    "named_tables",
    "show",
    "unique",
]

_FIELD: Any = object()  # the default of a getter's ``default``: the record field's own


def field_default(record: type[Any], name: str) -> Any:
    """The default of the dataclass ``record``'s field ``name`` (a fresh one for a factory)."""
    for f in dataclasses.fields(record):
        if f.name == name:
            if f.default is not dataclasses.MISSING:
                return f.default
            if f.default_factory is not dataclasses.MISSING:
                return f.default_factory()
    raise TypeError(f"{record.__name__}.{name} has no default")


def show(value: Any) -> str:
    """A value as the message quotes it: strings in double quotes, TOML's words for the rest."""
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list" if value else "[]"
    return repr(value)


def is_integer(value: Any, lo: float, hi: float) -> TypeGuard[int]:
    """An integer from ``lo`` to ``hi``; ``true`` is not one, though Python's ``bool`` is an ``int``."""
    return not isinstance(value, bool) and isinstance(value, int) and lo <= value <= hi


def is_number(value: Any, lo: float, hi: float) -> TypeGuard[int | float]:
    """An integer or a float from ``lo`` to ``hi`` (not ``true``)."""
    return not isinstance(value, bool) and isinstance(value, (int, float)) and lo <= value <= hi


def unique(values: Iterable[str], message: Callable[[int, str, int], str]) -> None:
    """Refuse the first value seen twice with ``message(i, value, j)``: entry ``i`` repeats entry ``j``."""
    seen: dict[str, int] = {}
    for i, value in enumerate(values):
        if value in seen:
            raise ConfigError(message(i, value, seen[value]))
        seen[value] = i


class Table:
    """A TOML table read key by key into one ``record``; whatever is left unread at the end is an unknown key."""

    def __init__(self, data: Any, where: str, record: type[Any] | None = None) -> None:
        if not isinstance(data, dict):
            raise ConfigError(f"{where}: must be a table, got {show(data)}")
        self.data = dict(data)
        self.where = where
        self.record = record

    def key(self, name: str) -> str:
        return f"{self.where}.{name}" if self.where else name

    def take(self, name: str, default: Any = _FIELD) -> Any:
        """The value of ``name``, else ``default``, else the default of the record's field ``name``."""
        if name in self.data:
            return self.data.pop(name)
        if default is _FIELD:
            if self.record is None:
                raise TypeError(f"{self.key(name)}: no default given and no record to take one from")
            return field_default(self.record, name)
        return default

    def string(self, name: str, default: Any = _FIELD, *, required: bool = False) -> str:
        if required and name not in self.data:
            raise ConfigError(f"{self.key(name)}: missing, a string is required")
        value = self.take(name, default)
        if not isinstance(value, str):
            raise ConfigError(f"{self.key(name)} = {show(value)}: must be a string")
        return value

    def choice(self, name: str, options: tuple[str, ...]) -> str:
        value = self.string(name)
        if value not in options:
            allowed = ", ".join(repr(o) for o in options)
            raise ConfigError(f"{self.key(name)} = {show(value)}: must be one of {allowed}")
        return value

    def integer(self, name: str, lo: int, hi: int) -> int:
        value = self.take(name)
        if not is_integer(value, lo, hi):
            raise ConfigError(f"{self.key(name)} = {show(value)}: must be an integer from {lo} to {hi}")
        return value

    def number(self, name: str, lo: float, hi: float) -> float:
        value = self.take(name)
        if not is_number(value, lo, hi):
            raise ConfigError(f"{self.key(name)} = {show(value)}: must be a number from {lo:g} to {hi:g}")
        return float(value)

    def boolean(self, name: str, default: Any = _FIELD) -> bool:
        value = self.take(name, default)
        if not isinstance(value, bool):
            raise ConfigError(f"{self.key(name)} = {show(value)}: must be true or false")
        return value

    def strings(self, name: str) -> tuple[str, ...]:
        if name not in self.data:  # the record's default, a tuple already (TOML gives a list)
            return tuple(self.take(name))
        value = self.take(name)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{self.key(name)} = {show(value)}: must be a list of strings")
        return tuple(value)

    def decimal(self, name: str) -> Decimal:
        """A non-negative amount, exact: a TOML number or a string like "0.0000166667"."""
        value = self.take(name)
        try:
            if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
                raise InvalidOperation
            amount = Decimal(str(value))
            if not amount.is_finite() or amount < 0:
                raise InvalidOperation
        except InvalidOperation:
            raise ConfigError(f"{self.key(name)} = {show(value)}: must be a number of 0 or more") from None
        return amount

    def table(self, name: str, record: type[Any] | None = None) -> Table:
        return Table(self.take(name, {}), self.key(name), record)

    def done(self) -> None:
        if self.data:
            name = sorted(self.data)[0]
            raise ConfigError(f"{self.key(name)}: unknown key")


def array(raw: Any, name: str) -> list[Any]:
    """The value of ``[[name]]``: TOML's array of tables."""
    if not isinstance(raw, list):
        raise ConfigError(f"{name}: must be an array of tables ([[{name}]])")
    return raw


def entries(raw: Any, section: str, record: type[Any]) -> Iterator[Table]:
    """The tables of ``[[section]]``, each to be read into a ``record``."""
    for i, data in enumerate(array(raw, section)):
        yield Table(data, f"{section}[{i}]", record)


def named_tables(t: Table, record: type[Any], valid: Callable[[str], bool], rule: str) -> Iterator[tuple[Table, str]]:
    """The tables ``[section.NAME]`` in ``t``, each with its NAME: valid, else ``rule`` says why."""
    for name, data in t.data.items():
        entry = Table(data, t.key(name), record)
        if not valid(name):
            raise ConfigError(f'{t.where}."{name}": {rule}')
        yield entry, name


def named_entries(
    raw: Any, section: str, record: type[Any], valid: Callable[[str], bool], rule: str
) -> Iterator[tuple[Table, str]]:
    """The tables of ``[[section]]``, each with its ``name``: valid (else ``rule`` says why) and unique."""
    seen: dict[str, int] = {}
    for i, t in enumerate(entries(raw, section, record)):
        name = t.string("name", required=True)
        if not valid(name):
            raise ConfigError(f'{t.key("name")} = "{name}": {rule}')
        if name in seen:
            raise ConfigError(f'{t.key("name")} = "{name}": already used by {section}[{seen[name]}]')
        seen[name] = i
        yield t, name
