"""MLflow's run filter language (`search_runs(filter_string=...)`) and its ORDER BY, evaluated
on tuitrack's runs with MLflow's semantics (mlflow/utils/search_utils.py):

    metrics.loss < 0.5 AND params.optimizer = 'adam' AND tags.`my tag` LIKE 'x%'
    attributes.status IN ('FAILED', 'KILLED')   start_time > 1700000000000   `Run name` = 'x'
    dataset.name = 'mnist' AND dataset.context = 'training'

* metrics compare as numbers with = != < <= > >=; a run without the metric never matches;
* params and tags compare with quoted strings: = != LIKE ILIKE, and IS NULL / IS NOT NULL;
* string attributes (run_id, run_name, status, user_id, artifact_uri) take = != LIKE ILIKE
  IN NOT IN; numeric ones (start_time, end_time, and `created` for start_time) compare as
  numbers; `run name` is run_name; a name without an entity (`status`, `` `Run name` ``) is an
  attribute, as in MLflow;
* dataset.name, dataset.digest, dataset.context (the run's dataset inputs; `context` is their
  `mlflow.data.context` tag) take = != LIKE ILIKE IN NOT IN; a run matches when any of its
  inputs does;
* LIKE is case-sensitive, ILIKE not; % is any text and _ one character.

Beyond MLflow: OR, NOT and parentheses; IN for every string attribute; IS NULL for metrics;
attributes.lifecycle_stage; keys with / or . without quotes; params compared with an unquoted
number (`params.lr > 1e-3`, `params.epochs = 10`: see `param_number`), which MLflow refuses
(a quoted literal stays a string comparison, as in MLflow). Errors say where (a column).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass

from tuitrack.model import Run

ENTITIES = {
    "metric": "metric", "metrics": "metric",
    "param": "param", "params": "param", "parameter": "param", "parameters": "param",
    "tag": "tag", "tags": "tag",
    "attribute": "attribute", "attributes": "attribute", "attr": "attribute", "run": "attribute",
    "dataset": "dataset", "datasets": "dataset",
}
DATASET_KEYS = {"name", "digest", "context"}
NUMERIC_ATTRIBUTES = {"start_time", "end_time"}
STRING_ATTRIBUTES = {"run_id", "run_name", "status", "user_id", "artifact_uri", "lifecycle_stage"}
ALIASES = {"created": "start_time", "Created": "start_time", "run name": "run_name",
           "Run name": "run_name", "Run Name": "run_name"}
NUMERIC_OPS = {"=", "!=", "<", "<=", ">", ">="}
STRING_OPS = {"=", "!=", "LIKE", "ILIKE"}


class FilterError(ValueError):
    """A filter that cannot be read or evaluated; `position` is the 0-based column."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(f"column {position + 1}: {message}")
        self.position = position


def describe_error(exc: FilterError, text: str, width: int = 70) -> str:
    """The error, then the filter (an excerpt around the error when it is long) and a caret under
    the error's column: three lines, whatever the filter's length."""
    start = max(0, min(exc.position - width // 2, len(text) - width))
    excerpt = text[start:start + width]
    shown = ("…" if start else "") + excerpt + ("…" if start + width < len(text) else "")
    caret = exc.position - start + (1 if start else 0)
    return f"{exc}\n  {shown}\n  {' ' * caret}^"


@dataclass(frozen=True)
class Token:
    kind: str  # "word", "quoted" (a key in backticks or double quotes), "string", "number", "op", "(", ")", ","
    text: str
    position: int
    value: object = None


_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<string>'(?:[^']|'')*')
  | (?P<dquoted>"(?:[^"]|"")*")
  | (?P<backtick>`[^`]*`)
  | (?P<number>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?(?![\w./:-]))
  | (?P<op><=|>=|!=|<>|=|<|>)
  | (?P<paren>[(),])
  | (?P<word>[\w./:-]+)
""", re.VERBOSE)


def tokenize(text: str) -> list[Token]:
    tokens, position = [], 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            if text[position] in "'\"`":  # the usual slip: a value or key still being typed
                raise FilterError(f"the quote {text[position]} here is never closed", position)
            raise FilterError(f"unexpected {text[position]!r}", position)
        kind = match.lastgroup
        raw = match.group()
        if kind == "string":
            tokens.append(Token("string", raw, position, raw[1:-1].replace("''", "'")))
        elif kind == "dquoted":
            tokens.append(Token("quoted", raw, position, raw[1:-1].replace('""', '"')))
        elif kind == "backtick":
            tokens.append(Token("quoted", raw, position, raw[1:-1]))
        elif kind == "number":
            tokens.append(Token("number", raw, position, float(raw) if any(c in raw for c in ".eE") else int(raw)))
        elif kind == "op":
            tokens.append(Token("op", "!=" if raw == "<>" else raw, position))
        elif kind == "paren":
            tokens.append(Token(raw, raw, position))
        elif kind == "word":
            tokens.append(Token("word", raw, position))
        position = match.end()
    return tokens


