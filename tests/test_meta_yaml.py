"""The meta.yaml fast path returns exactly what PyYAML returns, or declines."""

from __future__ import annotations

import random
import string

import pytest
import yaml

from tuitrack.store.mlflow_file.meta_yaml import MetaYamlError, load_meta, parse_flat

MLFLOW_RUN_META = b"""artifact_uri: file:///data/mlruns/367061891809078927/7122d0ef051b46a9a7c0eae454fd2669/artifacts
end_time: null
entry_point_name: ''
experiment_id: '367061891809078927'
lifecycle_stage: active
run_id: 7122d0ef051b46a9a7c0eae454fd2669
run_name: still-running
source_name: ''
source_type: 4
source_version: ''
start_time: 1795460442677
status: 1
tags: []
user_id: alice
"""


def test_mlflow_run_meta_takes_the_fast_path():
    text = MLFLOW_RUN_META.decode()
    assert parse_flat(text) is not None
    assert parse_flat(text) == yaml.safe_load(text)


TRICKY = [
    "yes", "No", "on", "OFF", "true", "null", "~", "1e3", "0123", "12:30", "0x1F", "+5", "-7",
    "1_000", ".5", ".inf", "2024-01-01", "a: b", "a #b", "it's", "'quoted'", '"dq"', "trailing ",
    " leading", "tab\tin", "multi\nline", "é-unicode ✓", "x" * 120 + " y" * 30, "-", "- item", "[a]",
    "{a: 1}", "&anchor", "*alias", "!tag", "%pct", "@at", "`bt", "|", ">", "?", "=", "<<", "",
    "a:b", "/abs/path", "file:///x/y", "lr=0.01", "0", "-0", "00", "1.0", "100000000000000000000",
]


def random_value(rng: random.Random):
    kind = rng.random()
    if kind < 0.35:
        return rng.choice(TRICKY)
    if kind < 0.5:
        return rng.randint(-(10**15), 10**15)
    if kind < 0.55:
        return None
    alphabet = string.ascii_letters + string.digits + " -_./:'\"#@!&*é✓\t"
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30)))


@pytest.mark.parametrize("seed", range(40))
def test_fast_path_agrees_with_pyyaml(seed):
    rng = random.Random(seed)
    for _ in range(50):
        data = {f"k{i}_{rng.choice('abc')}": random_value(rng) for i in range(rng.randint(1, 8))}
        text = yaml.dump(data, sort_keys=True, default_flow_style=False, allow_unicode=True)
        fast = parse_flat(text)
        if fast is not None:
            assert fast == yaml.safe_load(text), text
        assert load_meta(text.encode()) == yaml.safe_load(text)


def test_lines_seen_before_read_the_same_and_share_nothing_mutable():
    """Lines are remembered (most of a run's meta.yaml is the same in every run): a second file with
    them reads as PyYAML reads it, a repeated key still declines, and `tags: []` is a new list each time."""
    text = MLFLOW_RUN_META.decode()
    first, second = parse_flat(text), parse_flat(text)
    assert first == second == yaml.safe_load(text)
    first["tags"].append("changed")
    assert parse_flat(text)["tags"] == [] and second["tags"] == []
    assert parse_flat(text + "status: 1\n") is None  # a key twice: not the flat shape
    assert parse_flat(text.replace("status: 1", "status: 1 #x")) is None
    rng = random.Random(7)
    texts = [yaml.dump({f"k{i}": random_value(rng) for i in range(rng.randint(1, 6))}, sort_keys=True,
                       default_flow_style=False, allow_unicode=True) for _ in range(400)]
    for _ in range(2):  # the second pass is served by what the first remembered
        for text in texts:
            fast = parse_flat(text)
            assert fast is None or fast == yaml.safe_load(text), text


def test_long_lines_are_not_remembered():
    """A store's megabyte-long run names would be kept twice (the line and the value): they are
    read, not remembered."""
    from tuitrack.store.mlflow_file import meta_yaml

    name = "n" * 100_000
    assert parse_flat(f"run_name: {name}\n") == {"run_name": name}
    assert all(len(line) <= meta_yaml.MAX_KNOWN_CHARS for line in meta_yaml._known_lines)
    assert all(len(raw) <= meta_yaml.MAX_KNOWN_CHARS for raw in meta_yaml._plain_kinds)


def test_plain_strings_are_told_from_other_scalars_as_pyyaml_tells_them():
    """A plain scalar whose first character no implicit resolver is registered for is a str
    without asking; the others are asked (yes, 1e3, 0x1F, 2024-01-01, ~, on...)."""
    for first in "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-.~<=_/$^é":
        for rest in ("", "es", "rue", "ull", "e3", "x1F", "024-01-01", "n", "ff", ".5", "<", "_1", "abc"):
            text = f"k: {first}{rest}\n"
            fast = parse_flat(text)
            assert fast is None or fast == yaml.safe_load(text), text


def test_legacy_and_odd_shapes_go_to_pyyaml():
    text = "experiment_id: 0\nname: Default\ntags:\n  team: vision\n"
    assert parse_flat(text) is None
    assert load_meta(text.encode())["tags"] == {"team": "vision"}


def test_empty_and_malformed():
    assert load_meta(b"") is None
    assert load_meta(b"  \n") is None
    with pytest.raises(MetaYamlError, match="invalid YAML at line"):
        load_meta(b"run_id: [unclosed\n")
    with pytest.raises(MetaYamlError, match="expected a mapping"):
        load_meta(b"- a\n- b\n")
    with pytest.raises(MetaYamlError, match="not UTF-8"):
        load_meta(b"\xff\xfe\x00junk")
