"""Which SQL a project may run on the warehouse: one read-only query over tables it may read.

Card SQL and `run_agent` input are written by project users and run on the org's one DuckDB file, so they are
parsed (sqlglot, DuckDB dialect) and accepted only as ONE `SELECT`/`WITH` query (set operations included) that
- writes nothing (no DDL/DML, `COPY`, `ATTACH`, `PRAGMA`, `SET`, `INSTALL`/`LOAD`, `SELECT … INTO`),
- calls no table function other than `range`/`generate_series`/`unnest`, and no function that reaches files,
  other databases, settings or the environment (`read_csv`, `glob`, `query`, `getenv`, `duckdb_*`, …),
- names tables only of schema `main` (no catalog, no other schema, no file path as a table), each one either a
  CTE in scope or one of the `readable` tables,
- nests at most MAX_NESTING levels (brackets, CASE, prefix operators), counted on the tokens before parsing, so a
  deep query is refused by name instead of exhausting the parser's stack.
The same check runs when the SQL is written (`apply`, API) and again right before it runs. Whatever it misses,
the connection it runs on has external access off and its configuration locked (resources/warehouse_access.py).
"""

from __future__ import annotations

import re
from collections.abc import Collection
from functools import cache
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    # sqlglot (~30 MB) is imported only in the functions that parse: a code location imports this module (through
    # model/tenancy.py, for every step kind) but parses SQL only when a trigger's `expand_from` query runs.
    from sqlglot import exp
    from sqlglot.tokens import Token, TokenType

DIALECT = "duckdb"
READ_ONLY = "one read-only SELECT or WITH statement"
_ROW_GENERATOR_NAMES = frozenset({"range", "generate_series", "unnest"})
# Functions (in any position) that reach files, other databases, settings, secrets or the environment.
_SYSTEM_FUNCTIONS = frozenset(
    {"getenv", "glob", "query", "query_table", "sniff_csv", "current_setting", "which_secret"}
)
_SYSTEM_PREFIXES = ("read_", "parquet_", "duckdb_", "pragma_", "iceberg_", "delta_", "sqlite_", "postgres_", "mysql_")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Card SQL's `:start`/`:end`, which DuckDB runs as the named parameters `$start`/`$end`.
BIND_NAMES = ("start", "end")
_BIND_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SNIPPET = 80
# How deep a query may nest: far beyond what people write, far below what the recursive parser can take.
MAX_NESTING = 64


class _Nodes(NamedTuple):
    """The sqlglot token and node types the policy tells apart (`_nodes`)."""

    openers: frozenset[TokenType]
    closers: frozenset[TokenType]
    # A run of these (`not not not x`, `- - -1`) nests as deep as it is long.
    prefix_operators: frozenset[TokenType]
    # Table functions that only compute rows; every other table function is refused.
    row_generators: tuple[type[exp.Expr], ...]
    # Statements that may hide inside a query's tree (sqlglot parses `WITH x AS (ATTACH …)`, for one).
    statements: tuple[type[exp.Expr], ...]


@cache
def _nodes() -> _Nodes:
    # imported here: a code location loads this module but parses SQL only when a query runs (see the top)
    from sqlglot import exp
    from sqlglot.tokens import TokenType

    statements: tuple[type[exp.Expr], ...] = (exp.DML, exp.DDL, exp.Copy, exp.Command, exp.Into, exp.Pragma, exp.Set)
    statements += (exp.Attach, exp.Detach)
    statements += (exp.Use, exp.Describe, exp.Show, exp.Summarize, exp.Analyze, exp.Transaction, exp.Commit)
    statements += (exp.Rollback, exp.Kill, exp.LoadData, exp.Install, exp.Export, exp.Grant, exp.Revoke, exp.Refresh)
    statements += (exp.Cache, exp.Uncache, exp.Comment, exp.Declare)
    return _Nodes(
        openers=frozenset({TokenType.L_PAREN, TokenType.L_BRACKET, TokenType.L_BRACE, TokenType.CASE}),
        closers=frozenset({TokenType.R_PAREN, TokenType.R_BRACKET, TokenType.R_BRACE, TokenType.END}),
        prefix_operators=frozenset({TokenType.NOT, TokenType.DASH, TokenType.PLUS, TokenType.TILDE}),
        row_generators=(exp.GenerateSeries, exp.Unnest, exp.ExplodingGenerateSeries),
        statements=statements,
    )


class SqlPolicyError(ValueError):
    """SQL that may not run; the message names the offending statement, table or function."""