@dataclass(frozen=True)
class Comparison:
    entity: str  # metric, param, tag, attribute
    key: str
    op: str
    value: object  # a number, a string, a tuple of strings, or None for IS [NOT] NULL
    position: int


@dataclass(frozen=True)
class Logic:
    op: str  # AND, OR, NOT
    parts: tuple


def identifier(first: Token, quoted: Token | None) -> tuple[str, str]:
    """(entity, key) of `metrics.loss` or of `metrics.` followed by a quoted key, aliases resolved.
    A name without a dot (`status`, `` `Run name` ``) is an attribute, as MLflow reads it."""
    if first.kind == "quoted" or (first.kind == "word" and "." not in first.text):
        key = str(first.value) if first.kind == "quoted" else first.text
        key = ALIASES.get(key, key)
        if key not in NUMERIC_ATTRIBUTES | STRING_ATTRIBUTES:
            raise FilterError(f"{key!r} is not an attribute ({', '.join(sorted(NUMERIC_ATTRIBUTES | STRING_ATTRIBUTES))}); "
                              f"a metric, param or tag is metrics.{key}, params.{key} or tags.{key}", first.position)
        return "attribute", key
    if first.kind != "word":
        raise FilterError(f"expected metrics.KEY, params.KEY, tags.KEY or attributes.KEY, found {first.text!r}",
                          first.position)
    if first.text.endswith(".") and quoted is not None:
        entity_word, key = first.text[:-1], str(quoted.value)
    else:
        entity_word, _, key = first.text.partition(".")
    entity = ENTITIES.get(entity_word.lower())
    if entity is None:
        raise FilterError(f"{entity_word!r} is not metrics, params, tags, attributes or dataset", first.position)
    if not key:
        raise FilterError("a key is missing after the dot", first.position)
    if entity == "attribute":
        key = ALIASES.get(key, key)
        if key not in NUMERIC_ATTRIBUTES | STRING_ATTRIBUTES:
            raise FilterError(f"{key!r} is not an attribute one can search; choose from "
                              f"{', '.join(sorted(NUMERIC_ATTRIBUTES | STRING_ATTRIBUTES))}", first.position)
    if entity == "dataset" and key not in DATASET_KEYS:
        raise FilterError(f"{key!r} is not a dataset key one can search; choose from name, digest, context",
                          first.position)
    return entity, key


