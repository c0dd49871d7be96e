"""The connection the handlers write through during a rebuild: their single-row INSERTs, UPDATEs and DELETEs are
gathered and sent as one executemany per statement, instead of one round trip (and one pass through SQLAlchemy's
execution) each. A rebuild replays the whole log, three or four statements an event: sent one by one they cost
12-20x a plain INSERT of the rows they make.

What the handlers see is unchanged, because a write is only ever moved earlier past writes that cannot touch the
same rows: writes to other tables; or, on its own table, writes whose rows are told apart by a key column
neither changes (`worker_id = 'a'` against a row inserted with `worker_id = 'b'`). Anything else keeps its place.
An UPDATE of one row by its whole primary key, setting plain values, of a row gathered for INSERT with nothing
in between that may touch it, is made part of that row instead: the row is inserted as it would have been updated.
Whatever cannot be gathered (a SELECT, a statement reading another table, text) first sends every gathered write
to the tables it names (all of them, for text), then runs at once. Nothing is held past `flush()`, which the
runner calls inside each read model's own try, so an error is the same error in the same transaction (the
runner then projects the batch again carefully, with nothing gathered, to find the event it failed on).

A gathered write's result is not known when the handler gets it: reading it raises, and the careful replay
runs that handler unbuffered.
"""

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Connection, Integer, String, Table, TypeDecorator
from sqlalchemy.sql import operators, visitors
from sqlalchemy.sql.dml import Delete, Insert, Update
from sqlalchemy.sql.elements import BinaryExpression, BindParameter, BooleanClauseList, ColumnClause
from sqlalchemy.sql.selectable import ReturnsRows

from projections.schema import InList

# How far back a write looks for a batch of its own statement to join: each step is a check against a batch that
# may hold hundreds of rows; beyond it, a new batch is always correct.
_LOOK_BACK = 24
# Statements the handlers build afresh for each event are analysed each time; their analyses are let go beyond this.
_SHAPES_KEPT = 4096
_NOT_A_KEY = object()


class DeferredResult(Exception):
    """A handler read the result of a write gathered for later."""


class _Deferred:
    def __getattr__(self, name: str) -> Any:
        raise DeferredResult(f"the result of a gathered write ({name}) is not known until it is sent")


_DEFERRED = _Deferred()


class _Shape:
    """What a write statement does to its table, worked out once per statement object."""

    __slots__ = ("statement", "table", "insert", "update", "sets", "key_params", "key_literals", "serial",
                 "kinds", "_sets_by_names", "primary_key", "assigns")

    def __init__(self, statement: Any, table: Table, insert: bool, sets: frozenset[str],
                 key_params: tuple[tuple[str, str], ...], key_literals: dict[str, Any],
                 assigns: tuple[tuple[str, BindParameter], ...] | None = None) -> None:
        self.statement = statement
        self.table = table
        self.insert = insert
        self.update = isinstance(statement, Update)
        self.sets = sets  # columns its values() change on rows already there
        self.key_params = key_params  # (column, bind parameter): the rows it touches have column = the parameter
        self.key_literals = key_literals  # column -> the value every row it touches has there
        self.serial = table.autoincrement_column is not None
        self.kinds = _key_kinds(table)
        self.primary_key = tuple(c.key for c in table.primary_key.columns)
        # An UPDATE that may be made part of a gathered INSERT's row: what it sets (column, plain parameter).
        self.assigns = assigns
        self._sets_by_names: dict[tuple[str, ...], frozenset[str]] = {}

    def primary_key_of(self, keys: dict[str, Any]) -> Any:
        """The primary key's values among `keys` (one value for a one-column key), or _NOT_A_KEY."""
        if len(self.primary_key) == 1:
            return keys.get(self.primary_key[0], _NOT_A_KEY)
        values = tuple(keys.get(c, _NOT_A_KEY) for c in self.primary_key)
        return _NOT_A_KEY if _NOT_A_KEY in values else values

    def sets_for(self, names: tuple[str, ...]) -> frozenset[str]:
        """An UPDATE also sets every column a parameter is named after (SQLAlchemy adds them to its SET)."""
        if not self.update:
            return self.sets
        found = self._sets_by_names.get(names)
        if found is None:
            found = self._sets_by_names[names] = self.sets | {n for n in names if n in self.table.c}
        return found


