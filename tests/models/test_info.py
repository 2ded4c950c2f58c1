"""Model statistics: input shapes per arch, exact FLOP counts (convs and SDPA), stage shapes."""
import pytest
import torch.nn as nn

from slowfast.config.defaults import get_cfg
from slowfast.models.blocks.attention import PositionAttention
from slowfast.models.info import (
    activations_count,
    gflops,
    input_shapes,
    model_summary,
    params_count,
    stage_output_shapes,
)


class _Single(nn.Module):
    """Wrap a one-tensor module into the list-in contract of the models."""

    def __init__(self, module):
        super().__init__()
        self.body = module

    def forward(self, x):
        return self.body(x[0])


def _cfg(arch="slowfast", frames=32, train_crop=224, test_crop=256):
    cfg = get_cfg()
    cfg.NUM_GPUS = 0
    cfg.MODEL.ARCH = arch
    cfg.SLOWFAST.ALPHA = 4
    cfg.DATA.NUM_FRAMES = frames
    cfg.DATA.TRAIN_CROP_SIZE, cfg.DATA.TEST_CROP_SIZE = train_crop, test_crop
    if arch != "slowfast":
        cfg.DATA.INPUT_CHANNEL_NUM = [3]
    return cfg


def test_input_shapes_per_arch_and_mode():
    assert input_shapes(_cfg(), "train") == [(3, 8, 224, 224), (3, 32, 224, 224)]
    assert input_shapes(_cfg(), "test") == [(3, 8, 256, 256), (3, 32, 256, 256)]
    assert input_shapes(_cfg("i3d", frames=8), "train") == [(3, 8, 224, 224)]
    with pytest.raises(ValueError, match="mode must be"):
        input_shapes(_cfg(), "val")
    with pytest.raises(ValueError, match="DATA.NUM_FRAMES 30 must be divisible by SLOWFAST.ALPHA 4"):
        input_shapes(_cfg(frames=30))


def test_gflops_counts_one_multiply_add_per_flop():
    conv = nn.Conv3d(3, 4, kernel_size=(1, 3, 3), padding=(0, 1, 1), bias=False)
    cfg = _cfg("c2d", frames=2, train_crop=8, test_crop=16)
    # out elements (4·2·8·8) × MACs per element (3·1·3·3)
    assert gflops(_Single(conv), cfg, "train") == 4 * 2 * 8 * 8 * 27 / 1e9
    assert gflops(_Single(conv), cfg, "test") == 4 * 2 * 16 * 16 * 27 / 1e9
    assert activations_count(_Single(conv), cfg) == 4 * 2 * 8 * 8 / 1e6


def test_gflops_counts_sdpa_attention():
    attention = PositionAttention(4, reduction=2)
    cfg = _cfg("c2d", frames=2, train_crop=4)
    cfg.DATA.INPUT_CHANNEL_NUM = [4]
    positions = 2 * 4 * 4
    convs = positions * (4 * 2 + 4 * 2 + 4 * 4)  # q, k (4 -> 2) and v (4 -> 4), 1x1x1
    attend = positions * positions * (2 + 4)     # q·kᵀ (d = 2) and A·v (C = 4)
    assert gflops(_Single(attention), cfg) == (convs + attend) / 1e9


def test_stage_output_shapes_and_summary_leave_model_untouched():
    from slowfast.models.build import build_model

    cfg = _cfg(frames=8, train_crop=32, test_crop=32)
    cfg.RESNET.WIDTH_DIVISOR = 8
    cfg.RESNET.SPATIAL_STRIDES = [[1, 1], [2, 2], [2, 2], [2, 2]]
    model = build_model(cfg).train()
    shapes = stage_output_shapes(model, cfg)
    assert list(shapes) == ["s1", "s1_fuse", "s2", "s2_fuse", "s3", "s3_fuse", "s4", "s4_fuse", "s5"]
    assert shapes["s4_fuse"] == [(1, 160, 2, 2, 2), (1, 16, 8, 2, 2)]
    assert model.training  # statistics run on a deep copy
    summary = model_summary(model, cfg)
    assert f"{params_count(model) / 1e6:10.2f} M" in summary
    assert "s4_fuse" in summary and "(1, 160, 2, 2, 2)" in summary
    assert all(p.grad is None for p in model.parameters())
    assert params_count(nn.Linear(3, 2)) == 8
