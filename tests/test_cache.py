"""The on-disk caches (runtime/cache.py, runtime/object_cache.py): an entry is used only when it
verifies, a bad one is removed and rebuilt, nothing from the cache directory is unpickled, and
processes sharing the directory are safe. Reproducers F05, F06 and F07 in /work/shared/repro."""

from __future__ import annotations

import glob
import hashlib
import json
import multiprocessing
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import compiler
from compiler.frontend import parser
from runtime import cache
from runtime.abi import Signature, ValueType
from runtime.object_cache import ObjectCache

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIG = "def big(x: f32[4]) -> f32[1000]:\n    return zeros((1000,)) + sum(x)\n"
BIG_SIG = Signature((ValueType("f32", (4,)),), (ValueType("f32", (1000,)),))
X = np.arange(4, dtype=np.float32)


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    d = tmp_path / "cache"
    monkeypatch.setenv("LOOM_CACHE_DIR", str(d))
    return d


def run_big() -> np.ndarray:
    """`big` through the API with the disk cache on (a fresh program: nothing kept in memory)."""
    return compiler.loads(BIG, name="c.loom", cache=True).big(X)


def entry(d) -> tuple[str, str]:
    """(key, path) of the only object entry in `d`."""
    (path,) = glob.glob(os.path.join(d, "*.entry"))
    return os.path.basename(path)[: -len(".entry")], path


def expected_big() -> np.ndarray:
    return np.full(1000, X.sum(), np.float32)


@pytest.fixture(scope="module")
def big_compiled(tmp_path_factory) -> tuple[str, bytes]:
    """`big` compiled once through the API with the cache on: (key, payload of its entry)."""
    d = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LOOM_CACHE_DIR", str(d))
        np.testing.assert_array_equal(run_big(), expected_big())
    key, path = entry(d)
    return key, cache.read_entry(path)


@pytest.fixture
def big_entry(cache_dir, big_compiled):
    """A fresh cache holding `big`'s entry: (directory, key, path, payload)."""
    key, payload = big_compiled
    path = os.path.join(cache_dir, key + ".entry")
    assert cache.unsafe(str(cache_dir)) is None and cache.write_entry(path, payload)
    assert ObjectCache(str(cache_dir)).load(key, BIG_SIG) is not None
    return cache_dir, key, path, payload


# ------------------------------------------------------------------ F06: one entry per function
def test_same_signature_functions_have_their_own_entries(cache_dir):
    src = "def f(x: f32[4]) -> f32[4]:\n    return x * 2.0\n\ndef g(x: f32[4]) -> f32[4]:\n    return x + 100.0\n"
    p = compiler.loads(src, name="c.loom", cache=True)
    np.testing.assert_array_equal(p.f(X), X * 2)
    np.testing.assert_array_equal(p.g(X), X + 100)
    q = compiler.loads(src, name="c.loom", cache=True)  # both from disk now, g first
    np.testing.assert_array_equal(q.g(X), X + 100)
    np.testing.assert_array_equal(q.f(X), X * 2)
    assert len(glob.glob(os.path.join(cache_dir, "*.entry"))) == 2