class _Batch:
    """Consecutive (as far as any row can tell) executions of one statement with the same parameter names."""

    __slots__ = ("shape", "names", "sets", "rows", "keys")

    def __init__(self, shape: _Shape, names: tuple[str, ...], parameters: dict, keys: dict[str, Any]) -> None:
        self.shape = shape
        self.names = names
        self.sets = shape.sets_for(names)
        self.rows = [parameters]
        # column -> the values its rows have there, for the columns every one of its rows has a known value in
        self.keys: dict[str, set] = {column: {value} for column, value in keys.items()}

    def add(self, parameters: dict, keys: dict[str, Any]) -> None:
        self.rows.append(parameters)
        mine = self.keys
        if mine.keys() <= keys.keys():
            for column, seen in mine.items():
                seen.add(keys[column])
            return
        for column in [c for c in mine if c not in keys]:
            del mine[column]
        for column, seen in mine.items():
            seen.add(keys[column])


def _commute(shape: _Shape, sets: frozenset[str], keys: dict[str, Any], batch: _Batch) -> bool:
    """Whether the write (shape, what it sets, its keys) and every row of `batch` touch different rows."""
    if shape.insert and batch.shape.insert:
        return not shape.serial  # a serial id numbers rows in the order they are inserted
    for column, value in keys.items():
        if column in sets or column in batch.sets:
            continue
        seen = batch.keys.get(column)
        if seen is not None and value not in seen:
            return True
    return False


def _key_kinds(table: Table) -> dict[str, type]:
    """The columns a write may be told apart on, with the one Python type whose values compare in Python exactly
    as the database compares them (str in a plain string column, int in an integer one; no type decorators)."""
    kinds: dict[str, type] = {}
    for column in table.c:
        kind = column.type
        if isinstance(kind, TypeDecorator):
            continue
        if isinstance(kind, String):
            kinds[column.key] = str
        elif isinstance(kind, Integer):
            kinds[column.key] = int
    return kinds


def _key_value(kinds: dict[str, type], column: str, value: Any) -> Any:
    """`value` as a key in `column` (None is one too: `= NULL` matches no row), or _NOT_A_KEY."""
    kind = kinds.get(column)
    if kind is None or (value is not None and type(value) is not kind):
        return _NOT_A_KEY
    return value


def _only_own_columns(element: Any, table: Table) -> bool:
    """An expression that reads nothing but the row's own columns (no other table, no subquery)."""
    for part in visitors.iterate(element):
        if isinstance(part, ReturnsRows):
            return False
        if isinstance(part, ColumnClause) and part.table is not table:
            return False
        if isinstance(part, BindParameter) and part.callable is not None:
            return False
    return True


def _conjuncts(criteria: Iterable[Any]) -> Iterable[Any]:
    for criterion in criteria:
        if isinstance(criterion, BooleanClauseList) and criterion.operator is operators.and_:
            yield from _conjuncts(criterion.clauses)
        else:
            yield criterion


