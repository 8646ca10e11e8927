"""Safe expressions: ``where`` clauses, formula ``expr`` and alert ``when``.

Each is parsed with sqlglot and accepted only when every node of its tree is
on a short allow-list: comparisons, AND/OR/NOT, IN, BETWEEN, LIKE, IS [NOT]
NULL, arithmetic, literals, known names and a handful of harmless scalar
functions. A sub-query, a second statement, a comment or an unknown function
is refused here, so it never reaches a database. What reaches a database is
sqlglot's rendering of the checked tree, never the user's text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError
from sqlglot.tokens import Tokenizer

from .problems import did_you_mean

_PREDICATES = (
    exp.EQ,
    exp.NEQ,
    exp.GT,
    exp.GTE,
    exp.LT,
    exp.LTE,
    exp.In,
    exp.Between,
    exp.Like,
    exp.ILike,
    exp.Is,
    exp.And,
    exp.Or,
    exp.Not,
    exp.Boolean,
    exp.NullSafeEQ,
    exp.NullSafeNEQ,
)
_ARITHMETIC = (exp.Add, exp.Sub, exp.Mul, exp.Div, exp.Mod, exp.Neg, exp.Paren)
_LEAVES = (exp.Column, exp.Identifier, exp.Literal, exp.Null, exp.Boolean)
# Scalar functions that read nothing but their arguments.
_FUNCTIONS: dict[type[exp.Expression], str] = {
    exp.Lower: "lower",
    exp.Upper: "upper",
    exp.Length: "length",
    exp.Coalesce: "coalesce",
    exp.Abs: "abs",
    exp.Trim: "trim",
    exp.Round: "round",
}
_FORMULA_FUNCTIONS: dict[type[exp.Expression], str] = {exp.Abs: "abs", exp.Round: "round"}
_NODE_WORDS = {
    exp.Select: "a sub-query",
    exp.Subquery: "a sub-query",
    exp.Exists: "a sub-query",
    exp.Union: "a sub-query",
    exp.Star: "'*'",
    exp.Placeholder: "a placeholder",
    exp.Parameter: "a parameter",
    exp.Cast: "a cast",
}


class ExpressionError(ValueError):
    """The expression is not allowed; the message says why."""


@dataclass(frozen=True)
class CheckedExpression:
    text: str
    tree: exp.Expression
    names: tuple[str, ...]


def _tokens_have_comments(text: str) -> bool:
    try:
        tokens = Tokenizer().tokenize(text)
    except (TokenError, ParseError, ValueError) as e:
        raise ExpressionError(f"does not parse: {e}") from None
    return any(t.comments for t in tokens)


def _parse(text: str) -> exp.Expression:
    if not isinstance(text, str) or not text.strip():
        raise ExpressionError("is empty")
    if _tokens_have_comments(text):
        raise ExpressionError("comments are not allowed")
    try:
        statements = [s for s in sqlglot.parse(text, read="duckdb") if s is not None]
    except (ParseError, TokenError) as e:
        first = re.sub(r"\s*for <class '[^']+'>", "", str(e).splitlines()[0])
        raise ExpressionError(f"does not parse: {first}") from None
    if len(statements) != 1:
        raise ExpressionError("only one expression is allowed (found a second statement)")
    return statements[0]


def _name_of(node: exp.Expression) -> str:
    if isinstance(node, exp.Anonymous):
        return str(node.name).lower()
    if isinstance(node, exp.Func):
        return (node.sql_name() or type(node).__name__).lower()
    return type(node).__name__.lower()


def _walk_allowed(
    tree: exp.Expression, functions: dict[type[exp.Expression], str], *, allow_predicates: bool
) -> list[str]:
    names: list[str] = []
    for node in tree.walk():
        if isinstance(node, exp.Column):
            if node.table:
                raise ExpressionError(f"'{node.sql()}': qualified names are not allowed")
            names.append(node.name)
            continue
        if isinstance(node, exp.Identifier):
            continue
        if isinstance(node, _LEAVES) or isinstance(node, _ARITHMETIC):
            continue
        if isinstance(node, exp.Tuple) and isinstance(node.parent, exp.In):
            continue
        if _is_typed_literal(node):  # DATE '2026-01-01', TIMESTAMP '2026-01-01 08:00'
            continue
        if isinstance(node, exp.DataType) and _is_typed_literal(node.parent):
            continue
        if allow_predicates and isinstance(node, _PREDICATES):
            if isinstance(node, exp.In) and node.args.get("query") is not None:
                raise ExpressionError("a sub-query is not allowed")
            continue
        if type(node) in functions:
            continue
        for kind, word in _NODE_WORDS.items():
            if isinstance(node, kind):
                raise ExpressionError(f"{word} is not allowed")
        if isinstance(node, exp.Func):
            allowed = ", ".join(sorted(functions.values())) or "none"
            raise ExpressionError(f"unknown function '{_name_of(node)}' (allowed: {allowed})")
        raise ExpressionError(f"'{node.sql()}' is not allowed here")
    return names


def _is_typed_literal(node: exp.Expression | None) -> bool:
    return (
        isinstance(node, exp.Cast)
        and isinstance(node.this, exp.Literal)
        and node.this.is_string
        and node.to.is_type("date", "timestamp", "timestamptz", "timestampntz", "datetime")
    )


def _is_boolean(tree: exp.Expression) -> bool:
    while isinstance(tree, exp.Paren):
        tree = tree.this
    return isinstance(tree, _PREDICATES)


def check_where(text: str, columns: Iterable[str] | None = None) -> CheckedExpression:
    """Check a ``where`` clause; ``columns`` (when known) are the source's columns."""
    tree = _parse(text)
    names = _walk_allowed(tree, _FUNCTIONS, allow_predicates=True)
    if not _is_boolean(tree):
        raise ExpressionError(f"'{text}' is not a condition (write e.g. channel = '网办')")
    if columns is not None:
        check_names(names, columns, "column")
    return CheckedExpression(text, tree, tuple(dict.fromkeys(names)))


