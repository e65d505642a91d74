"""The native backend as a user sees it: stages, the JIT and its caches, run-time errors and
`print` in compiled code, vectorization, and ahead-of-time object files linked into C.

(Compiled *results* are checked against the reference executor and NumPy by the shared suites:
test_builtins*.py, test_operators.py, test_properties.py, test_runtime_errors.py and e2e/test_examples.py run every
case in both modes.)
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from compiler.driver import IR_STAGES, TEXT_STAGES

import compiler
from compiler.cli import main as cli
from compiler.diagnostics import LoomRuntimeError

ROOT = Path(__file__).resolve().parent.parent

AXPY = """
def f(x: f32[N], a: f32, b: f32) -> f32[N]:
    return tanh(x * a + b) * 2.0 + x
"""


def load(src: str, **kw):
    return compiler.loads(textwrap.dedent(src), name="t.loom", **kw)


def test_default_mode_is_jit_and_matches_eager():
    x = np.linspace(-3, 3, 1001, dtype=np.float32)
    jit, eager = load(AXPY), load(AXPY, mode="eager")
    assert jit.mode == "jit"
    np.testing.assert_allclose(jit.f(x, 0.5, 0.25), eager.f(x, 0.5, 0.25), rtol=2e-6, atol=1e-6)


def test_specializations_are_cached_per_shape():
    p = load(AXPY)
    x = np.ones(8, np.float32)
    p.f(x, 1.0, 0.0)
    low = p.f.lower(x, 1.0, 0.0)
    assert low.compiled() is p.f.lower(x, 1.0, 0.0).compiled()
    assert p.f.lower(np.ones(9, np.float32), 1.0, 0.0) is not low


@pytest.mark.parametrize("stage", IR_STAGES + TEXT_STAGES)
def test_every_stage_prints(stage):
    text = load(AXPY).f.lower(np.ones(64, np.float32), 1.0, 0.0).as_text(stage)
    marker = {"loom": "loom.tanh", "spmd": "loom.tanh", "loom-opt": "loom.tanh", "linalg": "linalg.generic",
              "bufferized": "memref<64xf32>", "loops": "scf.for",
              "llvm-dialect": "llvm.func", "llvm": "define", "llvm-opt": "define", "asm": "f:"}[stage]
    assert marker in text


def test_linalg_stage_is_fused_into_one_generic():
    text = load(AXPY).f.lower(np.ones(64, np.float32), 1.0, 0.0).as_text("linalg")
    assert text.count("linalg.generic") == 1
    assert "math.tanh" in text and "loom." not in text


def test_fused_elementwise_loop_is_vectorized():
    text = load(AXPY).f.lower(np.ones(4096, np.float32), 1.0, 0.0).as_text("llvm-opt")
    assert re.search(r"<\d+ x float>", text), "the fused tanh loop was not vectorized"
    assert "@tanhf" not in text, "tanh must not be a scalar libm call"


def test_results_written_into_output_arrays_without_final_copy():
    text = load(AXPY).f.lower(np.ones(64, np.float32), 1.0, 0.0).as_text("bufferized")
    assert "memref.copy" not in text and "memref.alloc" not in text


def test_inputs_are_not_modified():
    p = load("""
        def f(x: f32[5]) -> f32[5]:
            y = x
            y[0] = 7.0
            return y * 2.0
        """)
    x = np.arange(5, dtype=np.float32)
    keep = x.copy()
    np.testing.assert_array_equal(p.f(x), np.array([14, 2, 4, 6, 8], np.float32))
    np.testing.assert_array_equal(x, keep)


# ------------------------------------------------------------------ run-time errors
def test_index_out_of_range_raises_with_location():
    p = load("""
        def f(x: f32[4], i: i64) -> f32:
            return x[i]
        """)
    x = np.arange(4, dtype=np.float32)
    assert p.f(x, -1) == 3.0
    with pytest.raises(LoomRuntimeError) as e:
        p.f(x, 4)
    assert "out of range" in e.value.message and e.value.span.line == 3
    assert "t.loom:3:" in e.value.render()


def test_while_bound_exceeded_raises():
    p = load("""
        def f(n: i64) -> i64:
            k = 0
            while k < n bound 10:
                k = k + 1
            return k
        """)
    assert p.f(10) == 10
    with pytest.raises(LoomRuntimeError, match="exceeded its bound of 10") as e:
        p.f(11)
    assert e.value.span.line == 4


def test_error_inside_loop_body_of_fused_kernel():
    p = load("""
        def f(a: i32[6], b: i32[6]) -> i32[6]:
            return a // b + 1
        """)
    with pytest.raises(LoomRuntimeError, match="integer division by zero"):
        p.f(np.ones(6, np.int32), np.array([1, 2, 3, 0, 5, 6], np.int32))


def test_print_in_compiled_code(capfd):
    p = load("""
        def f(x: f32[3]) -> f32:
            print("x = {}, n = {}", x, 3)
            return sum(x)
        """)
    assert p.f(np.array([1, 2, 3], np.float32)) == 6.0
    out = capfd.readouterr().out
    eager = load("""
        def f(x: f32[3]) -> f32:
            print("x = {}, n = {}", x, 3)
            return sum(x)
        """, mode="eager")
    eager.f(np.array([1, 2, 3], np.float32))
    assert out == capfd.readouterr().out and out.startswith("x = ")


# ------------------------------------------------------------------ on-disk cache
def test_disk_cache_second_process_skips_compilation(tmp_path):
    src = tmp_path / "axpy.loom"
    src.write_text(textwrap.dedent(AXPY))
    script = textwrap.dedent(f"""
        import sys, time, numpy as np
        sys.path.insert(0, {str(ROOT)!r})
        import compiler
        t = time.perf_counter()
        p = compiler.load({str(src)!r}, cache=True)
        y = p.f(np.ones(16, np.float32), 1.0, 0.0)
        times = p.f.lower(np.ones(16, np.float32), 1.0, 0.0).times  # the phases this process ran
        print(float(y.sum()), "compiled" if any(name.startswith("LLVM") for name, _ in times) else "cached")
        """)
    env = dict(os.environ, LOOM_CACHE_DIR=str(tmp_path / "cache"))
    first = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
    second = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
    assert first.stdout.split()[1] == "compiled" and second.stdout.split()[1] == "cached"
    assert first.stdout.split()[0] == second.stdout.split()[0]
    assert len(list((tmp_path / "cache").glob("*.entry"))) == 1


# ------------------------------------------------------------------ AOT
@pytest.mark.skipif(shutil.which("cc") is None, reason="needs a C compiler")
def test_object_file_links_into_a_c_program(tmp_path):
    src = tmp_path / "k.loom"
    src.write_text(textwrap.dedent("""
        def scale(x: f32[N], s: f32) -> (f32[N], f32):
            y = x * s
            return y, sum(y)
        """))
    obj = tmp_path / "k.o"
    assert cli(["compile", str(src), "--emit=obj", "--entry", "scale", "--shape", "N=4", "-o", str(obj)]) == 0
    header = (tmp_path / "k.h").read_text()
    assert "int32_t scale(const float *x" in header
    (tmp_path / "main.c").write_text(textwrap.dedent("""
        #include <stdio.h>
        #include "k.h"
        int main(void) {
            float x[4] = {1, 2, 3, 4}, y[4], total;
            int64_t error_values[4];
            int32_t status = scale(x, 2.0f, y, &total, error_values);
            printf("%d %g %g %g %g %g\\n", status, y[0], y[1], y[2], y[3], total);
            return status;
        }
        """))
    exe = tmp_path / "main"
    subprocess.run(["cc", "-o", str(exe), str(tmp_path / "main.c"), str(obj), "-lm"], check=True, cwd=tmp_path)
    out = subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["0", "2", "4", "6", "8", "20"]


@pytest.mark.skipif(shutil.which("cc") is None, reason="needs a C compiler")
def test_object_file_with_parallel_loops_carries_the_thread_pool(tmp_path):
    """An object whose loops run on the thread pool has the pool linked in (weak, so two such
    objects, here softmax's and layer norm's, link into one program); the header declares its
    thread and spin setters. The results are the same for 1 and 2 threads, with and without a spin,
    and NumPy's."""
    src = tmp_path / "sm.loom"
    src.write_text("def sm(x: f32[R, C]) -> f32[R, C]:\n    return softmax(x, axis=-1)\n\n"
                   "def ln(x: f32[R, C]) -> f32[R, C]:\n    return layer_norm(x, axis=-1)\n")
    for name, entry in (("a", "sm"), ("b", "ln")):
        args = ["compile", str(src), "--emit=obj", "--entry", entry, "--shape", "R=300", "--shape", "C=257"]
        assert cli(args + ["-o", str(tmp_path / f"{name}.o")]) == 0
    header = (tmp_path / "a.h").read_text()
    assert "void loom_parallel_set_threads(int64_t threads);" in header
    assert "void loom_parallel_set_spin(int64_t nanoseconds);" in header
    (tmp_path / "main.c").write_text(textwrap.dedent("""
        #include <stdio.h>
        #include <stdlib.h>
        #include "a.h"
        int main(int argc, char **argv) {
            enum { R = 300, C = 257 };
            static float x[R][C], y[R][C];
            int64_t error_values[4];
            for (int i = 0; i < R; i++)
                for (int j = 0; j < C; j++)
                    x[i][j] = (float)((i * 7 + j * 13) % 29) / 7.0f;
            loom_parallel_set_threads(atoi(argv[1]));
            loom_parallel_set_spin(atoll(argv[2]));
            int32_t status = sm(&x[0][0], &y[0][0], error_values);
            fwrite(y, sizeof y, 1, stdout);
            return status;
        }
        """))
    exe = tmp_path / "main"
    subprocess.run(["cc", "-o", str(exe), "main.c", "a.o", "b.o", "-lm", "-lpthread"], check=True, cwd=tmp_path)
    i, j = np.indices((300, 257))
    x = (((i * 7 + j * 13) % 29).astype(np.float32) / np.float32(7)).astype(np.float32)
    e = np.exp(x - x.max(-1, keepdims=True))
    outs = [np.frombuffer(subprocess.run([str(exe), t, spin], capture_output=True, check=True).stdout, np.float32)
            for t, spin in (("1", "0"), ("2", "0"), ("2", "50000000"))]
    for o in outs[1:]:
        np.testing.assert_array_equal(o, outs[0])
    np.testing.assert_allclose(outs[0].reshape(300, 257), e / e.sum(-1, keepdims=True), rtol=1e-5, atol=1e-7)