def shape_of(statement: Any) -> _Shape | None:
    """The shape of a write that may be gathered; None for anything else."""
    if not isinstance(statement, (Insert, Update, Delete)) or statement._returning:
        return None
    table = statement.table
    # A list bound as one parameter (an expanding IN, or InList, which is one on SQLite) cannot be sent with
    # executemany (SQLAlchemy refuses it): such a write runs at once, as it is one statement for many rows anyway.
    if any(isinstance(e, InList) or (isinstance(e, BindParameter) and e.expanding) for e in visitors.iterate(statement)):
        return None
    # A foreign key or a trigger would make the order of writes to different tables matter: none is declared.
    if not isinstance(table, Table) or table.foreign_keys or getattr(statement, "_independent_ctes", ()):
        return None
    if isinstance(statement, Insert):
        if (statement.select is not None or statement._multi_values or statement._post_values_clause is not None
                or statement._ordered_values):
            return None
        literals = {}
        for column, value in (statement._values or {}).items():
            if not isinstance(value, BindParameter) or value.callable is not None:
                return None
            name = column if isinstance(column, str) else column.key
            if value.key != name and not value.unique:
                return None  # a named parameter under another name: not followed
            if value.unique:
                key = _key_value(_key_kinds(table), name, value.value)
                if key is not _NOT_A_KEY:
                    literals[name] = key
        return _Shape(statement, table, True, frozenset(), (), literals)
    sets: set[str] = set()
    assigns: list[tuple[str, BindParameter]] | None = [] if isinstance(statement, Update) else None
    if isinstance(statement, Update):
        if statement._ordered_values or getattr(statement, "_extra_froms", ()):
            return None
        for column, value in (statement._values or {}).items():
            name = column if isinstance(column, str) else column.key
            if name not in table.c or not _only_own_columns(value, table):
                return None
            sets.add(name)
            if assigns is not None and isinstance(value, BindParameter) and value.callable is None and (
                    value.type._isnull or type(value.type) is type(table.c[name].type)):
                assigns.append((name, value))
            else:
                assigns = None  # an expression (`n + 1`): computed by the database, never here
    if any(c.onupdate is not None or c.server_onupdate is not None for c in table.c):
        assigns = None
    key_params, key_literals = [], {}
    for conjunct in _conjuncts(statement._where_criteria):
        if not _only_own_columns(conjunct, table):
            return None
        if (isinstance(conjunct, BinaryExpression) and conjunct.operator is operators.eq
                and isinstance(conjunct.left, ColumnClause) and conjunct.left.table is table
                and isinstance(conjunct.right, BindParameter)):
            column, bind = conjunct.left, conjunct.right
            if bind.unique:
                value = _key_value(_key_kinds(table), column.key, bind.value)
                if value is not _NOT_A_KEY:
                    key_literals[column.key] = value
                    continue
            else:
                key_params.append((column.key, bind.key))
                continue
        assigns = None  # a condition besides the key (`ended_at IS NULL`): the database decides which rows
    keyed = {c for c, _ in key_params} | set(key_literals)
    if assigns is not None and not {c.key for c in table.primary_key.columns} <= keyed:
        assigns = None
    return _Shape(statement, table, False, frozenset(sets), tuple(key_params), key_literals,
                  tuple(assigns) if assigns is not None else None)


