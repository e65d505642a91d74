"""A mutator over the corpus of Loom programs: examples, the invalid-program tests and the
FileCheck `.loom` tests. Token-level mutations (delete, duplicate, swap, replace a token; numbers
to extremes; element types; dims inside `[...]`) and line-level ones (delete, duplicate, swap,
re-indent, a tab), one to three per mutant, so most mutants are invalid programs: they exercise
the parser's and checker's error paths, which must answer with a located `LoomError`.
"""

from __future__ import annotations

import random
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TOKEN = re.compile(r"""\s+|#[^\n]*|"[^"\n]*"|'[^'\n]*'|\d+\.\d*(?:e[-+]?\d+)?|\.\d+(?:e[-+]?\d+)?|\d+(?:e[-+]?\d+)?"""
                   r"""|[A-Za-z_]\w*|\*\*=?|//=?|->|[-+*/%<>=!@]=|[-+*/%<>=@!:,.()\[\]]|.""")
NUMBER = re.compile(r"(?:\d+\.\d*|\.\d+|\d+)(?:e[-+]?\d+)?")
EXTREMES = ("0", "-1", "1", "2147483648", "2**31", "9223372036854775808", "2**63", "1e39", "-1e39", "1e-46",
            "nan", "inf", "0.0", "1e308", "1e400", "99999999999", "00", "1.", "1e", "-0")
DTYPES = ("f32", "f64", "i32", "i64", "bool", "f16", "int")
VOCAB = ("def", "return", "if", "elif", "else", "for", "in", "range", "while", "bound", "and", "or", "not",
         "true", "false", "const", "struct", "mesh", "with", ":", ",", "(", ")", "[", "]", "=", "+", "-", "*", "/",
         "//", "%", "**", "@", "<", "==", ".", "...", "->", "x", "B", "N", "sum", "grad", "where", "reshape",
         "zeros", "axis", "keepdims", "print", "jvp", "vjp", "transpose", "shape", "stop_gradient", "@checkpoint")


def corpus(root: Path = ROOT) -> list[tuple[str, str]]:
    """(name, text) of every corpus program, sorted by name (so seeds are reproducible)."""
    files = sorted(root.glob("examples/*.loom")) + sorted(root.glob("tests/invalid/*.loom")) \
        + sorted(root.glob("tests/filecheck/*.loom"))
    return [(str(f.relative_to(root)), f.read_text(encoding="utf-8", errors="replace")) for f in files]


def tokens(text: str) -> list[str]:
    return TOKEN.findall(text)


def _code(toks: list[str]) -> list[int]:
    """Indices of the tokens that are not whitespace or comments."""
    return [i for i, t in enumerate(toks) if not t.isspace() and not t.startswith("#")]


def m_delete_token(r, toks):
    i = r.choice(_code(toks))
    del toks[i]


def m_duplicate_token(r, toks):
    i = r.choice(_code(toks))
    toks.insert(i, toks[i])


def m_swap_tokens(r, toks):
    code = _code(toks)
    k = r.randrange(len(code) - 1)
    i, j = code[k], code[k + 1]
    toks[i], toks[j] = toks[j], toks[i]


def m_replace_token(r, toks):
    code = _code(toks)
    toks[r.choice(code)] = r.choice(VOCAB) if r.random() < 0.6 else toks[r.choice(code)]


def m_number(r, toks):
    nums = [i for i in _code(toks) if NUMBER.fullmatch(toks[i])]
    if nums:
        toks[r.choice(nums)] = r.choice(EXTREMES)


def m_dtype(r, toks):
    idx = [i for i in _code(toks) if toks[i] in DTYPES]
    if idx:
        toks[r.choice(idx)] = r.choice(DTYPES)


def m_dim(r, toks):
    """A dimension inside a type's brackets: another size, a symbol, `...S`, nothing, an extra one."""
    opens = [i for i in _code(toks) if toks[i] == "[" and i > 0 and toks[i - 1] in DTYPES]
    if not opens:
        return m_number(r, toks)
    i = r.choice(opens) + 1
    toks.insert(i, r.choice(["0, ", "1, ", "B, ", "...S, ", "-1, ", "2**40, ", "B@dp, ", ", ", "K, K, "]))


LINE_MUTATIONS = ("delete", "duplicate", "swap", "indent", "dedent", "tab", "move")


def mutate_lines(r: random.Random, text: str) -> str:
    lines = text.split("\n")
    if len(lines) < 2:
        return text
    i = r.randrange(len(lines))
    kind = r.choice(LINE_MUTATIONS)
    if kind == "delete":
        del lines[i]
    elif kind == "duplicate":
        lines.insert(i, lines[i])
    elif kind == "swap":
        j = min(i + 1, len(lines) - 1)
        lines[i], lines[j] = lines[j], lines[i]
    elif kind == "indent":
        lines[i] = "    " + lines[i]
    elif kind == "dedent":
        lines[i] = lines[i][min(4, len(lines[i]) - len(lines[i].lstrip(" "))):]
    elif kind == "tab":
        lines[i] = "\t" + lines[i].lstrip(" ")
    else:
        lines.insert(r.randrange(len(lines)), lines.pop(i))
    return "\n".join(lines)


TOKEN_MUTATIONS = (m_delete_token, m_duplicate_token, m_swap_tokens, m_replace_token, m_number, m_number,
                   m_dtype, m_dim)


def mutate(r: random.Random, text: str, n: int | None = None) -> str:
    """One mutant of `text`: 1–3 token- or line-level mutations."""
    for _ in range(n or r.choice([1, 1, 2, 3])):
        if r.random() < 0.3:
            text = mutate_lines(r, text)
            continue
        toks = tokens(text)
        if len(_code(toks)) < 2:
            continue
        r.choice(TOKEN_MUTATIONS)(r, toks)
        text = "".join(toks)
    return text


def mutant(seed: int, programs: list[tuple[str, str]]) -> tuple[str, str]:
    """(origin, text) of the mutant numbered `seed` of the corpus."""
    r = random.Random(seed)
    name, text = r.choice(programs)
    return name, mutate(r, text)