@pytest.mark.skipif(shutil.which("cc") is None, reason="needs a C compiler")
def test_outlined_functions_are_internal_so_objects_link_together(tmp_path):
    """The outlined parallel bodies (`<f>_parallel<k>`) and kernels (`<f>_kernel<k>`) have internal
    linkage: only the entry is global, so an object whose entry is named like another object's
    parallel body (`sm_parallel0`) links beside it, and each call runs its own code."""
    shapes = ["--shape", "R=300", "--shape", "C=257"]
    sources = {"a": "def sm(x: f32[R, C]) -> f32[R, C]:\n    return softmax(x, axis=-1)\n",
               "b": "def sm_parallel0(x: f32[R, C]) -> f32[R, C]:\n    return layer_norm(x, axis=-1)\n"}
    for name, text in sources.items():
        (tmp_path / f"{name}.loom").write_text(text)
        entry = text.split("(")[0].removeprefix("def ")
        assert cli(["compile", str(tmp_path / f"{name}.loom"), "--emit=llvm", "--entry", entry, *shapes,
                    "-o", str(tmp_path / f"{name}.ll")]) == 0
        defines = [ln for ln in (tmp_path / f"{name}.ll").read_text().splitlines() if ln.startswith("define")]
        outlined = [ln for ln in defines if f'@"{entry}_' in ln]
        assert outlined and all(ln.startswith("define internal") for ln in outlined), defines
        assert cli(["compile", str(tmp_path / f"{name}.loom"), "--emit=obj", "--entry", entry, *shapes,
                    "-o", str(tmp_path / f"{name}.o")]) == 0
    (tmp_path / "main.c").write_text(textwrap.dedent("""
        #include <stdio.h>
        #include "a.h"
        #include "b.h"
        int main(void) {
            enum { R = 300, C = 257 };
            static float x[R][C], y[2][R][C];
            int64_t error_values[4];
            for (int i = 0; i < R; i++)
                for (int j = 0; j < C; j++)
                    x[i][j] = (float)((i * 7 + j * 13) % 29) / 7.0f;
            loom_parallel_set_threads(2);
            int32_t status = sm(&x[0][0], &y[0][0][0], error_values)
                             | sm_parallel0(&x[0][0], &y[1][0][0], error_values);
            fwrite(y, sizeof y, 1, stdout);
            return status;
        }
        """))
    exe = tmp_path / "main"
    subprocess.run(["cc", "-o", str(exe), "main.c", "a.o", "b.o", "-lm", "-lpthread"], check=True, cwd=tmp_path)
    out = np.frombuffer(subprocess.run([str(exe)], capture_output=True, check=True).stdout, np.float32)
    i, j = np.indices((300, 257))
    x = (((i * 7 + j * 13) % 29).astype(np.float32) / np.float32(7)).astype(np.float64)
    e = np.exp(x - x.max(-1, keepdims=True))
    d = x - x.mean(-1, keepdims=True)
    expected = [e / e.sum(-1, keepdims=True), d / np.sqrt((d * d).mean(-1, keepdims=True) + 1e-5)]
    np.testing.assert_allclose(out.reshape(2, 300, 257), expected, rtol=1e-4, atol=1e-5)


