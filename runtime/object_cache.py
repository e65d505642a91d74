"""Compiled functions on disk (`ObjectCache`), in the private cache directory of `runtime/cache.py`
(digest-checked entries written atomically; see its docstring and docs/backend.md)."""

from __future__ import annotations

import json
import os
import warnings

from runtime import abi
from runtime.cache import cache_dir, discard, read_entry, unsafe, write_entry
from runtime.jit import CompiledFunction, NativeModule, compiler_identity

_warned: set[str] = set()


class ObjectCache:
    """Compiled functions on disk, one entry per key (`jit.cache_key`): a JSON line of metadata
    (key, compiler identity, signature, symbol, check sites, print formats, the sizes of its object
    files), then the object files (the program's codegen units: `runtime/codegen_units.py`). And
    compiled kernels, one entry per content key (`k<key>.entry`: a JSON line with the key, the
    compiler identity and the kernel's symbol, then its object file), which any program may load;
    and which kernel each recipe made (`r<key>.entry`, a JSON line: `runtime/kernel_library.py`)."""

    def __init__(self, directory: str | None = None):
        self.dir = directory or cache_dir()
        problem = unsafe(self.dir)
        if problem:
            if self.dir not in _warned:
                _warned.add(self.dir)
                warnings.warn(f"loom: not using the compile cache '{self.dir}': {problem}", RuntimeWarning,
                              stacklevel=2)
            self.dir = None

    def _path(self, key: str) -> str:
        if not key.isalnum():
            raise ValueError(f"malformed cache key {key!r}")
        return os.path.join(self.dir, key + ".entry")

    def _read(self, name: str) -> tuple[str | None, object, bytes]:
        """(path, metadata or None if it is not JSON, the bytes after it) of the entry `name` whose
        digest matches; (None, None, b"") when there is none."""
        if self.dir is None:
            return None, None, b""
        path = self._path(name)
        payload = read_entry(path)
        if payload is None:
            return None, None, b""
        head, _, data = payload.partition(b"\n")
        try:
            return path, json.loads(head), data
        except ValueError:
            return path, None, data

    def load(self, key: str, signature: abi.Signature) -> CompiledFunction | None:
        """The function cached under `key` if its entry verifies and has this signature; else None
        (a bad entry is removed)."""
        path, meta, data = self._read(key)
        if path is None:
            return None
        if not _valid(meta, _stamp(key, signature)) or sum(meta["objects"]) != len(data):
            discard(path)
            return None
        objects, at = [], 0
        for size in meta["objects"]:
            objects.append(data[at:at + size])
            at += size
        prints = [(f, [abi.ValueType.from_json(t) for t in ts]) for f, ts in meta["prints"]]
        try:
            return CompiledFunction(NativeModule(objects=objects), meta["symbol"], signature, meta["sites"], prints)
        except RuntimeError:  # the object lacks the symbol
            discard(path)
            return None

    def store(self, key: str, objects: list[bytes], fn: CompiledFunction) -> None:
        if self.dir is None:
            return
        meta = {**_stamp(key, fn.signature), "symbol": fn.symbol, "sites": fn.sites,
                "prints": [[f, [t.to_json() for t in ts]] for f, ts in fn.prints],
                "objects": [len(o) for o in objects]}
        write_entry(self._path(key), json.dumps(meta, separators=(",", ":")).encode() + b"\n" + b"".join(objects))

    def load_unit(self, key: str, symbol: str) -> bytes | None:
        """The object file of the kernel `key` (defining `symbol`), or None (a bad entry is removed)."""
        path, meta, obj = self._read("k" + key)
        if path is None:
            return None
        if meta != _unit_stamp(key, symbol) or symbol.encode() not in obj:
            discard(path)
            return None
        return obj

    def has_unit(self, key: str) -> bool:
        return self.dir is not None and os.path.exists(self._path("k" + key))

    def store_unit(self, key: str, symbol: str, obj: bytes) -> None:
        if self.dir is not None:
            write_entry(self._path("k" + key), json.dumps(_unit_stamp(key, symbol)).encode() + b"\n" + obj)


    def load_recipe(self, key: str) -> tuple[str, str] | None:
        """(unit key, symbol) of the kernel built from the recipe `key` (`runtime/kernel_library.py`),
        or None (a bad entry is removed)."""
        path, meta, rest = self._read("r" + key)
        if path is None:
            return None
        if not (isinstance(meta, dict) and set(meta) == {"recipe", "compiler", "unit", "symbol"} and not rest
                and meta["recipe"] == key and meta["compiler"] == list(compiler_identity())
                and isinstance(meta["unit"], str) and meta["unit"].isalnum() and isinstance(meta["symbol"], str)):
            discard(path)
            return None
        return meta["unit"], meta["symbol"]

    def has_recipe(self, key: str) -> bool:
        return self.dir is not None and os.path.exists(self._path("r" + key))

    def store_recipe(self, key: str, unit: str, symbol: str) -> None:
        if self.dir is not None:
            meta = {"recipe": key, "compiler": list(compiler_identity()), "unit": unit, "symbol": symbol}
            write_entry(self._path("r" + key), json.dumps(meta).encode() + b"\n")


def _stamp(key: str, signature: abi.Signature) -> dict:
    """The metadata an entry must carry to be used for `key` and `signature`."""
    return {"key": key, "compiler": list(compiler_identity()), "signature": signature.to_json()}


def _unit_stamp(key: str, symbol: str) -> dict:
    return {"unit": key, "compiler": list(compiler_identity()), "symbol": symbol}


def _valid(meta, stamp: dict) -> bool:
    return (isinstance(meta, dict) and set(meta) == set(stamp) | {"symbol", "sites", "prints", "objects"}
            and all(meta[k] == v for k, v in stamp.items())
            and isinstance(meta["symbol"], str) and meta["symbol"].isidentifier()
            and isinstance(meta["sites"], list) and all(map(_is_site, meta["sites"]))
            and isinstance(meta["prints"], list) and all(map(_is_print, meta["prints"]))
            and isinstance(meta["objects"], list) and len(meta["objects"]) > 0
            and all(isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in meta["objects"]))


def _is_site(s) -> bool:
    """[message, file, line, column]"""
    return (isinstance(s, list) and len(s) == 4 and all(isinstance(v, str) for v in s[:2])
            and all(isinstance(v, (str, int)) and str(v).isascii() and str(v).isdigit() for v in s[2:]))


def _is_print(p) -> bool:
    """[format, [value type, ...]]"""
    return (isinstance(p, list) and len(p) == 2 and isinstance(p[0], str) and isinstance(p[1], list)
            and all(_is_value_type(t) for t in p[1]))


def _is_value_type(t) -> bool:
    return (isinstance(t, list) and len(t) == 2 and t[0] in abi.DTYPES and isinstance(t[1], list)
            and all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in t[1]))