# ------------------------------------------------------------------ F07: bad entries are misses
def _corrupt_bytes(payload: bytes) -> dict[str, bytes]:
    whole = cache.MAGIC + hashlib.sha256(payload).hexdigest().encode() + b"\n" + payload
    return {"empty": b"", "truncated": whole[: len(whole) // 2], "garbage": os.urandom(len(whole)),
            "last byte flipped": whole[:-1] + bytes([whole[-1] ^ 1]), "no header": payload}


@pytest.mark.parametrize("case", list(_corrupt_bytes(b"")))
def test_corrupt_file_is_a_miss_and_is_removed(big_entry, case):
    d, key, path, payload = big_entry
    with open(path, "wb") as f:
        f.write(_corrupt_bytes(payload)[case])
    assert ObjectCache(str(d)).load(key, BIG_SIG) is None
    assert not os.path.exists(path)


def _metadata_edits() -> dict:
    def output_shape(m):  # F07: native code would write 1000 floats into a 1-float buffer
        m["signature"]["outputs"][0][1] = [1]

    def version(m):
        m["compiler"][0] = "0.0-other"

    def cpu(m):
        m["compiler"][2] = "some-other-cpu"

    def key(m):
        m["key"] = "0" * 32

    def missing_keys(m):
        for k in list(m):
            if k != "symbol":
                del m[k]

    def extra_key(m):
        m["extra"] = 1

    def site_shape(m):
        m["sites"] = [["message", "c.loom", "one"]]

    def print_type(m):
        m["prints"] = [["{}", [["f16", [2]]]]]

    def symbol(m):
        m["symbol"] = "no_such_function"

    def not_an_identifier(m):
        m["symbol"] = "big; rm"

    def object_sizes(m):  # the object files' sizes do not add up to what follows the metadata
        m["objects"] = [m["objects"][0] + 1, *m["objects"][1:]]

    def no_objects(m):
        m["objects"] = []

    return {f.__name__: f for f in (output_shape, version, cpu, key, missing_keys, extra_key,
                                     site_shape, print_type, symbol, not_an_identifier, object_sizes, no_objects)}


@pytest.mark.parametrize("edit", list(_metadata_edits()))
def test_metadata_that_does_not_match_is_a_miss(big_entry, edit):
    """The digest matches (the file is rewritten through write_entry), the metadata does not."""
    d, key, path, payload = big_entry
    head, _, obj = payload.partition(b"\n")
    meta = json.loads(head)
    _metadata_edits()[edit](meta)
    cache.write_entry(path, json.dumps(meta).encode() + b"\n" + obj)
    assert ObjectCache(str(d)).load(key, BIG_SIG) is None
    assert not os.path.exists(path)


@pytest.mark.parametrize("head", [b"not json", b"[1, 2]", b"\xff\xfe", b""])
def test_metadata_that_is_not_an_object_is_a_miss(big_entry, head):
    d, key, path, payload = big_entry
    cache.write_entry(path, head + b"\n" + payload.partition(b"\n")[2])
    assert ObjectCache(str(d)).load(key, BIG_SIG) is None
    assert not os.path.exists(path)


def test_an_entry_is_only_loaded_for_the_signature_it_was_compiled_for(big_entry):
    d, key, path, _ = big_entry
    other = Signature((ValueType("f32", (4,)),), (ValueType("f32", (1,)),))
    assert ObjectCache(str(d)).load(key, other) is None
    assert not os.path.exists(path)


def test_a_bad_entry_is_rebuilt_and_the_rebuilt_entry_hits(big_entry):
    d, key, path, payload = big_entry
    with open(path, "wb") as f:
        f.write(os.urandom(len(payload)))
    np.testing.assert_array_equal(run_big(), expected_big())  # recompiled, not crashed
    assert ObjectCache(str(d)).load(key, BIG_SIG) is not None  # the entry was rewritten
    np.testing.assert_array_equal(run_big(), expected_big())


# ------------------------------------------------------------------ where the cache may live
@pytest.mark.parametrize("how", ["world-writable", "symlink"])
def test_a_directory_other_users_control_is_not_used(big_entry, tmp_path, how):
    d, key, _, _ = big_entry
    if how == "world-writable":
        os.chmod(d, 0o777)
        target = str(d)
    else:
        target = str(tmp_path / "link")
        os.symlink(d, target)
    with pytest.warns(RuntimeWarning, match="not using the compile cache"):
        c = ObjectCache(target)
    assert c.load(key, BIG_SIG) is None
    assert cache.unsafe(target) is not None


def test_a_private_directory_is_created_private(tmp_path):
    d = tmp_path / "new" / "cache"
    assert cache.unsafe(str(d)) is None
    assert os.stat(d).st_mode & 0o777 == 0o700


# ------------------------------------------------------------------ the parser's tables (F05)
def _plant_pickle(d, marker) -> None:
    class Payload:
        def __reduce__(self):
            return (os.system, (f"echo PWNED > {marker}",))

    os.makedirs(d, exist_ok=True)
    from lark import __version__

    for name in (f"lark-{__version__}-grammar.cache", "lark-grammar.cache"):
        with open(os.path.join(d, name), "wb") as f:
            f.write(b"0000\n")
            pickle.dump(Payload(), f)


def test_a_planted_lark_pickle_is_never_loaded(cache_dir, tmp_path):
    marker = tmp_path / "marker"
    _plant_pickle(cache_dir, marker)
    assert parser._cached_or_built().parse("def f(x: f32) -> f32:\n    return x\n")
    assert not marker.exists()


def test_a_planted_lark_pickle_is_never_loaded_by_loom_check(tmp_path):
    """F05 as reported: `loom check` in a fresh process with the pickle in LOOM_CACHE_DIR."""
    d, marker, src = tmp_path / "cache", tmp_path / "marker", tmp_path / "k.loom"
    _plant_pickle(d, marker)
    src.write_text("def f(x: f32) -> f32:\n    return x\n")
    r = subprocess.run([sys.executable, "-m", "compiler.cli", "check", str(src)], cwd=ROOT,
                       env=dict(os.environ, LOOM_CACHE_DIR=str(d)), capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr
    assert not marker.exists()


def _tables(d) -> str:
    (path,) = glob.glob(os.path.join(d, "parser-*.tables"))
    return path


def test_parser_tables_are_cached_and_parse_alike(cache_dir):
    built = parser._cached_or_built()
    assert built.source_path != "<deserialized>"
    loaded = parser._cached_or_built()
    assert loaded.source_path == "<deserialized>"  # from the entry written just before
    for path in sorted(glob.glob(os.path.join(ROOT, "examples", "*.loom"))):
        with open(path, encoding="utf-8") as f:
            text = f.read()
        assert loaded.parse(text) == built.parse(text), path


def test_shipped_parser_tables_are_current_and_parse_alike(cache_dir):
    """The tables shipped in compiler/frontend/grammar_tables.json were made from this grammar
    (after editing grammar.lark: `python -m compiler.frontend.parser`); the parser uses them
    without building or caching anything, and parses every example as one built from the grammar."""
    shipped = parser._shipped()
    assert shipped is not None, "grammar_tables.json is stale: run `python -m compiler.frontend.parser`"
    assert parser._lark.__wrapped__().source_path == "<deserialized>"
    assert not os.path.isdir(cache_dir) or os.listdir(cache_dir) == []
    built = parser._cached_or_built()
    for path in sorted(glob.glob(os.path.join(ROOT, "examples", "*.loom"))):
        with open(path, encoding="utf-8") as f:
            text = f.read()
        assert shipped.parse(text) == built.parse(text), path


def test_stale_shipped_parser_tables_are_not_used(cache_dir, tmp_path, monkeypatch):
    stale = tmp_path / "tables.json"
    stale.write_bytes(cache.dumps(["0" * 64, {}, {}]))
    monkeypatch.setattr(parser, "SHIPPED_TABLES", str(stale))
    assert parser._shipped() is None
    assert parser._lark.__wrapped__().parse("def f(x: f32) -> f32:\n    return x\n")


@pytest.mark.parametrize("bad", ["garbage", "wrong shape"])
def test_bad_parser_tables_are_rebuilt(cache_dir, bad):
    parser._cached_or_built()
    path = _tables(cache_dir)
    if bad == "garbage":
        with open(path, "wb") as f:
            f.write(os.urandom(1000))
    else:  # the digest matches, the content is not lark's
        cache.write_entry(path, cache.dumps([{"parser": 1}, {0: "x"}]))
    assert parser._cached_or_built().source_path != "<deserialized>"
    assert parser._cached_or_built().source_path == "<deserialized>"


def test_parser_tables_are_not_written_where_others_can_write(tmp_path, monkeypatch):
    d = tmp_path / "shared"
    d.mkdir()
    os.chmod(d, 0o777)
    monkeypatch.setenv("LOOM_CACHE_DIR", str(d))
    assert cache.private_dir() is None
    parser._cached_or_built()
    assert os.listdir(d) == []


names = st.text(max_size=4)


def containers(inner):
    keys = names | st.integers() | st.tuples(st.integers(), names)
    return st.lists(inner, max_size=3) | st.tuples(inner, inner) | st.dictionaries(keys, inner, max_size=3)


plain = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | names,
                     containers, max_leaves=10)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plain)
