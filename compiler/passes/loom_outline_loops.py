"""`loom-outline-loops`: every loop nest of a function with more than one becomes a call to a
private function of its own, a *kernel* (MLIR's `transform.loop.outline`; XLA:CPU and IREE likewise
emit one function per fused kernel), marked `no_inline`; kernels with the same body are one function.

Why: LLVM's O3 and code generation take time super-linear in the size of a function (the loop and
SLP vectorizers, instruction selection and register allocation on one function of thousands of
blocks), so a long straight-line program, lowered to one function, compiled in time ~ lines^2.
Outlined, every function LLVM sees is one kernel or the caller's sequence of calls, and a program
that repeats a layer compiles each distinct kernel once.

A loop nest is outlined when it is an `scf.for` without results whose ops are all kernel ops
(`arith`, `math`, `vector`, `scf.for/if/yield`, `memref.load/store/prefetch` and views): no
allocation, call, run-time check or print, so a kernel never fails. A function with fewer than
`min-kernels` such nests (a kernel already, a loop body on the thread pool, a small program) is left
as it is. The kernel takes the values the nest uses from outside, each once; constants and views of
buffers are recomputed inside (as `loom-parallel-to-threads` does), so LLVM sees constant trip counts
and a view and its buffer never arrive as two pointers. Its buffer arguments are `llvm.noalias`
when each is a distinct allocation or an argument of the caller (which are `noalias` themselves);
a buffer that comes from a loop or a branch might be another one, and then none is.

    func.func @f(%x: memref<4xf32>, %0: memref<4xf32>) {
      %c0 = arith.constant 0 : index
      %c1 = arith.constant 1 : index
      %c4 = arith.constant 4 : index
      %t = memref.alloc() {alignment = 64 : i64} : memref<4xf32>
      scf.for %i = %c0 to %c4 step %c1 { … %x[%i] … %t[%i] … }
      scf.for %i = %c0 to %c4 step %c1 { … %t[%i] … %0[%i] … }
      memref.dealloc %t : memref<4xf32>
      func.return
    }
becomes
    func.func @f(%x: memref<4xf32>, %0: memref<4xf32>) {
      …
      %t = memref.alloc() {alignment = 64 : i64} : memref<4xf32>
      func.call @f_kernel0(%x, %t) : (memref<4xf32>, memref<4xf32>) -> ()
      func.call @f_kernel1(%t, %0) : (memref<4xf32>, memref<4xf32>) -> ()
      memref.dealloc %t : memref<4xf32>
      func.return
    }
    func.func private @f_kernel0(%x: memref<4xf32> {llvm.noalias}, %t: memref<4xf32> {llvm.noalias})
        attributes {no_inline} {
      %c0 = arith.constant 0 : index
      %c4 = arith.constant 4 : index
      %c1 = arith.constant 1 : index
      scf.for %i = %c0 to %c4 step %c1 { … }
      func.return
    }
    …
"""

from __future__ import annotations

from dataclasses import dataclass, field

from xdsl.context import Context
from xdsl.dialects import func, memref, scf
from xdsl.dialects.builtin import ArrayAttr, DictionaryAttr, MemRefType, ModuleOp, StringAttr, UnitAttr
from xdsl.ir import Block, BlockArgument, Operation, Region, SSAValue
from xdsl.passes import ModulePass
from xdsl.rewriter import InsertPoint, Rewriter

from compiler.passes.convert_func_to_llvm import NO_INLINE
from compiler.passes.loom_parallel_to_threads import captures, free_values, remap

KERNEL_DIALECTS = frozenset({"arith", "math", "vector"})
KERNEL_OPS = frozenset({"scf.for", "scf.if", "scf.yield", "memref.load", "memref.store", "memref.prefetch",
                        "memref.subview", "memref.collapse_shape", "memref.expand_shape"})
NOALIAS = DictionaryAttr({"llvm.noalias": UnitAttr()})


def is_kernel_op(op: Operation) -> bool:
    return op.name in KERNEL_OPS or op.dialect_name() in KERNEL_DIALECTS


def find_nests(block: Block, nests: list[scf.ForOp]) -> bool:
    """Appends the outermost outlinable loop nests in `block` to `nests` (in order); returns whether
    every op in `block` is a kernel op. One walk: each op is looked at once."""
    pure = True
    for op in block.ops:
        inner: list[scf.ForOp] = []
        ok = is_kernel_op(op)
        for region in op.regions:
            for b in region.blocks:
                ok = find_nests(b, inner) and ok
        if ok and isinstance(op, scf.ForOp) and not op.results:
            nests.append(op)
        else:
            nests.extend(inner)
        pure = pure and ok
    return pure


