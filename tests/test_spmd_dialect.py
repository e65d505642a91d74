"""The shard dialect as Loom loads it (dialects/shard_ext.py): xDSL's ops and the upstream ops we add
print in upstream MLIR's syntax, parse back, and verify their shapes against the grid."""

import pytest
from xdsl.parser import Parser
from xdsl.utils.exceptions import VerifyException

from compiler.pipeline import make_context
from dialects import shard_ext

MODULE = """
shard.grid @M(shape = 2x4)
func.func @f(%x: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %a = shard.all_gather %x on @M grid_axes = [1] gather_axis = 0 : tensor<4x8xf32> -> tensor<16x8xf32>
  %b = shard.reduce_scatter %a on @M grid_axes = [1] scatter_axis = 0 : tensor<16x8xf32> -> tensor<4x8xf32>
  %c = shard.reduce_scatter %a on @M grid_axes = [1] reduction = max scatter_axis = 0 : tensor<16x8xf32> -> tensor<4x8xf32>
  %d = shard.all_to_all %b on @M grid_axes = [0, 1] split_axis = 1 concat_axis = 0 : tensor<4x8xf32> -> tensor<32x1xf32>
  %e = shard.all_slice %x on @M grid_axes = [0] slice_axis = 1 : tensor<4x8xf32> -> tensor<4x4xf32>
  %f = shard.all_reduce %b on @M grid_axes = [0] reduction = max : tensor<4x8xf32> -> tensor<4x8xf32>
  %g = shard.shift %f on @M grid_axes = [1] shift_axis = 1 offset = -1 rotate : tensor<4x8xf32> -> tensor<4x8xf32>
  %h = shard.broadcast %g on @M grid_axes = [1] root = [3] : (tensor<4x8xf32>) -> tensor<4x8xf32>
  %i = shard.process_multi_index on @M axes = [1] : index
  %r = shard.process_linear_index on @M : index
  %n, %n_1 = shard.grid_shape @M axes = [0, 1] : index, index
  %in = spmd.enter %h on @M grid_axes = [0, 1] : tensor<4x8xf32>
  %out = spmd.exit %in on @M grid_axes = [0, 1] : tensor<4x8xf32>
  func.return %out : tensor<4x8xf32>
}
"""


def parse(text: str):
    m = Parser(make_context(), text).parse_module()
    m.verify()
    return m


def test_ops_print_in_upstream_syntax_and_parse_back():
    m = parse(MODULE)
    printed = str(m)
    for line in MODULE.strip().splitlines()[1:-1]:
        assert line.strip() in printed
    assert str(parse(printed)) == printed


def test_every_added_op_is_in_the_combined_dialect():
    names = {op.name for op in shard_ext.SHARD.operations}
    assert {"shard.all_gather", "shard.reduce_scatter", "shard.all_to_all", "shard.all_slice",
            "shard.all_reduce", "shard.broadcast", "shard.shift", "shard.grid"} <= names


@pytest.mark.parametrize("line, message", [
    ("shard.all_gather %x on @M grid_axes = [1] gather_axis = 0 : tensor<4x8xf32> -> tensor<8x8xf32>",
     "does not match the expected [16, 8]"),
    ("shard.all_gather %x on @M grid_axes = [1] gather_axis = 2 : tensor<4x8xf32> -> tensor<16x8xf32>",
     "gather_axis 2 out of range"),
    ("shard.reduce_scatter %x on @M grid_axes = [1] scatter_axis = 0 : tensor<4x8xf32> -> tensor<4x8xf32>",
     "does not match the expected [1, 8]"),
    ("shard.all_to_all %x on @M grid_axes = [1] split_axis = 0 concat_axis = 1 : tensor<4x8xf32> -> tensor<1x8xf32>",
     "does not match the expected [1, 32]"),
    ("shard.all_slice %x on @M grid_axes = [1] slice_axis = 0 : tensor<4x8xf32> -> tensor<1x8xf64>",
     "same element type"),
    ("shard.all_gather %x on @M grid_axes = [2] gather_axis = 0 : tensor<4x8xf32> -> tensor<16x8xf32>",
     "grid axis 2 out of range"),
    ("shard.all_slice %x on @M grid_axes = [0, 1] slice_axis = 0 : tensor<4x8xf32> -> tensor<1x8xf32>",
     "does not split into 8 parts"),
])
def test_verifier_errors(line, message):
    text = f"""
shard.grid @M(shape = 2x4)
func.func @f(%x: tensor<4x8xf32>) {{
  %r = {line}
  func.return
}}
"""
    with pytest.raises(VerifyException, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse(text)
