"""MobileNet blocks: conv helper, stem, inverted residual, depthwise-separable block."""
import pytest
import torch
from torch import nn

from slowfast.models.blocks.mobilenet import (
    ConvStem,
    DepthwiseSeparable,
    InvertedResidual,
    conv_norm_act,
    depthwise_separable_stage,
    inverted_residual_stage,
    triple,
)


def test_triple():
    assert triple(2) == (2, 2, 2)
    assert triple([1, 2, 2]) == (1, 2, 2)
    with pytest.raises(ValueError, match="triple"):
        triple((1, 2))


def test_conv_norm_act_same_padding_and_no_bias():
    block = conv_norm_act(4, 8, (1, 3, 3), (1, 2, 2), activation=None)
    assert block.conv.padding == (0, 1, 1) and block.conv.bias is None
    assert isinstance(block.act, nn.Identity)
    assert block(torch.randn(1, 4, 3, 8, 8)).shape == (1, 8, 3, 4, 4)


def test_conv_stem_with_and_without_pool():
    assert ConvStem(3, 24, pool_stride=(1, 2, 2))(torch.randn(1, 3, 4, 32, 32)).shape == (1, 24, 4, 8, 8)
    assert ConvStem(3, 24, pool_stride=2)(torch.randn(1, 3, 16, 32, 32)).shape == (1, 24, 8, 8, 8)
    stem = ConvStem(3, 32, activation=nn.ReLU6)
    assert isinstance(stem.act, nn.ReLU6) and isinstance(stem.pool, nn.Identity)
    assert stem(torch.randn(1, 3, 4, 32, 32)).shape == (1, 32, 4, 16, 16)


def test_inverted_residual_widths_and_residual():
    block = InvertedResidual(27, 27, stride=1, expand_ratio=6).eval()
    # hidden = round(27 * 6) on the (fused, odd) input width
    assert block.conv.expand.conv.out_channels == 162
    assert block.conv.depthwise.conv.groups == 162 and block.conv.depthwise.conv.kernel_size == (3, 3, 3)
    assert isinstance(block.conv.depthwise.act, nn.ReLU6) and isinstance(block.conv.project.act, nn.Identity)
    nn.init.zeros_(block.conv.project.bn.weight)
    x = torch.randn(1, 27, 2, 4, 4)
    torch.testing.assert_close(block(x), x)  # linear bottleneck + identity


def test_inverted_residual_without_expansion_or_residual():
    block = InvertedResidual(32, 16, stride=(1, 2, 2), expand_ratio=1)
    assert not hasattr(block.conv, "expand") and not block.use_residual
    assert block(torch.randn(2, 32, 4, 8, 8)).shape == (2, 16, 4, 4, 4)


def test_inverted_residual_stage_strides_only_the_first_block():
    blocks = inverted_residual_stage(16, [(6, 24, 2, (2, 2, 2))])
    assert [b.use_residual for b in blocks] == [False, True]
    out = nn.Sequential(*blocks)(torch.randn(1, 16, 4, 8, 8))
    assert out.shape == (1, 24, 2, 4, 4)


def test_depthwise_separable():
    block = DepthwiseSeparable(8, 16, stride=2)
    assert block.depthwise.conv.groups == 8 and isinstance(block.pointwise.act, nn.ReLU)
    assert block(torch.randn(1, 8, 4, 8, 8)).shape == (1, 16, 2, 4, 4)
    blocks = depthwise_separable_stage(8, [(16, 2, 2), (32, 1, 1)])
    assert len(blocks) == 3 and nn.Sequential(*blocks)(torch.randn(1, 8, 4, 8, 8)).shape == (1, 32, 2, 4, 4)
