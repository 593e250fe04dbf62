"""SQL for conditions on `Contact.attributes` keys, for PostgreSQL (jsonb) and SQLite (JSON1).

Each class is a boolean expression that never yields NULL, so `~Q(expr)` negates it cleanly.
On PostgreSQL, equality is written as containment (`@>`) so the GIN index on `attributes`
answers it; numbers compare as numbers and dates as ISO text, each only where the stored value
has that type.
"""

from __future__ import annotations

import json
import re

from django.db.models import BooleanField, Expression, F
from django.db.models.fields.json import compile_json_path

COMPARE_SQL = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
ISO_DATE_REGEX = r"^\d{4}-\d{2}-\d{2}"
ISO_DATE_GLOB = "[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]*"
SIMPLE_KEY_RE = re.compile(r"^[A-Za-z0-9_ .:/@-]+$")
# What jsonb's text form writes escaped: a search holding one cannot use that text.
JSON_ESCAPED_RE = re.compile(r'["\\\x00-\x1f]')


def jsonpath_key(key: str) -> str:
    """`$."key"` with the key quoted as a jsonpath string literal."""
    return '$."' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _number_literal(value: float) -> str:
    return str(value) if isinstance(value, int) else repr(float(value))


class AttributeCondition(Expression):
    output_field = BooleanField()

    def __init__(self, key: str, value: object = None, op: str = "") -> None:
        super().__init__(output_field=BooleanField())
        self.key, self.value, self.op = key, value, op
        self.column = F("attributes")

    def get_source_expressions(self) -> list:
        return [self.column]

    def set_source_expressions(self, exprs: list) -> None:
        (self.column,) = exprs

    def as_sql(self, compiler, connection) -> tuple[str, list]:
        raise NotImplementedError


def _sqlite_access(col: str, params: list, key: str) -> tuple[tuple, tuple]:
    """SQL (with params) for a key's JSON type and value on SQLite.

    Plain keys use a JSON path. SQLite paths cannot spell quotes or backslashes, and match
    non-ASCII keys only as stored (escaped or not), so other keys are looked up by json_each,
    which compares the decoded key."""
    if SIMPLE_KEY_RE.match(key):
        path = compile_json_path([key])
        return (f"json_type({col}, %s)", [*params, path]), (
            f"json_extract({col}, %s)",
            [*params, path],
        )
    lookup = "(SELECT e.{part} FROM json_each(" + col + ") AS e WHERE e.key = %s)"
    return (lookup.format(part="type"), [*params, key]), (
        lookup.format(part="value"),
        [*params, key],
    )


class AttributeExists(AttributeCondition):
    def as_sql(self, compiler, connection) -> tuple[str, list]:
        col, params = compiler.compile(self.column)
        if connection.vendor == "postgresql":
            return f"({col} ? %s)", [*params, self.key]
        (type_sql, type_params), _ = _sqlite_access(col, params, self.key)
        return f"({type_sql} IS NOT NULL)", type_params


class AttributeEquals(AttributeCondition):
    def as_sql(self, compiler, connection) -> tuple[str, list]:
        col, params = compiler.compile(self.column)
        value = self.value
        if connection.vendor == "postgresql":
            return f"({col} @> %s::jsonb)", [*params, json.dumps({self.key: value})]
        (type_sql, type_params), (value_sql, value_params) = _sqlite_access(col, params, self.key)
        if isinstance(value, bool):
            return f"COALESCE({type_sql} = %s, 0)", [*type_params, "true" if value else "false"]
        kinds = "('text')" if isinstance(value, str) else "('integer', 'real')"
        return (
            f"COALESCE({type_sql} IN {kinds} AND {value_sql} = %s, 0)",
            [*type_params, *value_params, value],
        )


