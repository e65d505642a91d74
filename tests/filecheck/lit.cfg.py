# lit configuration for the golden-IR tests: `lit tests/filecheck` (lit is optional; without it,
# `pytest tests/test_filecheck.py` runs the same RUN lines the same way). Known-bug files carry an
# `XFAIL: *` line (and are listed in XFAIL in tests/test_filecheck.py).
import os
import tempfile

import lit.formats

config.name = "loom-filecheck"
config.test_format = lit.formats.ShTest()  # lit's internal shell
config.suffixes = [".loom", ".mlir"]
config.excludes = ["lit.cfg.py"]
config.test_source_root = os.path.dirname(os.path.abspath(__file__))
config.test_exec_root = os.path.join(tempfile.gettempdir(), "loom-lit-filecheck")  # keep the tree clean
config.pipefail = True

_root = os.path.dirname(os.path.dirname(config.test_source_root))
config.environment["PATH"] = os.environ.get("PATH", "")
config.environment["PYTHONPATH"] = _root + os.pathsep + os.environ.get("PYTHONPATH", "")
for _var in ("HOME", "PYENV_ROOT", "PYENV_VERSION", "VIRTUAL_ENV", "TMPDIR", "LANG", "LC_ALL"):
    if _var in os.environ:
        config.environment[_var] = os.environ[_var]