class GatheredWrites:
    """Stands in for the transaction's Connection in the handlers (see the module's docstring)."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._pending: dict[Table, list[_Batch]] = {}
        # Of each table, the rows gathered for INSERT by their primary key, with their batch.
        self._inserted: dict[Table, dict[tuple, tuple[_Batch, dict]]] = {}
        self._shapes: dict[int, _Shape | None] = {}
        self._held: dict[int, Any] = {}  # the statements analysed: their ids are theirs while they are held here

    @property
    def dialect(self) -> Any:
        return self._conn.dialect

    def __getattr__(self, name: str) -> Any:
        self.flush()  # anything else the handler does with the connection sees every write before it
        return getattr(self._conn, name)

    def execute(self, statement: Any, parameters: Mapping[str, Any] | None = None, **kw: Any) -> Any:
        shape = (self._shape(statement)
                 if not kw and (parameters is None or type(parameters) is dict or isinstance(parameters, Mapping))
                 else None)
        if shape is None:
            self._flush_for(statement)
            return self._conn.execute(statement, parameters, **kw)
        row = dict(parameters) if parameters else {}
        keys = self._keys(shape, row)
        names = tuple(row)  # a handler names its parameters in one order: the same statement, the same batch
        if shape.assigns is None or not self._merge(shape, names, row, keys):
            self._place(shape, names, row, keys)
        return _DEFERRED

    def flush(self) -> None:
        pending, self._pending = self._pending, {}
        self._inserted.clear()
        for batches in pending.values():
            for batch in batches:
                self._send(batch)

    # -- gathering ---------------------------------------------------------------------------------------

    def _shape(self, statement: Any) -> _Shape | None:
        found = self._shapes.get(id(statement), _NOT_A_KEY)
        if found is not _NOT_A_KEY and self._held[id(statement)] is statement:
            return found  # type: ignore[return-value]
        if len(self._shapes) >= _SHAPES_KEPT:
            self._shapes.clear()
            self._held.clear()
        shape = shape_of(statement)
        self._shapes[id(statement)] = shape
        self._held[id(statement)] = statement
        return shape

    @staticmethod
    def _keys(shape: _Shape, row: dict) -> dict[str, Any]:
        kinds = shape.kinds
        keys = dict(shape.key_literals)
        if shape.insert:
            for name, value in row.items():
                kind = kinds.get(name)
                if kind is not None and (value is None or type(value) is kind):
                    keys[name] = value
            return keys
        for column, bind in shape.key_params:
            if bind in row:
                value = _key_value(kinds, column, row[bind])
                if value is not _NOT_A_KEY:
                    keys[column] = value
        return keys

    def _place(self, shape: _Shape, names: tuple[str, ...], row: dict, keys: dict[str, Any]) -> None:
        """Into the earliest batch of the same statement it can be moved back to, past batches it commutes with."""
        batches = self._pending.setdefault(shape.table, [])
        sets = shape.sets_for(names)
        chosen = None
        for batch in reversed(batches[-_LOOK_BACK:]):
            if batch.shape is shape and batch.names == names:
                chosen = batch  # at its end: after every row already in it
            if not _commute(shape, sets, keys, batch):
                break
        if chosen is None:
            chosen = _Batch(shape, names, row, keys)
            batches.append(chosen)
        else:
            chosen.add(row, keys)
        if shape.insert:
            primary_key = shape.primary_key_of(keys)
            if primary_key is not _NOT_A_KEY:
                self._inserted.setdefault(shape.table, {})[primary_key] = (chosen, row)

    def _merge(self, shape: _Shape, names: tuple[str, ...], row: dict, keys: dict[str, Any]) -> bool:
        """An UPDATE of a row gathered for INSERT, with nothing between that may touch it: made part of the row."""
        gathered = self._inserted.get(shape.table)
        if not gathered:
            return False
        found = gathered.get(shape.primary_key_of(keys))
        if found is None:
            return False
        target, inserted = found
        sets = shape.sets_for(names)
        for batch in reversed(self._pending[shape.table][-_LOOK_BACK:]):
            if batch is target:
                break
            if not _commute(shape, sets, keys, batch):
                return False
        else:
            return False
        values = {}
        for column, bind in shape.assigns:  # type: ignore[union-attr]
            if bind.unique:
                values[column] = bind.value
            elif bind.key in row:
                values[column] = row[bind.key]
            else:
                return False
        explicit = {c for c, _ in shape.assigns}  # type: ignore[union-attr]
        named = {n: row[n] for n in names if n in shape.table.c and n not in explicit}
        values.update(named)
        if not values or not values.keys() <= inserted.keys():
            return False  # a column the INSERT left to its default: its rows must keep the same columns
        inserted.update(values)
        for column, value in values.items():  # the row's new values tell it apart from here on, as its old ones did
            seen = target.keys.get(column)
            if seen is not None:
                value = _key_value(shape.kinds, column, value)
                if value is _NOT_A_KEY:
                    del target.keys[column]
                else:
                    seen.add(value)
        return True

    def _flush_for(self, statement: Any) -> None:
        """Sends what was gathered for the tables `statement` names, or everything if it names none we can tell."""
        tables = {part for part in visitors.iterate(statement) if isinstance(part, Table)}
        dml_table = getattr(statement, "table", None)
        if isinstance(dml_table, Table):
            tables.add(dml_table)
        if not tables:
            self.flush()
            return
        for table in tables & set(self._pending):
            self._inserted.pop(table, None)
            for batch in self._pending.pop(table):
                self._send(batch)

    def _send(self, batch: _Batch) -> None:
        rows = batch.rows
        self._conn.execute(batch.shape.statement, rows if len(rows) > 1 else rows[0])


__all__ = ["DeferredResult", "GatheredWrites", "shape_of"]
