"""Tab completion of MLflow filter text: what may come at the cursor, given what is before it.

    par|                     -> params.  (and the bare attributes: run_name, status, ...)
    params.l|                -> params.lr   params.layers
    tags.mlflow.r|           -> tags.`mlflow.runName`   (a key MLflow needs quoted is backquoted)
    params.lr |              -> = != < <= > >= LIKE ILIKE IS NULL IS NOT NULL
    params.opt = a|          -> 'adam'   'adamw'   (the values runs hold, quoted as MLflow reads them)
    params.lr > |            -> 0.001   0.01       (numbers only: the numeric extension)
    ... = 'adam' |           -> AND   OR

Keys and values come from a `Vocabulary` (gathered once, off the UI thread); nothing here
reads a store. A key is written bare when it is a plain identifier, else in backquotes (in
double quotes, `"` doubled, if it holds a backquote); a value in single quotes, in double quotes
when it holds a single quote (MLflow strips either and unescapes neither), with `'` doubled when
it holds both (tuitrack reads that; MLflow would not).
"""

from __future__ import annotations

import bisect
import os
import re
from collections.abc import Callable
from dataclasses import dataclass

from tuitrack.query.filter_vocabulary import Vocabulary
from tuitrack.query.mlflow_filter import (
    DATASET_KEYS,
    ENTITIES,
    NUMERIC_ATTRIBUTES,
    STRING_ATTRIBUTES,
    FilterError,
    Token,
    identifier,
    param_number,
    tokenize,
)

CANDIDATE_LIMIT = 200  # candidates listed at most (the count says how many more match)
ENTITY_PREFIXES = ["params.", "metrics.", "tags.", "attributes.", "dataset."]
ATTRIBUTES = sorted(NUMERIC_ATTRIBUTES | STRING_ATTRIBUTES)
_STRING_OPS = ["=", "!=", "LIKE", "ILIKE"]
_NUMBER_OPS = ["=", "!=", "<", "<=", ">", ">="]
_NULL_OPS = ["IS NULL", "IS NOT NULL"]
OPERATORS = {
    "metric": _NUMBER_OPS + _NULL_OPS,
    "param": _STRING_OPS + _NUMBER_OPS[2:] + _NULL_OPS,  # < <= > >= take a number (the extension)
    "tag": _STRING_OPS + _NULL_OPS,
    "attribute": _STRING_OPS + ["IN", "NOT IN"],
    "dataset": _STRING_OPS + ["IN", "NOT IN"],
}
_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ENTITY_WORD = re.compile(r"([A-Za-z]+)\.(.*)\Z", re.DOTALL)


@dataclass(frozen=True)
class Completion:
    """Candidates for the text between `start` and the cursor (`end`). `common` is what a tab
    puts there: the one candidate (with a space after it), or the longest prefix all candidates
    share when it is longer than what is typed; None when a tab can only list them."""

    start: int
    end: int
    candidates: list[str]  # each as it would be written, at most CANDIDATE_LIMIT
    total: int  # how many match
    common: str | None

    def applied(self, text: str) -> tuple[str, int]:
        """`text` with `common` in place, and where the cursor goes."""
        insert = self.common or text[self.start:self.end]
        rest = text[self.end:]
        if insert.endswith(" ") and rest.startswith(" "):
            insert = insert[:-1]
        return text[:self.start] + insert + rest, self.start + len(insert)


def key_text(key: str, complete: bool = True) -> str:
    """A key as MLflow's filter reads it (`complete=False`: an unclosed quote, more to come)."""
    if _PLAIN_KEY.fullmatch(key):
        return key
    if "`" not in key:
        return "`" + key + ("`" if complete else "")
    return '"' + key.replace('"', '""') + ('"' if complete else "")


def value_text(value: str, complete: bool = True) -> str:
    """A string literal for `value` (`complete=False`: an unclosed quote, more to come)."""
    if "'" not in value:
        return "'" + value + ("'" if complete else "")
    if '"' not in value:
        return '"' + value + ('"' if complete else "")
    return "'" + value.replace("'", "''") + ("'" if complete else "")


def _unquoted(fragment: str) -> str:
    """What a quoted fragment (closed or not) says: `'it''s` -> it's, `` `my k `` -> my k."""
    if not fragment or fragment[0] not in "'\"`":
        return fragment
    quote, inner = fragment[0], fragment[1:]
    if quote == "`":
        return inner.removesuffix("`")
    closing = len(inner) - len(inner.rstrip(quote))  # '' inside is one quote: an odd run closes
    return (inner[:-1] if closing % 2 else inner).replace(quote * 2, quote)


def _split(before: str) -> tuple[list[Token], int] | None:
    """The tokens before the fragment being typed, and where the fragment starts."""
    try:
        tokens = tokenize(before)
    except FilterError as exc:  # an unclosed quote: it is the fragment
        if before[exc.position] not in "'\"`":
            return None
        tokens, start = tokenize(before[:exc.position]), exc.position
    else:
        if not tokens or before[-1].isspace() or tokens[-1].kind in ("(", ")", ","):
            return tokens, len(before)
        tokens, start = tokens[:-1], tokens[-1].position
    if tokens and tokens[-1].kind == "word" and tokens[-1].text.endswith(".") \
            and tokens[-1].position + len(tokens[-1].text) == start:  # params.`my key
        tokens, start = tokens[:-1], tokens[-1].position
    return tokens, start


@dataclass
class _Context:
    state: str = "key"  # key, op, value, list_open, list_value, list_sep, after
    entity: str = ""
    key: str = ""
    op: str = ""
    op_words: tuple[str, ...] = ()


