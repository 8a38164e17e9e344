"""The feed path's statements, compiled once and run on the driver's own cursor.

On every run SQLAlchemy computes a statement's cache key, builds an execution context and
result object and processes every parameter and value through them. For the few statements
of a feed request that costs about as much as the database takes to answer them, and a cold
build runs three. A ``Prepared`` statement is compiled once per dialect; its parameters and
values still pass through the columns' own bind and result processors, so callers get what
SQLAlchemy would give them.

Their engine's events do not see these statements: ``statement_listeners`` do (the tests
count statements with both).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Dialect
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import SelectBase

Processor = Callable[[Any], Any] | None

statement_listeners: list[Callable[[str], None]] = []


def _arguments(params: Mapping[str, Any], names: Sequence[str] | None,
               binds: Mapping[str, Processor] | None) -> Any:
    """The driver's arguments, each through its bind processor when ``binds`` are given."""
    if binds is not None:
        params = {name: value if (process := binds.get(name)) is None else process(value)
                  for name, value in params.items()}
    return tuple(params[name] for name in names) if names else params


@dataclass(frozen=True)
class Compiled:
    """A statement's SQL for one dialect, with its parameters' order and bind processors."""

    compiled: SQLCompiler
    sql: str
    # The order of positional parameters (SQLite); None where the driver takes names.
    names: tuple[str, ...] | None
    binds: Mapping[str, Processor]
    # IN lists whose length varies: their SQL is written out for each run.
    expanding: bool

    def arguments(self, params: Mapping[str, Any], typed: bool) -> Any:
        """The driver's arguments; ``typed`` runs each value through its bind processor."""
        return _arguments(params, self.names, self.binds if typed else None)

    def for_run(self, params: Mapping[str, Any]) -> tuple[str, Any]:
        """The SQL and typed arguments for one run."""
        if not self.expanding:
            return self.sql, self.arguments(params, typed=True)
        state = self.compiled.construct_expanded_state(params)
        return state.statement, _arguments(state.parameters, state.positiontup,
                                           state.processors)


class Prepared:
    """A Core statement compiled once per dialect."""

    def __init__(self, statement: ClauseElement) -> None:
        self.statement = statement
        # The result columns' types, in order: a select's, none for a write.
        self.result_types = tuple(column.type for column in statement.selected_columns) \
            if isinstance(statement, SelectBase) else ()
        self._compiled: dict[str, Compiled] = {}
        self._processors: dict[tuple[str, tuple[Any, ...]], tuple[Processor, ...]] = {}

    def compiled(self, dialect: Dialect) -> Compiled:
        found = self._compiled.get(dialect.name)
        if found is None:
            compiled = self.statement.compile(dialect=dialect)
            assert isinstance(compiled, SQLCompiler)
            binds = {bind.key: bind.type.dialect_impl(dialect).bind_processor(dialect)
                     for bind in compiled.binds.values()}
            names = tuple(compiled.positiontup) if compiled.positiontup else None
            expanding = any(bind.expanding for bind in compiled.binds.values())
            found = self._compiled[dialect.name] = Compiled(compiled, str(compiled), names,
                                                            binds, expanding)
        return found

    def _row_processors(self, dialect: Dialect, description: Any) -> tuple[Processor, ...]:
        # The driver's type codes pick some processors (PostgreSQL's numeric types).
        codes = tuple(column[1] for column in description)
        found = self._processors.get((dialect.name, codes))
        if found is None:
            found = self._processors[dialect.name, codes] = tuple(
                type_.dialect_impl(dialect).result_processor(dialect, code)
                for type_, code in zip(self.result_types, codes, strict=True))
        return found

    def rows(self, connection: Connection, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """Every row, each value as its column's type gives it."""
        dialect = connection.dialect
        compiled = self.compiled(dialect)
        sql, arguments = compiled.for_run(params)
        cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(sql, arguments)
            found = cursor.fetchall()
            processors = self._row_processors(dialect, cursor.description)
        finally:
            cursor.close()
        notify(sql)
        active = [(at, process) for at, process in enumerate(processors) if process is not None]
        if not active:
            return [tuple(row) for row in found]
        rows = []
        for row in found:
            values = list(row)
            for at, process in active:
                if values[at] is not None:
                    values[at] = process(values[at])
            rows.append(tuple(values))
        return rows

    def execute(self, connection: Connection, params: Mapping[str, Any]) -> None:
        """Run a statement that returns no rows."""
        sql, arguments = self.compiled(connection.dialect).for_run(params)
        cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(sql, arguments)
        finally:
            cursor.close()
        notify(sql)


def notify(sql: str) -> None:
    """Tell ``statement_listeners`` of a statement sent past the engine's events."""
    for listener in statement_listeners:
        listener(sql)
