"""The composition: public module names, width bookkeeping, pooling, clear errors."""
import functools

import pytest
import torch
import torch.nn as nn

from slowfast.models.fusion import CMDA, FuseFastToSlow
from slowfast.models.heads import PooledHead
from slowfast.models.two_pathway import PathwayStage, StageSpec, TwoPathwayNet, init_weights


def _stem(pathway, dim_in):
    width = 16 if pathway == 0 else 2
    return [nn.Conv3d(dim_in, width, 3, padding=1)], width


def _stage(pathway, dim_in):
    width = 32 if pathway == 0 else 4
    return [nn.Conv3d(dim_in, width, 1), nn.Conv3d(width, width, 1)], width


def _head(dims):
    return PooledHead(dims, num_classes=10, dropout_rate=0.5)


def _toy_net(fuse_name="s1_fuse", fusion=functools.partial(CMDA, alpha=4, beta_inv=8), pool_after=None):
    return TwoPathwayNet(
        dims_in=[3, 3],
        stages=[
            StageSpec("s1", _stem, block_prefix="stem", indexed=False, fuse_name=fuse_name),
            StageSpec("s2", _stage, block_prefix="unit", pool_after=pool_after),
        ],
        fusion=fusion,
        head=_head,
    )


def test_module_names_and_width_bookkeeping():
    net = _toy_net()
    names = {name for name, _ in net.named_modules()}
    assert {"s1.pathway0_stem", "s1.pathway1_stem", "s1_fuse", "s2.pathway0_unit0",
            "s2.pathway1_unit1", "head.projection"} <= names
    assert net.feature_names == ["s1", "s1_fuse", "s2"]
    assert net.out_dims == {"s1": (16, 2), "s1_fuse": (18, 4), "s2": (32, 4)}
    # The first block of s2 was built for the fused widths.
    assert net.s2.pathway0_unit0.in_channels == 18 and net.s2.pathway1_unit0.in_channels == 4
    logits = net([torch.randn(2, 3, 2, 8, 8), torch.randn(2, 3, 8, 8, 8)])
    assert logits.shape == (2, 10)


def test_explicit_fuse_name_and_lateral_fusion():
    net = _toy_net(fuse_name="s3_fuse", fusion=functools.partial(FuseFastToSlow, alpha=4, beta_inv=8))
    assert net.feature_names == ["s1", "s3_fuse", "s2"]
    assert net.out_dims["s3_fuse"] == (16 + 4, 2)


def test_pool_after_halves_time_per_pathway():
    net = _toy_net(pool_after=[(1, 1, 1), (2, 1, 1)])
    features = net.forward_features([torch.randn(1, 3, 2, 4, 4), torch.randn(1, 3, 8, 4, 4)])
    assert features[0].shape == (1, 32, 2, 4, 4)
    assert features[1].shape == (1, 4, 4, 4, 4)
    assert isinstance(net.s2_pool.pathway1_pool, nn.MaxPool3d)


def test_single_pathway_composition():
    net = TwoPathwayNet([3], [StageSpec("s1", _stem, "stem", indexed=False), StageSpec("s2", _stage)], None, _head)
    assert net([torch.randn(1, 3, 2, 4, 4)]).shape == (1, 10)
    assert hasattr(net.s2, "pathway0_res1")


def test_clear_errors():
    net = _toy_net()
    with pytest.raises(ValueError, match="list of 2 pathway tensors, got 1"):
        net([torch.randn(1, 3, 2, 4, 4)])
    with pytest.raises(ValueError, match="unindexed stage 'stem'"):
        PathwayStage([[nn.Identity(), nn.Identity()]], "stem", indexed=False)
    with pytest.raises(ValueError, match="duplicate module name 's1'"):
        TwoPathwayNet([3, 3], [StageSpec("s1", _stem, "stem", False), StageSpec("s1", _stage)], None, _head)
    with pytest.raises(ValueError, match="asks for fusion 's1_fuse'"):
        TwoPathwayNet([3], [StageSpec("s1", _stem, "stem", False, fuse_name="s1_fuse")], None, _head)


def test_init_weights_public_convention():
    torch.manual_seed(0)
    bn = nn.BatchNorm3d(4)
    bn.transform_final_bn = True
    model = nn.Sequential(nn.Conv3d(3, 4, 1, bias=True), bn, nn.BatchNorm3d(4), nn.Linear(4000, 10))
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(5.0)
    init_weights(model, fc_init_std=0.01, zero_init_final_bn=True)
    assert torch.equal(model[0].bias, torch.zeros(4))
    assert torch.equal(model[1].weight, torch.zeros(4)) and torch.equal(model[2].weight, torch.ones(4))
    assert torch.equal(model[3].bias, torch.zeros(10))
    assert abs(model[3].weight.std().item() - 0.01) < 0.001
    # MSRA fan-out: std = sqrt(2 / (out_channels * kernel volume)) = sqrt(2 / 4).
    init_weights(model, zero_init_final_bn=False)
    assert torch.equal(model[1].weight, torch.ones(4))
