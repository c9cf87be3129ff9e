"""Hot statements written once as SQL, with the ORM's own value conversions.

Django compiles a queryset anew on every evaluation: on the completion write path
(ADR 0035) compiling about a dozen small queries cost more CPU than SQLite took
to run them. The few statements every ``POST /completions`` runs are written
here as SQL text built once per database vendor (quoted names, ``%s``
parameters, portable to SQLite and PostgreSQL), and their values go through the
same converters the ORM applies: what comes back is what the queryset returned.

Only for statements on the hot path, each with a test that compares it with the
queryset it replaces; everything else stays ORM. :func:`ids_in` keeps a read in the
ORM and makes its ``IN`` list of many ids cheap to compile.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import F, Field, Model
from django.db.models.lookups import In

__all__ = [
    "Columns",
    "columns",
    "db_values",
    "from_row",
    "ids_in",
    "insert",
    "instance",
    "update",
    "update_many",
]


@dataclass(frozen=True)
class Columns:
    """Some columns of one model: their SQL select list and how to convert each value."""

    model: type[Model]
    attnames: tuple[str, ...]
    #: ``"table"."column", …`` (quoted for the current vendor).
    sql: str
    #: For each column that needs it: (position, converters, expression).
    converters: tuple[tuple[int, tuple[Callable[..., Any], ...], Any], ...]
    #: Every concrete field, in the model's order (``Model.from_db`` takes them positionally).
    complete: bool


_cache: dict[tuple[str, type[Model], tuple[str, ...]], Columns] = {}


class IdsIn(In):
    """``IN`` over a list of integer ids, each taken as ``int()`` rather than prepared
    by the field one by one, as ``__in`` does: ~3 µs an id, ~3 ms of a read of a
    thousand enrollments' moves or exemptions (a timeline's batch), against ~0.3 ms
    here. The same SQL and parameters as ``__in`` of the ids sorted, without
    duplicates; none matches nothing, as ``__in`` of an empty list."""

    prepare_rhs = False

    def get_prep_lookup(self) -> list[int]:
        return sorted({int(value) for value in self.rhs})

    def process_rhs(self, compiler: Any, connection: Any) -> tuple[str, list[str | int]]:
        if not self.rhs:
            raise EmptyResultSet
        return "(" + ", ".join(["%s"] * len(self.rhs)) + ")", list(self.rhs)


def ids_in(field: str, ids: Iterable[int]) -> IdsIn:
    """Return the condition "``field`` is one of ``ids``" for ``QuerySet.filter``:
    ``filter(ids_in("enrollment_id", ids))`` for ``filter(enrollment_id__in=ids)``,
    for reads of many ids at once (:class:`IdsIn`)."""
    return IdsIn(F(field), list(ids))


def _field(model: type[Model], attname: str) -> Field[Any, Any]:
    """Return the concrete field of ``model`` named ``attname`` (or its name)."""
    field = model._meta.get_field(attname)
    assert isinstance(field, Field) and field.column is not None, attname
    return field


def columns(model: type[Model], attnames: Sequence[str]) -> Columns:
    """Return the select list of ``attnames`` of ``model`` and their converters
    (built once per vendor and column list)."""
    key = (connection.vendor, model, tuple(attnames))
    found = _cache.get(key)
    if found is not None:
        return found
    meta = model._meta
    quote = connection.ops.quote_name
    table = meta.db_table
    parts = []
    converters = []
    for position, attname in enumerate(attnames):
        field = _field(model, attname)
        column = field.get_col(table)
        parts.append(f"{quote(table)}.{quote(str(field.column))}")
        found_converters = tuple(
            connection.ops.get_db_converters(column) + column.get_db_converters(connection)
        )
        if found_converters:
            converters.append((position, found_converters, column))
    concrete = tuple(f.attname for f in meta.concrete_fields)
    built = Columns(
        model=model,
        attnames=tuple(attnames),
        sql=", ".join(parts),
        converters=tuple(converters),
        complete=tuple(attnames) == concrete,
    )
    _cache[key] = built
    return built


def from_row(cols: Columns, row: Sequence[Any]) -> list[Any]:
    """Return a fetched row's values as the ORM returns them (its converters applied)."""
    values = list(row)
    for position, converters, expression in cols.converters:
        value = values[position]
        for convert in converters:
            value = convert(value, expression, connection)
        values[position] = value
    return values