def test_plain_data_round_trips_exactly(value):
    back = cache.loads(cache.dumps(value))
    assert back == value and repr(back) == repr(value)  # tuples stay tuples, int keys stay ints


# ------------------------------------------------------------------ concurrency
HAMMER = """
import sys
from runtime import cache
path, me, rounds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
payloads = [bytes([i]) * (200_000 + i) for i in range(4)]
for _ in range(rounds):
    assert cache.write_entry(path, payloads[me])
    r = cache.read_entry(path)
    assert r in payloads, "a partial or mixed entry was read"
"""


def test_concurrent_writers_never_expose_a_partial_entry(tmp_path):
    """Four processes write and read one entry at once: every read is some writer's whole payload."""
    path = str(tmp_path / "k.entry")
    procs = [subprocess.Popen([sys.executable, "-c", HAMMER, path, str(i), "30"], cwd=ROOT,
                              stderr=subprocess.PIPE, text=True) for i in range(4)]
    errors = [p.communicate(timeout=300)[1] for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, errors
    assert os.listdir(tmp_path) == ["k.entry"]  # no temporary file left behind


def _compile_big(d: str) -> list:
    os.environ["LOOM_CACHE_DIR"] = d
    return run_big().tolist()


@pytest.mark.slow
def test_processes_compiling_into_one_fresh_directory(tmp_path):
    d = str(tmp_path / "cache")
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(3) as pool:
        results = pool.map(_compile_big, [d] * 3)
    assert all(np.array_equal(r, expected_big()) for r in results)
    key, _ = entry(d)
    assert ObjectCache(d).load(key, BIG_SIG) is not None
    assert [f for f in os.listdir(d) if f.endswith(".tmp")] == []