def check_query(sql: str, readable: Collection[str] | None) -> frozenset[str]:
    """Check `sql` against the policy; return the (lower-case) tables it reads. Raises SqlPolicyError.

    `readable` holds lower-case table names of schema `main`; None checks everything but the table names.
    `:start`/`:end` bind parameters parse as they are.
    """
    try:
        return _check_query(sql, readable)
    except RecursionError:
        # Not expected past check_nesting; should a construct it does not count still nest too deep, it is refused.
        raise SqlPolicyError(f"is nested too deeply to check (at most {MAX_NESTING} levels)") from None


def check_nesting(tokens: list[Token]) -> None:
    """At most MAX_NESTING levels of brackets, CASE and prefix operators; SqlPolicyError naming the line."""
    nodes = _nodes()
    depth = run = 0
    for token in tokens:
        if token.token_type in nodes.openers:
            depth += 1
        elif token.token_type in nodes.closers:
            depth = max(depth - 1, 0)
        run = run + 1 if token.token_type in nodes.prefix_operators else 0
        if depth + run > MAX_NESTING:
            raise SqlPolicyError(
                f"is nested more than {MAX_NESTING} levels deep (line {token.line}, column {token.col}); "
                f"at most {MAX_NESTING} levels are allowed"
            )


def _check_query(sql: str, readable: Collection[str] | None) -> frozenset[str]:
    # imported here: a code location loads this module but parses SQL only when a query runs (see the top)
    from sqlglot import exp
    from sqlglot.dialects.dialect import Dialect
    from sqlglot.errors import ParseError, TokenError

    dialect = Dialect.get_or_raise(DIALECT)
    try:
        tokens = dialect.tokenize(sql)
        check_nesting(tokens)
        statements = [s for s in dialect.parser().parse(tokens, sql) if s is not None]
    except (ParseError, TokenError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SqlPolicyError(f"cannot parse as DuckDB SQL ({first[:200]})") from None
    if not statements:
        raise SqlPolicyError(f"must be {READ_ONLY}, got none")
    refused = next((s for s in statements if not isinstance(s, exp.Query)), None)
    if len(statements) > 1:
        shown = refused or statements[1]
        raise SqlPolicyError(
            f"must be {READ_ONLY}, got {len(statements)} statements "
            f"(statement {statements.index(shown) + 1}: {_snippet(shown)})"
        )
    (statement,) = statements
    if refused is not None:
        raise SqlPolicyError(f"must be {READ_ONLY}, not {_kind(statement)} ({_snippet(statement)})")
    read: set[str] = set()
    for node in statement.walk():
        if isinstance(node, _nodes().statements):
            raise SqlPolicyError(f"must be {READ_ONLY}; {_kind(node)} is not allowed ({_snippet(node)})")
        if isinstance(node, exp.Func) and _is_system_function(_function_name(node)):
            raise SqlPolicyError(f"function '{_function_name(node)}' is not allowed (no file or system access)")
        if isinstance(node, exp.Table):
            table = _table_read(node, readable)
            if table is not None:
                read.add(table)
    return frozenset(read)


def check_card_query(sql: str, readable: Collection[str] | None) -> frozenset[str]:
    """`check_query` for card SQL, on the text as written AND as DuckDB runs it (`bind_parameters`): the rewrite
    of `:start` into `$start` must not change what is read (`:start$ … $start$` would open a dollar-quoted
    string in DuckDB and hide nothing from sqlglot, or the reverse)."""
    read = check_query(sql, readable)
    bound, _ = bind_parameters(sql)
    return read | check_query(bound, readable) if bound != sql else read


def bind_parameters(sql: str) -> tuple[str, list[str]]:
    """`:start`/`:end` → DuckDB's `$start`/`$end`, outside string literals, quoted names and comments.

    Values are only ever passed as bound parameters; `::` casts and other `:` uses are left alone.
    Returns the rewritten SQL and the parameter names it uses.
    """
    out: list[str] = []
    used: list[str] = []
    i, n = 0, len(sql)
    while i < n:
        char = sql[i]
        if char in "'\"":
            end = _closing_quote(sql, i)
            out.append(sql[i:end])
            i = end
        elif sql.startswith("--", i):
            end = sql.find("\n", i)
            end = n if end < 0 else end
            out.append(sql[i:end])
            i = end
        elif sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            end = n if end < 0 else end + 2
            out.append(sql[i:end])
            i = end
        elif sql.startswith("::", i):
            out.append("::")
            i += 2
        elif char == ":" and (match := _BIND_NAME.match(sql, i + 1)) and match.group() in BIND_NAMES:
            out.append(f"${match.group()}")
            if match.group() not in used:
                used.append(match.group())
            i = match.end()
        else:
            out.append(char)
            i += 1
    return "".join(out), used


def _closing_quote(sql: str, start: int) -> int:
    """Index just past the literal opened at `start`; a doubled quote inside is an escaped quote."""
    quote, i = sql[start], start + 1
    while i < len(sql):
        if sql[i] == quote:
            if sql.startswith(quote * 2, i):
                i += 2
                continue
            return i + 1
        i += 1
    return len(sql)


def _table_read(table: exp.Table, readable: Collection[str] | None) -> str | None:
    """The table a FROM/JOIN item reads (None for a CTE or a row generator); raises if it may not be read."""
    from sqlglot import exp  # imported here: see the top

    source = table.this
    if not isinstance(source, exp.Identifier):
        name = _function_name(source) if isinstance(source, exp.Func) else type(source).__name__.lower()
        if isinstance(source, _nodes().row_generators) or name in _ROW_GENERATOR_NAMES:
            return None
        raise SqlPolicyError(f"table function '{name}' is not allowed")
    qualified = ".".join(part for part in (table.catalog, table.db, table.name) if part)
    if table.catalog:
        raise SqlPolicyError(f"table '{qualified}': names qualified with a database are not allowed")
    if table.db and table.db.lower() != "main":
        raise SqlPolicyError(f"table '{qualified}' is outside schema 'main'")
    if not table.db and _is_cte(table):
        return None
    name = table.name.lower()
    if not _IDENTIFIER.match(name):
        raise SqlPolicyError(f"table '{table.name}' is not a table name (file paths are not allowed)")
    if is_system_table(name):
        raise SqlPolicyError(f"table '{table.name}' is a DuckDB system view (no catalog or settings access)")
    if readable is not None and name not in readable:
        raise SqlPolicyError(
            f"table '{table.name}' is not readable by this project "
            "(only its datasets' and agent output tables, and dbt models and seeds)"
        )
    return name


def _is_cte(table: exp.Table) -> bool:
    """Whether an unqualified name refers to a CTE in scope: one of the WITH of an enclosing query, defined
    before the CTE the reference sits in (or that CTE itself, under WITH RECURSIVE). Anything else is a table."""
    from sqlglot import exp  # imported here: see the top

    name = table.name.lower()
    ancestors = list(_ancestors(table))
    inside = {id(node) for node in ancestors}
    for node in ancestors:
        with_ = node.args.get("with_") if isinstance(node, exp.Query) else None
        if not isinstance(with_, exp.With):
            continue
        ctes = list(with_.expressions)
        position = next((i for i, cte in enumerate(ctes) if id(cte) in inside), None)
        if position is not None:
            ctes = ctes[: position + 1] if with_.args.get("recursive") else ctes[:position]
        if any(cte.alias_or_name.lower() == name for cte in ctes):
            return True
    return False


def _ancestors(node: exp.Expr) -> list[exp.Expr]:
    found = []
    parent = node.parent
    while parent is not None:
        found.append(parent)
        parent = parent.parent
    return found


def _function_name(node: exp.Expr) -> str:
    from sqlglot import exp  # imported here: see the top

    if isinstance(node, exp.Anonymous):
        return str(node.name).lower()
    if isinstance(node, exp.Func):
        return node.sql_name().lower()
    return type(node).__name__.lower()


def is_system_table(name: str) -> bool:
    """Whether DuckDB resolves this unqualified name to one of its catalog views (`duckdb_tables`, `sqlite_master`,
    `pg_settings`, `pragma_database_list`, …) when no table of that name exists: such a name is never readable, and
    never a project's table (its SQL would read the view, listing every project's tables, until the table exists)."""
    name = name.lower()
    return name.startswith("duckdb_") or name in _catalog_views()


@cache
def _catalog_views() -> frozenset[str]:
    """The catalog views of the installed DuckDB that an unqualified name reaches (not `information_schema`'s)."""
    import duckdb  # imported here: only a check of a table name needs DuckDB, not a process that loads this module

    with duckdb.connect(":memory:") as connection:
        rows = connection.execute(
            "select view_name from duckdb_views() where internal and schema_name <> 'information_schema'"
        ).fetchall()
    return frozenset(str(row[0]).lower() for row in rows)


def _is_system_function(name: str) -> bool:
    return name in _SYSTEM_FUNCTIONS or name.startswith(_SYSTEM_PREFIXES) or name.endswith("_scan")


def _kind(node: exp.Expr) -> str:
    return node.key.upper()


def _snippet(node: exp.Expr) -> str:
    text = " ".join(node.sql(dialect=DIALECT).split())
    return repr(text if len(text) <= _SNIPPET else text[: _SNIPPET - 1] + "…")