def instance(cols: Columns, row: Sequence[Any]) -> Any:
    """Return the model instance of a fetched row of every concrete column, as a
    queryset would (``Model.from_db``: saved, on the default database)."""
    assert cols.complete, "an instance needs every concrete column, in the model's order"
    return cols.model.from_db("default", cols.attnames, from_row(cols, row))


def db_values(model: type[Model], values: dict[str, Any]) -> list[Any]:
    """Return ``values`` ({attname: value}) as parameters for this vendor, as the ORM
    prepares them for a write (``Field.get_db_prep_save``)."""
    return [
        _field(model, name).get_db_prep_save(value, connection) for name, value in values.items()
    ]


_sql: dict[tuple[str, type[Model], str, tuple[str, ...]], str] = {}


def _built(kind: str, model: type[Model], names: tuple[str, ...], build: Callable[[], str]) -> str:
    key = (connection.vendor, model, kind, names)
    sql = _sql.get(key)
    if sql is None:
        sql = _sql[key] = build()
    return sql


def insert(obj: Model) -> Any:
    """Insert a new model instance (every concrete column but an auto id) with one
    statement; set its id and mark it saved, as ``Model.save()`` would. No signals
    (none is connected to the models this is used for)."""
    model = type(obj)
    meta = model._meta
    auto = meta.auto_field
    fields = [f for f in meta.concrete_fields if f is not auto]
    names = tuple(f.attname for f in fields)
    returning = bool(auto) and connection.features.can_return_columns_from_insert

    def build() -> str:
        q = connection.ops.quote_name
        sql = (
            f"INSERT INTO {q(meta.db_table)} ({', '.join(q(f.column) for f in fields)}) "
            f"VALUES ({', '.join(['%s'] * len(fields))})"
        )
        return sql + (f" RETURNING {q(auto.column)}" if returning and auto else "")

    sql = _built("insert" + (" returning" if returning else ""), model, names, build)
    params = [f.get_db_prep_save(f.pre_save(obj, True), connection) for f in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        if auto:
            if returning:
                obj.pk = cursor.fetchone()[0]
            else:
                obj.pk = connection.ops.last_insert_id(cursor, meta.db_table, auto.column)
    obj._state.adding = False
    obj._state.db = "default"
    return obj


def _update_sql(model: type[Model], names: tuple[str, ...]) -> str:
    meta = model._meta

    def build() -> str:
        q = connection.ops.quote_name
        assignments = ", ".join(f"{q(str(_field(model, n).column))} = %s" for n in names)
        return f"UPDATE {q(meta.db_table)} SET {assignments} WHERE {q(meta.pk.column)} = %s"

    return _built("update", model, names, build)


def update(model: type[Model], pk: Any, values: dict[str, Any]) -> None:
    """``UPDATE`` one row's columns ({attname: value}) by primary key, one statement."""
    with connection.cursor() as cursor:
        cursor.execute(_update_sql(model, tuple(values)), [*db_values(model, values), pk])


def update_many(
    model: type[Model], attnames: Sequence[str], rows: Sequence[tuple[Any, Sequence[Any]]]
) -> None:
    """``UPDATE`` the same columns of a few rows, each to its own values: ``rows`` is
    [(primary key, [value per attname])]; one statement per row, sent in one call."""
    if not rows:
        return
    fields = [_field(model, name) for name in attnames]
    params = [
        [*(f.get_db_prep_save(v, connection) for f, v in zip(fields, values, strict=True)), pk]
        for pk, values in rows
    ]
    with connection.cursor() as cursor:
        cursor.executemany(_update_sql(model, tuple(attnames)), params)