def test_compile_emit_needs_shapes_for_symbolic_dims(capsys):
    path = ROOT / "examples" / "mlp_forward.loom"
    assert cli(["compile", str(path), "--emit=linalg", "--entry", "dense"]) == 1
    assert "--shape" in capsys.readouterr().err


def test_compile_emit_stage_and_timing(capsys):
    path = ROOT / "examples" / "mlp_forward.loom"
    assert cli(["compile", str(path), "--emit=llvm", "--entry", "dense", "--shape", "B=8", "--shape", "I=16", "--shape", "O=4", "--timing"]) == 0
    cap = capsys.readouterr()
    assert "define" in cap.out
    for name in ("convert-loom-to-linalg", "loom-bufferize", "convert-to-llvm", "translate to LLVM IR"):
        assert name in cap.err
    assert "LLVM O3" not in cap.err  # LLVM IR as translated: nothing optimized


def test_out_of_memory_is_a_runtime_error_not_a_crash():
    p = load("""
        def f(x: f32[N]) -> f32:
            y = zeros((N, N, N))
            return sum(y) + x[0]
        """)
    assert p.f(np.ones(4, np.float32)) == 1.0
    with pytest.raises(LoomRuntimeError, match="out of memory") as e:
        p.f(np.ones(300000, np.float32))  # 1e17 bytes
    assert e.value.span.line == 3