MAX_DEPTH = 100  # nested parentheses and NOTs; deeper filters are refused (the parser recurses)


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.tokens = tokenize(text)
        self.index = 0
        self.depth = 0

    def peek(self) -> Token | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def word_is(self, *words: str) -> bool:
        token = self.peek()
        return token is not None and token.kind == "word" and token.text.upper() in words

    def take(self) -> Token:
        token = self.peek()
        if token is None:
            raise FilterError("the filter ends too early", len(self.text))
        self.index += 1
        return token

    def parse(self):
        if not self.tokens:
            raise FilterError("the filter is empty", 0)
        node = self.disjunction()
        if self.peek() is not None:
            token = self.peek()
            raise FilterError(f"expected AND or OR before {token.text!r}", token.position)
        return node

    def disjunction(self):
        parts = [self.conjunction()]
        while self.word_is("OR"):
            self.take()
            parts.append(self.conjunction())
        return parts[0] if len(parts) == 1 else Logic("OR", tuple(parts))

    def conjunction(self):
        parts = [self.negation()]
        while self.word_is("AND"):
            self.take()
            parts.append(self.negation())
        return parts[0] if len(parts) == 1 else Logic("AND", tuple(parts))

    def negation(self):
        token = self.peek()
        nests = token is not None and (token.kind == "(" or self.word_is("NOT"))
        if not nests:
            return self.comparison()
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise FilterError(f"nested more than {MAX_DEPTH} levels deep (parentheses and NOTs)", token.position)
        try:
            self.take()
            if token.kind != "(":
                return Logic("NOT", (self.negation(),))
            node = self.disjunction()
            closing = self.take()
            if closing.kind != ")":
                raise FilterError(f"expected ')' but found {closing.text!r}", closing.position)
            return node
        finally:
            self.depth -= 1

    def comparison(self) -> Comparison:
        start = self.take()
        quoted = None
        if start.kind == "word" and start.text.endswith("."):  # entity. followed by a quoted key
            quoted = self.take()
            if quoted.kind != "quoted":
                raise FilterError("expected a key after the dot", quoted.position)
        entity, key = identifier(start, quoted)
        op_token = self.take()
        op = self._operator(op_token)
        if op in ("IS NULL", "IS NOT NULL"):
            if entity in ("attribute", "dataset"):
                raise FilterError(f"{op} works on metrics, params and tags", op_token.position)
            return Comparison(entity, key, op, None, start.position)
        value = self._value(entity, key, op, op_token.position)
        return Comparison(entity, key, op, value, start.position)

    def _operator(self, token: Token) -> str:
        if token.kind == "op":
            return token.text
        word = token.text.upper() if token.kind == "word" else ""
        if word in ("LIKE", "ILIKE", "IN"):
            return word
        if word == "NOT" and self.word_is("IN"):
            self.take()
            return "NOT IN"
        if word == "IS":
            if self.word_is("NOT"):
                self.take()
                if self.word_is("NULL"):
                    self.take()
                    return "IS NOT NULL"
            elif self.word_is("NULL"):
                self.take()
                return "IS NULL"
        raise FilterError(f"expected a comparison (= != < <= > >= LIKE ILIKE IN NOT IN IS NULL), found {token.text!r}",
                          token.position)

    def _value(self, entity: str, key: str, op: str, op_position: int):
        token = self.take()
        numeric = entity == "metric" or (entity == "attribute" and key in NUMERIC_ATTRIBUTES)
        if op in ("IN", "NOT IN"):
            if entity not in ("attribute", "dataset") or numeric or token.kind != "(":
                raise FilterError(f"{op} takes a list of quoted strings, for string attributes and datasets",
                                  token.position)
            values = []
            while True:
                item = self.take()
                if item.kind == ")" and values:  # ('a', 'b',): a trailing comma, as MLflow takes it
                    return tuple(values)
                if item.kind not in ("string", "quoted"):  # 'a' or "a", as MLflow's list reader takes both
                    raise FilterError("expected a quoted string in the list", item.position)
                values.append(item.value)
                separator = self.take()
                if separator.kind == ")":
                    return tuple(values)
                if separator.kind != ",":
                    raise FilterError("expected ',' or ')' in the list", separator.position)
        if numeric:
            if op not in NUMERIC_OPS:
                raise FilterError(f"{op} does not apply to numbers; use = != < <= > >=", op_position)
            if token.kind != "number":
                raise FilterError(f"expected a number for {key}, found {token.text!r}", token.position)
            return token.value
        if entity == "param" and token.kind == "number":  # the numeric extension: MLflow refuses it
            if op not in NUMERIC_OPS:
                raise FilterError(f"{op} does not apply to numbers; use = != < <= > >=", op_position)
            return token.value
        if op not in STRING_OPS:
            raise FilterError(f"{op} does not apply to {entity} values; use = != LIKE ILIKE"
                              + (", or an unquoted number (params.lr > 1e-3)" if entity == "param" else ""),
                              op_position)
        if token.kind not in ("string", "quoted"):
            raise FilterError(f"expected a quoted string (like 'adam'), found {token.text!r}", token.position)
        return token.value


_LOOKS_LIKE_FILTER = re.compile(
    r"^[\s(]*(not\s+)?[\s(]*(metrics?|params?|parameters?|tags?|attributes?|attr|run|datasets?)\.", re.IGNORECASE)
# Signs of the filter language in text that does not start like one: a comparison (`loss < 1`,
# `status = 'FAILED'`; `lr=0.01` without spaces is the quick filter's key=value), a quoted
# string, a backquoted name, or LIKE / ILIKE / IS NULL / IN (...).
_FILTER_SIGNS = re.compile(
    r"""(\s(<=|>=|!=|<>|=|<|>)(\s|$)|^\S+\s*(<=|>=|!=|<>|<|>)|'|`|\s(like|ilike)\s|\sis\s+(not\s+)?null\b|\sin\s*\()""",
    re.IGNORECASE)


def looks_like_filter(text: str) -> bool:
    """True for `metrics.loss < 1`- or `status = 'FAILED'`-style text (which must then parse, or
    the user is told why); False for plain words the quick filter takes (`adam lr=0.01`)."""
    return bool(_LOOKS_LIKE_FILTER.match(text) or _FILTER_SIGNS.search(text))


def uses_datasets(node) -> bool:
    """Whether the filter reads dataset inputs, which stores read only when asked (`Run.datasets`)."""
    if isinstance(node, Logic):
        return any(uses_datasets(p) for p in node.parts)
    return node.entity == "dataset"


