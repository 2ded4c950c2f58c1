"""GhostNet blocks: make_divisible, ghost module, ghost bottleneck."""
import pytest
import torch
from torch import nn

from slowfast.models.blocks.attention import SqueezeExcitation
from slowfast.models.blocks.ghost import GhostBottleneck, GhostModule, ghost_stage, make_divisible


@pytest.mark.parametrize(
    "value, expected",
    [(2, 4), (5, 8), (10, 12), (14, 16), (20, 20), (16 * 1.5, 24), (72 * 1.5, 108), (960 * 1.5, 1440), (120, 120)],
)
def test_make_divisible(value, expected):
    assert make_divisible(value, 4) == expected


def test_ghost_module_keeps_the_requested_odd_width():
    module = GhostModule(6, 7, relu=False)
    assert module.primary_conv.conv.out_channels == 4  # ceil(7 / 2)
    assert module.cheap_operation.conv.groups == 4 and module.cheap_operation.conv.kernel_size == (3, 3, 3)
    assert isinstance(module.primary_conv.act, nn.Identity)
    x = torch.randn(2, 6, 3, 5, 5)
    out = module(x)
    assert out.shape == (2, 7, 3, 5, 5)
    torch.testing.assert_close(out[:, :4], module.primary_conv(x))


def test_ghost_bottleneck_identity_shortcut():
    block = GhostBottleneck(16, 16, 16).eval()
    assert isinstance(block.shortcut, nn.Identity) and isinstance(block.depthwise, nn.Identity)
    nn.init.zeros_(block.ghost2.primary_conv.bn.weight)
    nn.init.zeros_(block.ghost2.cheap_operation.bn.weight)
    x = torch.randn(1, 16, 2, 4, 4)
    torch.testing.assert_close(block(x), x)


def test_strided_ghost_bottleneck_with_se():
    block = GhostBottleneck(24, 72, 40, kernel=5, stride=2, se_ratio=0.25)
    assert block.depthwise.conv.kernel_size == (1, 5, 5) and block.depthwise.conv.stride == (1, 2, 2)
    assert isinstance(block.se, SqueezeExcitation)
    assert block.se.conv_reduce.out_channels == 20  # make_divisible(72 * 0.25, 4)
    assert isinstance(block.se.gate, nn.Hardsigmoid)
    assert block.shortcut.depthwise.conv.groups == 24 and block.shortcut.pointwise.conv.out_channels == 40
    assert block(torch.randn(2, 24, 3, 8, 8)).shape == (2, 40, 3, 4, 4)


def test_ghost_stage():
    blocks = ghost_stage(16, [(3, 48, 24, 0.0, 2), (3, 72, 24, 0.0, 1)])
    assert isinstance(blocks[1].shortcut, nn.Identity)
    assert nn.Sequential(*blocks)(torch.randn(1, 16, 2, 8, 8)).shape == (1, 24, 2, 4, 4)