def distinct_buffer(v: SSAValue, entry: Block) -> bool:
    """Whether buffer `v` is memory no other buffer of the function is: an allocation, or an
    argument of the function (its arguments are `noalias`)."""
    return isinstance(v.owner, (memref.AllocOp, memref.AllocaOp)) or (isinstance(v, BlockArgument) and v.owner is entry)


def outline(loop: scf.ForOp, entry: Block) -> tuple[func.FuncOp, list[SSAValue], list[Operation]]:
    """The kernel running `loop` (not yet named; the loop is moved into it), the values to call it
    with and the ops it recomputes."""
    passed, cloned = captures(list(loop.operands) + free_values(loop.body.block, loop))
    block = Block(arg_types=[v.type for v in passed])
    mapping: dict[SSAValue, SSAValue] = dict(zip(passed, block.args))
    for arg, v in zip(block.args, passed):
        if v.name_hint:
            arg.name_hint = v.name_hint
    for o in cloned:
        c = o.clone(value_mapper=mapping)
        block.add_op(c)
        mapping.update(zip(o.results, c.results))
    loop.detach()
    block.add_op(loop)
    remap(loop, mapping)
    ret = func.ReturnOp()
    ret.location = loop.location
    block.add_op(ret)
    buffers = [isinstance(v.type, MemRefType) for v in passed]
    noalias = all(distinct_buffer(v, entry) for v, b in zip(passed, buffers) if b)
    attrs = ArrayAttr([NOALIAS if b and noalias else DictionaryAttr({}) for b in buffers])
    fn = func.FuncOp("kernel", ([v.type for v in passed], []), Region(block), visibility="private", arg_attrs=attrs)
    fn.attributes[NO_INLINE] = UnitAttr()
    fn.location = loop.location
    return fn, passed, cloned


def shape_key(fn: func.FuncOp) -> tuple:
    """A hashable digest of a kernel: equal kernels have equal keys (then compared exactly)."""
    return (fn.function_type, fn.arg_attrs,
            tuple((o.name, tuple(o.properties.values()), tuple(r.type for r in o.results)) for o in fn.body.walk()))


@dataclass
class Kernels:
    """The kernels of a module, one function per distinct body."""

    module: ModuleOp
    names: set[str]  # the module's symbols
    by_key: dict[tuple, list[func.FuncOp]] = field(default_factory=dict)
    count: int = 0

    def add(self, fn: func.FuncOp, caller: str) -> str:
        """The name of a kernel equal to `fn`: an existing one, or `fn`'s, named after its first
        caller and added to the module."""
        same = self.by_key.setdefault(shape_key(fn), [])
        for other in same:
            if fn.body.is_structurally_equivalent(other.body):
                return other.sym_name.data
        while (name := f"{caller}_kernel{self.count}") in self.names:
            self.count += 1
        self.names.add(name)
        fn.sym_name = StringAttr(name)
        same.append(fn)
        self.module.body.block.add_op(fn)
        return name


@dataclass(frozen=True)
class LoomOutlineLoops(ModulePass):
    """Options: `min-kernels` (a function with fewer outlinable loop nests is left as it is)."""

    name = "loom-outline-loops"

    min_kernels: int = 2

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        functions = [f for f in op.body.block.ops if isinstance(f, func.FuncOp) and not f.is_declaration]
        kernels = Kernels(op, {o.sym_name.data for o in op.body.block.ops if hasattr(o, "sym_name")})
        for f in functions:
            nests: list[scf.ForOp] = []
            for b in f.body.blocks:
                find_nests(b, nests)
            if len(nests) < self.min_kernels:
                continue
            for loop in nests:
                where = InsertPoint.before(loop.next_op)  # (a loop is never its block's terminator)
                fn, passed, cloned = outline(loop, f.body.blocks[0])
                call = func.CallOp(kernels.add(fn, f.sym_name.data), passed, [])
                call.location = loop.location
                Rewriter.insert_op(call, where)
                for o in reversed(cloned):  # constants and views now used inside only
                    if all(not r.uses for r in o.results):
                        Rewriter.erase_op(o)
