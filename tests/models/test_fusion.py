"""CMDA and FuseFastToSlow: identity at init, SDPA agrees with materialised attention, channel bookkeeping."""
import pytest
import torch

from slowfast.models.blocks.attention import (
    EfficientChannelAttention,
    PositionAttention,
    SqueezeExcitation,
    materialised_attention,
    memory_efficient_attention,
)
from slowfast.models.fusion import CMDA, FuseFastToSlow, build_fusion
from slowfast.config.defaults import get_cfg


def _randomise(module: torch.nn.Module, seed: int = 0) -> None:
    """Random weights everywhere, BN included, and a non-zero attention gate."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in module.named_parameters():
            param.copy_(torch.randn(param.shape, generator=generator) * 0.5)


def test_position_attention_is_identity_with_zero_gate():
    torch.manual_seed(0)
    attention = PositionAttention(7)
    x = torch.randn(2, 7, 2, 5, 3)
    assert attention.gamma.item() == 0.0
    assert torch.equal(attention(x), x)


@pytest.mark.parametrize("channels,reduction", [(7, 1), (8, 2), (3, 4)])
def test_sdpa_attention_agrees_with_materialised_reference(channels, reduction):
    """Same function, different arithmetic: SDPA's tiled kernel accumulates softmax(q kᵀ) v in
    blocks with a running maximum, the reference in one bmm; they agree to 1e-5, not bit for bit."""
    efficient = PositionAttention(channels, reduction=reduction)
    _randomise(efficient)
    reference = PositionAttention(channels, reduction=reduction, attention_fn=materialised_attention)
    reference.load_state_dict(efficient.state_dict())
    x = torch.randn(2, channels, 2, 6, 5)
    torch.testing.assert_close(efficient(x), reference(x), atol=1e-5, rtol=1e-5)
    assert efficient.query_conv.out_channels == max(1, channels // reduction)


def test_attention_kernels_agree_on_unscaled_softmax():
    q, k, v = torch.randn(3, 40, 4), torch.randn(3, 40, 4), torch.randn(3, 40, 6)
    expected = torch.softmax(q @ k.transpose(1, 2), dim=-1) @ v  # no 1/sqrt(d) scaling
    torch.testing.assert_close(memory_efficient_attention(q, k, v), expected, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(materialised_attention(q, k, v), expected, atol=1e-6, rtol=1e-6)


def test_cmda_forward_agrees_with_materialised_reference_and_backpropagates():
    """Agreement to 1e-5 (the attention kernels' summation orders differ; see above)."""
    efficient = CMDA(27, 5, alpha=4, beta_inv=8)
    _randomise(efficient)
    reference = CMDA(27, 5, alpha=4, beta_inv=8, attention_fn=materialised_attention)
    reference.load_state_dict(efficient.state_dict())
    efficient.train(), reference.train()
    x_slow, x_fast = torch.randn(2, 27, 2, 6, 6), torch.randn(2, 5, 8, 6, 6)
    out = efficient([x_slow, x_fast])
    expected = reference([x_slow, x_fast])
    for got, want in zip(out, expected):
        torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
    (out[0].sum() + out[1].square().sum()).backward()
    assert efficient.s2f_attention.gamma.grad.abs().item() > 0
    assert efficient.s2f_attention.query_conv.weight.grad.abs().sum() > 0


@pytest.mark.parametrize(
    "dim_slow,dim_fast,alpha,beta_inv,expected",
    [
        (64, 8, 4, 8, (72, 16)),     # ResNet s1_fuse: slow 64 + 8, fast 8 + 8
        (27, 3, 4, 8, (30, 6)),      # odd widths: C' = 27 // 8 = 3
        (57, 7, 4, 8, (64, 14)),     # C' = 7
        (5, 1, 2, 8, (6, 2)),        # C' floors to 0 -> at least 1 channel
    ],
)
def test_cmda_channel_bookkeeping(dim_slow, dim_fast, alpha, beta_inv, expected):
    fuse = CMDA(dim_slow, dim_fast, alpha=alpha, beta_inv=beta_inv).eval()
    assert fuse.out_dims == expected
    x_slow, x_fast = torch.randn(1, dim_slow, 2, 4, 4), torch.randn(1, dim_fast, 2 * alpha, 4, 4)
    slow_out, fast_out = fuse([x_slow, x_fast])
    assert slow_out.shape == (1, expected[0], 2, 4, 4)
    assert fast_out.shape == (1, expected[1], 2 * alpha, 4, 4)
    # Slow channels come first on the slow side, the fast input last on the fast side.
    assert torch.equal(slow_out[:, :dim_slow], x_slow)
    assert torch.equal(fast_out[:, -dim_fast:], x_fast)


def test_cmda_slow_to_fast_is_nearest_upsampled_in_time():
    fuse = CMDA(16, 2, alpha=4, beta_inv=8).eval()
    _, fast_out = fuse([torch.randn(1, 16, 3, 4, 4), torch.randn(1, 2, 12, 4, 4)])
    s2f = fast_out[:, :2]
    for t in range(12):
        assert torch.equal(s2f[:, :, t], s2f[:, :, (t // 4) * 4])


def test_fuse_fast_to_slow_matches_public_shapes():
    fuse = FuseFastToSlow(64, 8, alpha=4, beta_inv=8, channel_ratio=2, kernel_size=7)
    assert fuse.conv_f2s.weight.shape == (16, 8, 7, 1, 1)
    assert fuse.conv_f2s.stride == (4, 1, 1) and fuse.conv_f2s.bias is None
    assert fuse.out_dims == (80, 8)
    x_fast = torch.randn(1, 8, 8, 3, 3)
    slow_out, fast_out = fuse([torch.randn(1, 64, 2, 3, 3), x_fast])
    assert slow_out.shape == (1, 80, 2, 3, 3) and fast_out is x_fast


def test_build_fusion_selects_by_config_and_rejects_unknown():
    cfg = get_cfg()
    assert isinstance(build_fusion(cfg, torch.nn.BatchNorm3d)(64, 8), FuseFastToSlow)
    assert isinstance(build_fusion(cfg, torch.nn.BatchNorm3d, default="cmda")(64, 8), CMDA)
    cfg.SLOWFAST.FUSION = "cmda"
    cfg.SLOWFAST.CMDA_REDUCTION = 2
    fuse = build_fusion(cfg, torch.nn.BatchNorm3d)(64, 8)
    assert fuse.s2f_attention.query_conv.out_channels == 4
    cfg.SLOWFAST.FUSION = "concat"
    with pytest.raises(ValueError, match="SLOWFAST.FUSION 'concat'"):
        build_fusion(cfg, torch.nn.BatchNorm3d)


def test_eca_reweights_channels_by_sigmoid_of_neighbouring_means():
    eca = EfficientChannelAttention()
    with torch.no_grad():
        eca.conv.weight.copy_(torch.tensor([[[0.0, 1.0, 0.0]]]))  # each channel sees only itself
    x = torch.arange(3.0).view(1, 3, 1, 1, 1).expand(1, 3, 2, 2, 2).clone()
    expected = x * torch.sigmoid(torch.arange(3.0)).view(1, 3, 1, 1, 1)
    torch.testing.assert_close(eca(x), expected)


def test_squeeze_excitation_hard_sigmoid_gate():
    se = SqueezeExcitation(6, 4)
    with torch.no_grad():
        for param in se.parameters():
            param.zero_()
    x = torch.randn(2, 6, 2, 3, 3)
    assert torch.equal(se(x), x * 0.5)  # hard_sigmoid(0) = relu6(3) / 6 = 0.5
    assert se.conv_reduce.bias is not None and se.conv_expand.bias is not None
