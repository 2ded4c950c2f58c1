"""Pooled heads: exact pooling arithmetic, any crop, optional per-pathway convs, logits out."""
import pytest
import torch
import torch.nn as nn

from slowfast.models.heads import ConvNormAct, PooledHead


def test_two_pathway_head_is_linear_on_concatenated_means():
    head = PooledHead([4, 2], num_classes=3, dropout_rate=0.5).eval()
    x_slow, x_fast = torch.randn(2, 4, 2, 5, 5), torch.randn(2, 2, 8, 5, 5)
    features = torch.cat([x_slow.mean(dim=(2, 3, 4)), x_fast.mean(dim=(2, 3, 4))], dim=1)
    expected = features @ head.projection.weight.T + head.projection.bias
    assert torch.equal(head([x_slow, x_fast]), expected)


@pytest.mark.parametrize("size", [1, 3, 7, 8])
def test_head_accepts_any_spatial_size(size):
    head = PooledHead([4, 2], num_classes=3)
    assert head([torch.randn(1, 4, 2, size, size), torch.randn(1, 2, 8, size, size)]).shape == (1, 3)


def test_head_returns_logits_not_probabilities_in_eval():
    head = PooledHead([4], num_classes=3).eval()
    with torch.no_grad():
        head.projection.weight.fill_(1.0)
        head.projection.bias.zero_()
    logits = head([torch.ones(1, 4, 1, 2, 2)])
    assert torch.equal(logits, torch.full((1, 3), 4.0))


def test_pre_and_post_pool_convs_ghostnet_style():
    head = PooledHead([160, 20], num_classes=5, dropout_rate=0.2,
                      pre_pool_dims=[960, 120], post_pool_dims=[1280, 160])
    assert isinstance(head.pathway0_conv, ConvNormAct) and head.pathway0_conv.conv.bias is None
    assert head.pathway1_conv_head[0].bias is not None
    assert head.pathway1_conv_head[0].weight.shape == (160, 120, 1, 1, 1)
    assert head.projection.in_features == 1440 and head.dim_out == 1440
    assert head([torch.randn(2, 160, 2, 4, 4), torch.randn(2, 20, 8, 4, 4)]).shape == (2, 5)


def test_pre_pool_conv_only_mobilenet_style_with_relu6():
    head = PooledHead([320, 40], num_classes=5, pre_pool_dims=[1280, 160], activation=nn.ReLU6)
    assert isinstance(head.pathway0_conv.act, nn.ReLU6)
    assert head.projection.in_features == 1440


def test_head_errors_name_the_argument():
    with pytest.raises(ValueError, match="pre_pool_dims has 1 entries"):
        PooledHead([4, 2], 3, pre_pool_dims=[8])
    with pytest.raises(ValueError, match="expects 2 pathway tensors, got 1"):
        PooledHead([4, 2], 3)([torch.randn(1, 4, 1, 1, 1)])
