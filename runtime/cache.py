"""The on-disk caches: compiled object code (`ObjectCache`) and the parser's tables
(`compiler/frontend/parser.py`), kept in one private directory. What is guaranteed (docs/backend.md,
"On-disk cache"):

- Where: `LOOM_CACHE_DIR`, else `~/.cache/loom`, created with mode 0700. It is used only while it is
  a real directory (not a symlink) owned by this user that no other user can write: object code is
  executed, so a directory someone else can write to is never read (the object cache says so in a
  warning; the parser builds its tables from the grammar).
- An entry is one file: a header line `LOOM-CACHE 1 <sha256 of the rest>`, then the payload. Nothing
  in a file is parsed before its digest matches, and nothing reaches LLVM before the entry's
  metadata matches what the caller expects (key, compiler version, CPU, signature); an entry that
  fails any check is removed, the caller rebuilds it, and nothing is ever unpickled.
- Writes are atomic (a temporary file in the same directory, fsync, `os.replace`): processes sharing
  the directory see a whole old entry, a whole new one or none.

    path = os.path.join(d, name)
    write_entry(path, b"payload")   # LOOM-CACHE 1 <sha256(b"payload")>\npayload
    read_entry(path)                # b"payload", or None (missing, or removed because corrupt)
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import tempfile
import warnings

from runtime import abi
from runtime.jit import CompiledFunction, NativeModule, compiler_identity

MAGIC = b"LOOM-CACHE 1 "
_warned: set[str] = set()


def cache_dir() -> str:
    return os.environ.get("LOOM_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "loom")


def unsafe(directory: str) -> str | None:
    """Why `directory` cannot hold a cache, or None when it can (it is created, mode 0700, if
    missing)."""
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
        st = os.lstat(directory)
    except OSError as e:
        return f"cannot create it ({e.strerror})"
    if not stat.S_ISDIR(st.st_mode):
        return "it is not a directory"
    if st.st_uid != os.getuid():
        return "it belongs to another user"
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return "other users can write to it"
    return None


def private_dir() -> str | None:
    """The cache directory, or None (caching off) when it is not private to this user."""
    d = cache_dir()
    return None if unsafe(d) else d


def read_entry(path: str) -> bytes | None:
    """The payload of the entry at `path` if its digest matches; a corrupt entry is removed."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return None
    header, newline, payload = data.partition(b"\n")
    if newline and header == MAGIC + hashlib.sha256(payload).hexdigest().encode():
        return payload
    discard(path)
    return None


def write_entry(path: str, payload: bytes) -> bool:
    """Write an entry atomically; False (nothing written) if the file system refuses."""
    directory, name = os.path.split(path)
    try:
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{name}.", suffix=".tmp")
    except OSError:
        return False
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(MAGIC + hashlib.sha256(payload).hexdigest().encode() + b"\n" + payload)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        return True
    except OSError:
        discard(tmp)
        return False


def discard(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


# ---------------------------------------------------------------- plain data as JSON
def dumps(value) -> bytes:
    """Plain data (None, bool, int, float, str, list, tuple, dict with any such keys) as JSON that
    `loads` turns back into an equal value: tuples and dicts are tagged (`{"t": [...]}`,
    `{"d": [[k, v], ...]}`) so tuples and non-string keys survive."""
    return json.dumps(_tagged(value), separators=(",", ":")).encode()


def loads(data: bytes):
    return json.loads(data, object_hook=_untag)


def _tagged(x):
    if isinstance(x, tuple):
        return {"t": [_tagged(v) for v in x]}
    if isinstance(x, list):
        return [_tagged(v) for v in x]
    if isinstance(x, dict):
        return {"d": [[_tagged(k), _tagged(v)] for k, v in x.items()]}
    if x is None or isinstance(x, (bool, int, float, str)):
        return x
    raise TypeError(f"a {type(x).__name__} is not plain data")


def _untag(obj: dict):
    if len(obj) == 1:
        if isinstance(obj.get("t"), list):
            return tuple(obj["t"])
        if isinstance(obj.get("d"), list):
            return dict(obj["d"])
    raise ValueError("not tagged plain data")


# ---------------------------------------------------------------- compiled functions
class ObjectCache:
    """Compiled functions on disk, one entry per key (`jit.cache_key`): a JSON line of metadata
    (key, compiler identity, signature, symbol, check sites, print formats), then the object code."""

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

    def load(self, key: str, signature: abi.Signature) -> CompiledFunction | None:
        """The function cached under `key` if its entry verifies and has this signature; else None
        (a bad entry is removed)."""
        if self.dir is None:
            return None
        path = self._path(key)
        payload = read_entry(path)
        if payload is None:
            return None
        head, _, obj = payload.partition(b"\n")
        try:
            meta = json.loads(head)
        except ValueError:
            meta = None
        if not _valid(meta, _stamp(key, signature)):
            discard(path)
            return None
        prints = [(f, [abi.ValueType.from_json(t) for t in ts]) for f, ts in meta["prints"]]
        try:
            return CompiledFunction(NativeModule(obj=obj), meta["symbol"], signature, meta["sites"], prints)
        except RuntimeError:  # the object lacks the symbol
            discard(path)
            return None

    def store(self, key: str, obj: bytes, fn: CompiledFunction) -> None:
        if self.dir is None:
            return
        meta = {**_stamp(key, fn.signature), "symbol": fn.symbol, "sites": fn.sites,
                "prints": [[f, [t.to_json() for t in ts]] for f, ts in fn.prints]}
        write_entry(self._path(key), json.dumps(meta, separators=(",", ":")).encode() + b"\n" + obj)


def _stamp(key: str, signature: abi.Signature) -> dict:
    """The metadata an entry must carry to be used for `key` and `signature`."""
    return {"key": key, "compiler": list(compiler_identity()), "signature": signature.to_json()}


def _valid(meta, stamp: dict) -> bool:
    return (isinstance(meta, dict) and set(meta) == set(stamp) | {"symbol", "sites", "prints"}
            and all(meta[k] == v for k, v in stamp.items())
            and isinstance(meta["symbol"], str) and meta["symbol"].isidentifier()
            and isinstance(meta["sites"], list) and all(map(_is_site, meta["sites"]))
            and isinstance(meta["prints"], list) and all(map(_is_print, meta["prints"])))


def _is_site(s) -> bool:
    """[message, file, line, column]"""
    return (isinstance(s, list) and len(s) == 4 and all(isinstance(v, str) for v in s[:2])
            and all(isinstance(v, (str, int)) and str(v).isdigit() for v in s[2:]))


def _is_print(p) -> bool:
    """[format, [value type, ...]]"""
    return (isinstance(p, list) and len(p) == 2 and isinstance(p[0], str) and isinstance(p[1], list)
            and all(_is_value_type(t) for t in p[1]))


def _is_value_type(t) -> bool:
    return (isinstance(t, list) and len(t) == 2 and t[0] in abi.DTYPES and isinstance(t[1], list)
            and all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in t[1]))
