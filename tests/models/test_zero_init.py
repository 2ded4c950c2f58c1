"""MODEL.ZERO_INIT_FINAL_BN for the efficient families: which norms start at gamma 0, and that it
changes values only (names and shapes stay, so released checkpoints load)."""
import pytest
import torch

from slowfast.config.defaults import get_cfg
from slowfast.models.blocks.mobilenet import InvertedResidual
from slowfast.models.build import build_model


def cfg_of(name, zero, width=None):
    cfg = get_cfg()
    cfg.NUM_GPUS = 0
    cfg.MODEL.MODEL_NAME, cfg.MODEL.NUM_CLASSES, cfg.MODEL.ZERO_INIT_FINAL_BN = name, 5, zero
    cfg.SLOWFAST.WIDTH_MULTI = width or cfg.SLOWFAST.WIDTH_MULTI
    return cfg


def zero_gamma_norms(model):
    return sorted(n for n, m in model.named_modules() if isinstance(m, torch.nn.BatchNorm3d) and not m.weight.any())


@pytest.mark.parametrize("name, width, expected", [
    # SNV2 W0.5: 16 units per pathway, each branch2's project norm.
    ("SlowFastShuffleNetV2", 0.5, 32),
    # ShuffleNet (V1) W1.0: 16 units per pathway, conv3's norm.
    ("SlowFastShuffleNet", 1.0, 32),
    # MobileNetV2: the residual inverted blocks only: 10 per pathway, plus the fast s8 block whose
    # input, widened by CMDA's slow->fast channels, happens to equal its output (10 + 10 = 20).
    ("SlowFastMobileNetV2", 0.5, 21),
    # GhostNet: the 16 bottlenecks per pathway, both norms of ghost2.
    ("SlowFastGhostNet", 1.0, 64),
])
def test_zero_init_marks_each_units_final_branch_norm(name, width, expected):
    torch.manual_seed(0)
    plain, zero = build_model(cfg_of(name, False, width)), build_model(cfg_of(name, True, width))
    assert zero_gamma_norms(plain) == []
    names = zero_gamma_norms(zero)
    assert len(names) == expected
    assert all(("pathway0_" in n) != ("pathway1_" in n) for n in names)
    shapes = {k: v.shape for k, v in plain.state_dict().items()}
    assert shapes == {k: v.shape for k, v in zero.state_dict().items()}


def test_residual_inverted_block_starts_as_the_identity_and_strided_ones_are_untouched():
    from slowfast.models.two_pathway import init_weights

    block, strided = InvertedResidual(8, 8, 1, 6), InvertedResidual(8, 16, 2, 6)
    init_weights(block, zero_init_final_bn=True)
    init_weights(strided, zero_init_final_bn=True)
    x = torch.randn(2, 8, 2, 4, 4)
    assert torch.equal(block(x), x)
    assert strided.conv.project.bn.weight.eq(1).all()