def check_formula(text: str, inputs: Iterable[str]) -> CheckedExpression:
    """Check a formula ``expr``: arithmetic over the names of its inputs."""
    tree = _parse(text)
    names = _walk_allowed(tree, _FORMULA_FUNCTIONS, allow_predicates=False)
    check_names(names, inputs, "input")
    if not names:
        raise ExpressionError("uses none of its inputs")
    return CheckedExpression(text, tree, tuple(dict.fromkeys(names)))


ALERT_FIELDS = ("value", "target", "status", "yoy", "mom", "rank", "anomaly", "stale")


def check_when(text: str) -> CheckedExpression:
    """Check an alert ``when`` over the fields of contract section 7."""
    tree = _parse(text)
    names = _walk_allowed(tree, _FUNCTIONS, allow_predicates=True)
    check_names(names, ALERT_FIELDS, "field")
    if not (_is_boolean(tree) or (isinstance(tree, exp.Column) and tree.name in ("anomaly", "stale"))):
        raise ExpressionError(f"'{text}' is not a condition (write e.g. status = 'red')")
    return CheckedExpression(text, tree, tuple(dict.fromkeys(names)))


def check_names(names: Iterable[str], known: Iterable[str], word: str) -> None:
    known_list = list(known)
    lowered = {k.lower() for k in known_list}
    for n in names:
        if n not in known_list and n.lower() not in lowered:
            raise ExpressionError(f"unknown {word} '{n}'{did_you_mean(n, known_list)}")


def render(tree: exp.Expression, dialect: str, column_names: dict[str, str] | None = None) -> str:
    """Render a checked tree in ``dialect``, with columns quoted and spelled as in the source."""
    lookup = {k.lower(): v for k, v in (column_names or {}).items()}

    def fix(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Column):
            real = lookup.get(node.name.lower(), node.name)
            return exp.column(real, quoted=True)
        return node

    return tree.copy().transform(fix).sql(dialect=dialect)