class AttributeContains(AttributeCondition):
    """Text contains (case-insensitive), or a list that holds the value."""

    def as_sql(self, compiler, connection) -> tuple[str, list]:
        col, params = compiler.compile(self.column)
        key, value = self.key, self.value
        if connection.vendor == "postgresql":
            sql = (
                f"COALESCE(CASE jsonb_typeof({col} -> %s) "
                f"WHEN 'string' THEN strpos(lower({col} ->> %s), lower(%s)) > 0 "
                f"WHEN 'array' THEN ({col} -> %s) @> %s::jsonb END, false)"
            )
            return sql, [*params, key, *params, key, value, *params, key, json.dumps([value])]
        (type_sql, type_params), (value_sql, value_params) = _sqlite_access(col, params, key)
        sql = (
            f"COALESCE(CASE {type_sql} "
            f"WHEN 'text' THEN instr(lower({value_sql}), lower(%s)) > 0 "
            f"WHEN 'array' THEN EXISTS(SELECT 1 FROM json_each({value_sql}) AS a "
            f"WHERE a.value = %s) END, 0)"
        )
        return sql, [*type_params, *value_params, value, *value_params, value]


class AttributeCompare(AttributeCondition):
    """`op` is gt/gte/lt/lte; a number compares with numbers, an ISO date with ISO text."""

    def as_sql(self, compiler, connection) -> tuple[str, list]:
        col, params = compiler.compile(self.column)
        key, value, sign = self.key, self.value, COMPARE_SQL[self.op]
        is_number = not isinstance(value, str)
        if connection.vendor == "postgresql":
            if is_number:
                # One jsonpath pass; strict mode makes text, lists and missing keys not match.
                return f"COALESCE({col} @@ %s::jsonpath, false)", [
                    *params,
                    f"strict {jsonpath_key(key)} {sign} {_number_literal(value)}",
                ]
            sql = (
                f"COALESCE(CASE WHEN jsonb_typeof({col} -> %s) = 'string' "
                f"AND ({col} ->> %s) ~ %s "
                f'THEN left({col} ->> %s, %s) COLLATE "C" {sign} %s END, false)'
            )
            return sql, [
                *params,
                key,
                *params,
                key,
                ISO_DATE_REGEX,
                *params,
                key,
                len(value),
                value,
            ]
        (type_sql, type_params), (value_sql, value_params) = _sqlite_access(col, params, key)
        if is_number:
            sql = (
                f"COALESCE(CASE WHEN {type_sql} IN ('integer', 'real') "
                f"THEN {value_sql} {sign} %s END, 0)"
            )
            return sql, [*type_params, *value_params, value]
        sql = (
            f"COALESCE(CASE WHEN {type_sql} = 'text' AND {value_sql} GLOB %s "
            f"THEN substr({value_sql}, 1, %s) {sign} %s END, 0)"
        )
        return sql, [
            *type_params,
            *value_params,
            ISO_DATE_GLOB,
            *value_params,
            len(value),
            value,
        ]


class AttributeValueSearch(AttributeCondition):
    """Some text or number value, at any depth, contains the text, case-insensitively (the
    contact list's search box). Keys and JSON syntax never match: `{` finds nobody."""

    def as_sql(self, compiler, connection) -> tuple[str, list]:
        col, params = compiler.compile(self.column)
        pattern = "%" + self.value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern += "%"
        if connection.vendor == "postgresql":
            values = (
                f"EXISTS(SELECT 1 FROM jsonb_path_query({col}, 'strict $.**') AS v(j)"
                " WHERE jsonb_typeof(v.j) IN ('string', 'number') AND v.j #>> '{}' ILIKE %s)"
            )
            if JSON_ESCAPED_RE.search(self.value):
                return values, [*params, pattern]
            # The JSON text first: about four times faster than walking each contact's values,
            # which matters when nothing matches and all contacts are read.
            return f"({col}::text ILIKE %s AND {values})", [*params, pattern, *params, pattern]
        sql = (
            f"EXISTS(SELECT 1 FROM json_tree({col}) AS e WHERE e.type IN ('text', 'integer', "
            "'real') AND e.value LIKE %s ESCAPE '\\')"
        )
        return sql, [*params, pattern]
