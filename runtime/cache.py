"""The on-disk caches' store: compiled object code (`runtime/object_cache.py`) and the parser's
tables (`compiler/frontend/parser.py`), kept in one private directory. No LLVM here (the front end
imports it). What is guaranteed (docs/backend.md, "On-disk cache"):

- Where: `LOOM_CACHE_DIR`, else `~/.cache/loom`, created with mode 0700. It is used only while it is
  a real directory (not a symlink) owned by this user that no other user can write: object code is
  executed, so a directory someone else can write to is never read (the object cache says so in a
  warning; the parser builds its tables from the grammar).
- An entry is one file: a header line `LOOM-CACHE 1 <sha256 of the rest>`, then the payload. Nothing
  in a file is parsed before its digest matches, and nothing reaches LLVM before the entry's
  metadata matches what the caller expects (key; compiler identity: versions, sources, CPU;
  signature); an entry that fails any check is removed, the caller rebuilds it, and nothing is ever
  unpickled.
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

MAGIC = b"LOOM-CACHE 1 "
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOURCE_PACKAGES = ("compiler", "dialects", "runtime")
SOURCE_SUFFIXES = (".py", ".ll", ".lark", ".json")
_identity: dict[str, str] = {}


def source_digest() -> str:
    """A hash of the compiler's own files (its Python, LLVM IR and grammar), part of every cache
    key (`jit.compiler_identity`): code compiled by a changed compiler is never taken for the new
    one's, even where the version was not bumped (a checkout between releases). Computed once per
    process (~10 ms for 1.3 MB), at the first IR generation (`Lowered.generate`), before most
    passes are imported: a process that keeps running while its sources are edited keys what it
    compiles by the sources as they were then."""
    digest = _identity.get("sources")
    if digest is None:
        h = hashlib.sha256()
        for pkg in SOURCE_PACKAGES:
            files = []
            for d, dirs, names in os.walk(os.path.join(ROOT, pkg)):
                dirs[:] = [x for x in dirs if x != "__pycache__"]
                files += [os.path.join(d, n) for n in names if n.endswith(SOURCE_SUFFIXES)]
            for path in sorted(files):
                h.update(os.path.relpath(path, ROOT).encode() + b"\0")
                with open(path, "rb") as f:
                    h.update(f.read() + b"\0")
        digest = _identity["sources"] = h.hexdigest()[:16]
    return digest


def xdsl_version() -> str:
    """xDSL's installed version, from its distribution's directory name (without importing xDSL
    or `importlib.metadata`, which a cache hit does not need)."""
    version = _identity.get("xdsl")
    if version is None:
        import importlib.util

        spec = importlib.util.find_spec("xdsl")
        version = "unknown"
        if spec is not None and spec.origin:
            site = os.path.dirname(os.path.dirname(spec.origin))
            for name in os.listdir(site):
                if name.startswith("xdsl-") and name.endswith(".dist-info"):
                    version = name[len("xdsl-"):-len(".dist-info")]
        _identity["xdsl"] = version
    return version


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
