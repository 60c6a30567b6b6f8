"""Reading `meta.yaml` files fast, and exactly as YAML would.

MLflow writes run and experiment meta as flat `key: scalar` lines with sorted keys (PyYAML block
style). Parsing 10,000 of those with PyYAML's pure-Python loader takes seconds; this module reads
that exact shape with a few string operations and hands anything unusual (multi-line values, double
quotes, flow collections, scalars YAML 1.1 would re-type) to PyYAML's C loader, or its pure loader
where libyaml is missing. The fast path either returns exactly what `yaml.safe_load` would, or
declines.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

try:
    _Loader: type = yaml.CSafeLoader
except AttributeError:  # PyYAML built without libyaml
    _Loader = yaml.SafeLoader

_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_INT = re.compile(r"-?(?:0|[1-9][0-9]*)")
# Characters that cannot start a plain (unquoted) scalar, or change its meaning there.
_INDICATORS = frozenset("-?:,[]{}#&*!|>'\"%@`~. \t")
# PyYAML's own implicit resolver decides what a plain scalar is (str, int, bool, float, null,
# timestamp...): the fast path keeps only strings and plain decimal ints, so it agrees by construction.
_RESOLVER = yaml.resolver.Resolver()
_STR = "tag:yaml.org,2002:str"
# PyYAML's implicit resolvers by the first character they apply to ("1", "t", "~"...; None: any):
# a plain scalar starting with a character none is registered for is a str, as resolve would say.
_RESOLVERS_BY_FIRST = _RESOLVER.yaml_implicit_resolvers
_DECLINE = object()


class MetaYamlError(ValueError):
    """A meta.yaml that is not a YAML mapping."""


MAX_DEPTH = 16  # MLflow's meta.yaml nests one level (an experiment's tags); this is generous
_OPENING = (yaml.BlockMappingStartToken, yaml.BlockSequenceStartToken,
            yaml.FlowMappingStartToken, yaml.FlowSequenceStartToken)
_CLOSING = (yaml.BlockEndToken, yaml.FlowMappingEndToken, yaml.FlowSequenceEndToken)


def _refuse_what_mlflow_never_writes(text: str) -> None:
    """Anchors and aliases (a 600-byte file of nested aliases expands to gigabytes: "billion
    laughs") and deep nesting, found by YAML's own scanner before anything is composed, so such a
    file costs one pass over its bytes. MLflow writes neither."""
    depth = 0
    for token in yaml.scan(text, Loader=_Loader):
        if isinstance(token, (yaml.AnchorToken, yaml.AliasToken)):
            what = "an anchor" if isinstance(token, yaml.AnchorToken) else "an alias"
            mark = token.start_mark
            raise MetaYamlError(f"{what} at line {mark.line + 1}, column {mark.column + 1}; "
                                "MLflow never writes anchors or aliases, so tuitrack does not expand them")
        if isinstance(token, _OPENING):
            depth += 1
            if depth > MAX_DEPTH:
                raise RecursionError
        elif isinstance(token, _CLOSING):
            depth -= 1


def _scalar(raw: str) -> Any:
    if raw == "null":
        return None
    if raw == "[]":
        return []
    if raw == "{}":
        return {}
    first = raw[0]
    if first == "'":
        if len(raw) < 2 or raw[-1] != "'":
            return _DECLINE
        inner = raw[1:-1]
        if "'" in inner.replace("''", ""):
            return _DECLINE
        return inner.replace("''", "'")
    if _INT.fullmatch(raw):  # YAML 1.1 reads a plain decimal integer as an int, always
        return int(raw)
    if first in _INDICATORS or " #" in raw or ": " in raw or raw[-1] in ": \t" or "\t" in raw:
        return _DECLINE
    if first not in _RESOLVERS_BY_FIRST and None not in _RESOLVERS_BY_FIRST:
        return raw
    kind = _plain_kinds.get(raw)
    if kind is None:
        tag = _RESOLVER.resolve(yaml.ScalarNode, raw, (True, False))
        kind = "str" if tag == _STR else "no"
        if len(_plain_kinds) < MAX_REMEMBERED and len(raw) <= MAX_KNOWN_CHARS:  # the same few values repeat
            _plain_kinds[raw] = kind
    return raw if kind == "str" else _DECLINE


_plain_kinds: dict[str, str] = {}
# Lines seen before, as (key, value), for values that cannot be changed (str, int, None): most
# lines of a run's meta.yaml are the same in every run (`status: 3`, `lifecycle_stage: active`,
# `source_name: ''`...), and a listing parses 50,000 of them (14 -> 9 us a file).
_known_lines: dict[str, tuple[str, Any]] = {}
MAX_REMEMBERED = 4096  # lines, and plain values' kinds, remembered at most
MAX_KNOWN_CHARS = 256  # a longer line or value is not remembered (a hostile store's megabyte-long names)


def parse_flat(text: str) -> dict[str, Any] | None:
    """The mapping in `text` if it is MLflow's flat shape, else None (meaning: ask PyYAML)."""
    out: dict[str, Any] = {}
    known = _known_lines
    for line in text.split("\n"):
        if not line:
            continue
        pair = known.get(line)
        if pair is not None:
            key, value = pair
            if key in out:
                return None
            out[key] = value
            continue
        key, sep, raw = line.partition(": ")
        if not sep or not raw or not _KEY.fullmatch(key) or key in out:
            return None
        value = _scalar(raw)
        if value is _DECLINE:
            return None
        out[key] = value
        if (value is None or type(value) is str or type(value) is int) and len(line) <= MAX_KNOWN_CHARS \
                and len(known) < MAX_REMEMBERED:
            known[line] = (key, value)
    return out


def load_meta(data: bytes) -> dict[str, Any] | None:
    """Parse a meta.yaml's bytes. None for an empty file; MetaYamlError for anything else bad."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MetaYamlError(f"not UTF-8 text (byte {exc.start})") from None
    if not text.strip():
        return None
    fast = parse_flat(text)
    if fast is not None:
        return fast
    try:
        _refuse_what_mlflow_never_writes(text)
        loaded = yaml.load(text, Loader=_Loader)
    except RecursionError:
        raise MetaYamlError(f"nested more than {MAX_DEPTH} levels deep; MLflow writes flat fields") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise MetaYamlError(f"invalid YAML{where}: {problem}") from None
    if loaded is None:
        return None
    if not isinstance(loaded, dict):
        raise MetaYamlError(f"expected a mapping of fields, found {type(loaded).__name__}")
    return loaded