def parse(text: str):
    """The expression tree of a filter. Raises FilterError with a column."""
    return _Parser(text).parse()


def _like(pattern: str, flags: int = 0) -> re.Pattern[str]:
    regex = re.escape(pattern).replace("%", ".*").replace("_", ".")
    return re.compile(("" if pattern.startswith("%") else "^") + regex + ("" if pattern.endswith("%") else "$"), flags)


# A param value that is a number for `params.KEY OP NUMBER`: a decimal number as a filter writes
# one (optional sign, digits with an optional point, optional exponent), or inf / infinity (any
# case, with a sign). Nothing else is one: no spaces around it, no `nan`, `1_000` or `0x10`.
_PARAM_NUMBER = re.compile(r"[-+]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|inf|infinity)", re.IGNORECASE)


def param_number(text: str) -> float | None:
    """The number a param's value writes, or None when it is not one (then it never matches a
    numeric comparison, as a run without a metric never matches one on the metric)."""
    return float(text) if _PARAM_NUMBER.fullmatch(text) else None


def _lhs(run: Run, entity: str, key: str):
    if entity == "metric":
        point = run.metrics.get(key)
        return None if point is None else point.value
    if entity == "param":
        return run.params.get(key)
    if entity == "tag":
        return run.tags.get(key)
    if entity == "dataset":
        return [getattr(d, key) for d in run.datasets or ()]
    if key == "status":
        return run.status.name if run.status else None
    if key == "lifecycle_stage":
        return run.lifecycle_stage.value
    return getattr(run, key)


_COMPARE: dict[str, Callable[[object, object], bool]] = {
    "=": lambda a, b: a == b, "!=": lambda a, b: a != b, "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b,
    "LIKE": lambda a, b: _like(b).match(a) is not None,
    "ILIKE": lambda a, b: _like(b, re.IGNORECASE).match(a) is not None,
    "IN": lambda a, b: a in b, "NOT IN": lambda a, b: a not in b,
}


def matches(node, run: Run) -> bool:
    if isinstance(node, Logic):
        if node.op == "AND":
            return all(matches(p, run) for p in node.parts)
        if node.op == "OR":
            return any(matches(p, run) for p in node.parts)
        return not matches(node.parts[0], run)
    lhs = _lhs(run, node.entity, node.key)
    if node.entity == "dataset":  # any input that matches, as MLflow asks
        return any(value is not None and _COMPARE[node.op](value, node.value) for value in lhs)
    if node.op == "IS NULL":
        return lhs is None
    if node.op == "IS NOT NULL":
        return lhs is not None
    if lhs is None:
        return False
    if node.entity == "param" and not isinstance(node.value, str):  # params.lr > 1e-3
        lhs = param_number(lhs)
        if lhs is None:
            return False
    return _COMPARE[node.op](lhs, node.value)


# -- ORDER BY ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class OrderBy:
    entity: str
    key: str
    ascending: bool


def parse_order_by(text: str) -> OrderBy:
    """`metrics.loss DESC`, `attributes.start_time`, ``params.`lr` ASC``."""
    tokens = tokenize(text)
    if not tokens:
        raise FilterError("empty ORDER BY", 0)
    ascending = True
    if len(tokens) > 1 and tokens[-1].kind == "word" and tokens[-1].text.upper() in ("ASC", "DESC"):
        ascending = tokens[-1].text.upper() == "ASC"
        tokens = tokens[:-1]
    first = tokens[0]
    quoted = tokens[1] if len(tokens) == 2 and tokens[1].kind == "quoted" else None
    if len(tokens) > (2 if quoted is not None else 1):
        raise FilterError("expected KEY [ASC|DESC]", tokens[-1].position)
    entity, key = identifier(first, quoted)
    if entity == "dataset":
        raise FilterError("runs cannot be ordered by dataset (a run may have several)", first.position)
    return OrderBy(entity, key, ascending)


def sort_runs(runs: list[Run], order: list[OrderBy]) -> list[Run]:
    """MLflow's order: newest first (then run id), then each ORDER BY, missing and NaN last."""
    runs = sorted(runs, key=lambda r: (-(r.start_time or 0), r.run_id))
    for clause in reversed(order):
        fill = (1 if clause.ascending else -1) * math.inf

        def key(run: Run, clause: OrderBy = clause, fill: float = fill):
            value = _lhs(run, clause.entity, clause.key)
            none = value is None
            nan = isinstance(value, float) and math.isnan(value)
            if none:
                value = fill
            elif nan:
                value = -fill
            return (none or nan, value) if clause.ascending else (not (none or nan), value)

        runs = sorted(runs, key=key, reverse=not clause.ascending)
    return runs