# Buffer decisions that would be wrong if a buffer were written while still read elsewhere.
HAZARDS = {
    "read_through_two_maps": ("def f(a: f32[4, 4]) -> f32[4, 4]:\n"
                              "    x = a * 2.0\n"
                              "    return x + transpose(x)\n"),
    "reverse_in_loop": ("def f(a: f32[4, 4]) -> f32[4, 4]:\n"
                        "    y = a * 1.0\n"
                        "    for i in range(3):\n"
                        "        y = y[::-1] + transpose(y)\n"
                        "    return y\n"),
    "shift_update": ("def f(a: f32[4, 4]) -> f32[4, 4]:\n"
                     "    y = a + 1.0\n"
                     "    y[1:] = y[:-1]\n"
                     "    y[:, 0] = y[:, 3] * 2.0\n"
                     "    return y\n"),
    "value_kept_after_update": ("def f(a: f32[4, 4]) -> (f32[4, 4], f32[4, 4]):\n"
                                "    y = a + 1.0\n"
                                "    z = y\n"
                                "    z[0, 0] = 100.0\n"
                                "    return y, z\n"),
    "loop_carried_swap": ("def f(a: f32[4, 4]) -> (f32[4, 4], f32[4, 4]):\n"
                          "    u = a\n"
                          "    v = a * 2.0\n"
                          "    for i in range(5):\n"
                          "        t = u\n"
                          "        u = v + 1.0\n"
                          "        v = t * 0.5\n"
                          "    return u, v\n"),
    "update_inside_loop_of_outer_value": ("def f(a: f32[4, 4]) -> f32:\n"
                                          "    y = a * 2.0\n"
                                          "    s = 0.0\n"
                                          "    for i in range(4):\n"
                                          "        z = y\n"
                                          "        z[i] = 0.0\n"
                                          "        s = s + sum(z)\n"
                                          "    return s\n"),
    "loop_init_read_in_body": ("def f(a: f32[4, 4]) -> f32[4, 4]:\n"
                               "    z = a * 0.5\n"
                               "    acc = z\n"
                               "    for i in range(3):\n"
                               "        acc = acc + a + z\n"
                               "    return acc\n"),
    "if_yields_outer_value": ("def f(a: f32[4, 4], c: bool) -> f32[4, 4]:\n"
                              "    x = a * 3.0\n"
                              "    y = x\n"
                              "    if c:\n"
                              "        y = x + 1.0\n"
                              "    return y + x\n"),
}


@pytest.mark.parametrize("name", sorted(HAZARDS))
def test_buffer_hazards_match_reference(name):
    a = np.arange(16, dtype=np.float32).reshape(4, 4)
    args = (a, True) if "c: bool" in HAZARDS[name] else (a,)
    got = load(HAZARDS[name]).f(*args)
    want = load(HAZARDS[name], mode="eager").f(*args)
    for g, w in zip(got if isinstance(got, tuple) else (got,), want if isinstance(want, tuple) else (want,)):
        np.testing.assert_array_equal(g, w)
    if "c: bool" in HAZARDS[name]:
        np.testing.assert_array_equal(load(HAZARDS[name]).f(a, False), load(HAZARDS[name], mode="eager").f(a, False))