def _context(tokens: list[Token]) -> _Context | None:
    """Where the tokens leave the filter's grammar; None where it cannot go on (plain words)."""
    at = _Context()
    index = 0
    while index < len(tokens):
        token = tokens[index]
        word = token.text.upper() if token.kind == "word" else ""
        if at.state == "key":
            if token.kind != "(" and word != "NOT":
                quoted = None
                if token.kind == "word" and token.text.endswith(".") and index + 1 < len(tokens) \
                        and tokens[index + 1].kind == "quoted":
                    index += 1
                    quoted = tokens[index]
                try:
                    at = _Context("op", *identifier(token, quoted))
                except FilterError:
                    return None
        elif at.state == "op":
            if token.kind == "op" or (word in ("LIKE", "ILIKE") and not at.op_words):
                at.state, at.op = "value", token.text if token.kind == "op" else word
            elif word == "IN" and at.op_words in ((), ("NOT",)):
                at.state = "list_open"
            elif word in ("IS", "NOT", "NULL") and (at.op_words + (word,)) in (
                    ("IS",), ("NOT",), ("IS", "NOT"), ("IS", "NULL"), ("IS", "NOT", "NULL")):
                at.op_words += (word,)
                if word == "NULL":
                    at.state = "after"
            else:
                return None
        elif at.state == "value":
            if token.kind not in ("string", "quoted", "number"):
                return None
            at.state = "after"
        elif at.state in ("list_open", "list_value", "list_sep"):
            expected = {"list_open": {"(": "list_value"},
                        "list_value": {"string": "list_sep", "quoted": "list_sep", ")": "after"},
                        "list_sep": {",": "list_value", ")": "after"}}[at.state]
            if token.kind not in expected:
                return None
            at.state = expected[token.kind]
        elif word in ("AND", "OR"):
            at.state = "key"
        elif token.kind != ")":
            return None
        index += 1
    return at


def _keys_of(entity: str, vocabulary: Vocabulary) -> list[str]:
    if entity == "attribute":
        return ATTRIBUTES
    if entity == "dataset":
        return sorted(DATASET_KEYS)
    return vocabulary.keys_of(entity)


def _operators(at: _Context) -> list[str]:
    if at.op_words == ("IS",):
        return ["NULL", "NOT NULL"]
    if at.op_words == ("IS", "NOT"):
        return ["NULL"]
    if at.op_words == ("NOT",):
        return ["IN"]
    if at.entity == "attribute" and at.key in NUMERIC_ATTRIBUTES:
        return _NUMBER_OPS
    return OPERATORS[at.entity]


def _as_is(item: str, complete: bool = True) -> str:
    """Keywords, operators and numbers are written as they are."""
    return item


def _values(at: _Context, vocabulary: Vocabulary) -> tuple[list[str], Callable[[str, bool], str]]:
    """The values that may follow the operator, and how each is written."""
    if at.entity == "metric" or (at.entity == "attribute" and at.key in NUMERIC_ATTRIBUTES):
        return [], value_text
    values = vocabulary.values_of(at.entity, at.key)
    if at.entity == "param" and at.op in ("<", "<=", ">", ">="):  # a number, unquoted
        return [v for v in values if param_number(v) is not None], _as_is
    return values, value_text


def _sorted_matches(items: list[str], typed: str) -> tuple[list[str], int, str]:
    """Matches of `typed` in sorted `items` (at most CANDIDATE_LIMIT), their count, and the
    longest prefix they all share."""
    first = bisect.bisect_left(items, typed)
    last = bisect.bisect_left(items, typed + "\U0010ffff", lo=first)
    if first == last:
        return [], 0, typed
    return items[first:min(last, first + CANDIDATE_LIMIT)], last - first, \
        os.path.commonprefix([items[first], items[last - 1]])


def _word_matches(items: list[str], typed: str) -> tuple[list[str], int, str]:
    """Matches of `typed` in a short list of keywords, ignoring case."""
    found = [item for item in items if item.upper().startswith(typed.upper())]
    return found, len(found), os.path.commonprefix(found) if found else typed


def complete(text: str, cursor: int, vocabulary: Vocabulary) -> Completion | None:
    """What may be written at `cursor` in `text`; None where nothing is known (plain words,
    text that does not parse before the cursor, or no candidate)."""
    before = text[:cursor]
    split = _split(before)
    if split is None:
        return None
    tokens, start = split
    at = _context(tokens)
    if at is None:
        return None
    fragment = before[start:]
    head, render = "", _as_is
    if at.state == "key":
        entity_word = _ENTITY_WORD.match(fragment)
        entity = ENTITIES.get(entity_word.group(1).lower()) if entity_word else None
        if entity is not None:
            head, typed = entity_word.group(1) + ".", _unquoted(entity_word.group(2))
            found, total, common = _sorted_matches(_keys_of(entity, vocabulary), typed)
            render = key_text
        else:
            typed = fragment
            found, total, common = _word_matches(ENTITY_PREFIXES + ATTRIBUTES, fragment)
    elif at.state == "op":
        typed = fragment
        found, total, common = _word_matches(_operators(at), fragment)
    elif at.state in ("value", "list_value"):
        values, render = _values(at, vocabulary)
        typed = _unquoted(fragment)
        found, total, common = _sorted_matches(values, typed)
    elif at.state == "after":
        typed = fragment
        found, total, common = _word_matches(["AND", "OR"], fragment)
    else:
        return None
    if not total:
        return None
    if total == 1:
        only = render(found[0], True)
        best = head + only + ("" if only.endswith(".") else " ")
    elif len(common) > len(typed):
        best = head + render(common, False)
    else:
        best = None
    return Completion(start, cursor, [head + render(item, True) for item in found], total, best)
