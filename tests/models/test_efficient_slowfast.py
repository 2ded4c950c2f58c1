"""Efficient two-pathway SlowFast variants: every released width/groups builds from its config,
channel bookkeeping per models.md §3/§6, module names, head, gradients."""
import glob
import os

import pytest
import torch
from torch import nn

from slowfast.config.defaults import get_cfg
from slowfast.config.loader import load_config
from slowfast.models import build_model
from slowfast.models.build import MODEL_REGISTRY
from slowfast.models.fusion import CMDA
from tests.models.efficient_checks import assert_every_parameter_learns

CONFIG_ROOT = os.path.join(os.path.dirname(__file__), "..", "..", "configs")
VARIANT_CONFIGS = sorted(
    glob.glob(os.path.join(CONFIG_ROOT, "Kinetics", "SLOWFAST_*_W*_8x8_R50_stepwise_multigrid.yaml"))
)
FAMILIES = ("SHUFFLENETV2", "SHUFFLENET", "MOBILENETV2", "GHOSTNET")


def small_cfg(name, width=1.0, groups=1, num_classes=7):
    cfg = get_cfg()
    cfg.NUM_GPUS = 0
    cfg.MODEL.MODEL_NAME = name
    cfg.MODEL.NUM_CLASSES = num_classes
    cfg.SLOWFAST.ALPHA = 4
    cfg.SLOWFAST.WIDTH_MULTI = width
    cfg.SLOWFAST.GROUPS = groups
    return cfg


def tiny_clip(batch=2, size=32):
    return [torch.randn(batch, 3, 4, size, size), torch.randn(batch, 3, 16, size, size)]


def test_variant_configs_cover_the_released_table():
    names = {os.path.basename(p) for p in VARIANT_CONFIGS}
    expected = (
        [f"SLOWFAST_SHUFFLENET_W{w}_G{g}_8x8_R50_stepwise_multigrid.yaml" for w in (1.0, 1.5, 2.0) for g in (1, 3)]
        + [f"SLOWFAST_SHUFFLENETV2_W{w}_8x8_R50_stepwise_multigrid.yaml" for w in (0.25, 0.5, 1.0, 1.5, 2.0)]
        + [f"SLOWFAST_MOBILENETV2_W{w}_8x8_R50_stepwise_multigrid.yaml" for w in (0.5, 0.7, 1.0, 2.0)]
        + [f"SLOWFAST_GHOSTNET_W{w}_8x8_R50_stepwise_multigrid.yaml" for w in (1.0, 1.5, 2.0)]
    )
    assert names == set(expected)


@pytest.mark.parametrize("path", VARIANT_CONFIGS, ids=os.path.basename)
def test_every_released_variant_builds_and_runs(path):
    cfg = load_config(path_to_config=path, opts=["NUM_GPUS", "0"])
    model = build_model(cfg).eval()
    with torch.no_grad():
        logits = model(tiny_clip(batch=1))
    assert logits.shape == (1, 400)
    # Channel bookkeeping: every fusion's slow input is floor(C_s / 8) * 8-compatible (§6).
    for name, module in model.named_children():
        if isinstance(module, CMDA):
            stage_dims = model.out_dims[model.feature_names[model.feature_names.index(name) - 1]]
            assert module.out_dims == (stage_dims[0] + stage_dims[1], stage_dims[0] // 8 + stage_dims[1])


@pytest.mark.parametrize("dataset", ["Kinetics", "Jester"])
@pytest.mark.parametrize("family", FAMILIES)
def test_base_configs_hold_the_recipe(dataset, family):
    path = os.path.join(CONFIG_ROOT, dataset, f"SLOWFAST_{family}_8x8_R50_stepwise_multigrid.yaml")
    cfg = load_config(path_to_config=path)
    assert cfg.MODEL.MODEL_NAME in MODEL_REGISTRY
    assert (cfg.DATA.NUM_FRAMES, cfg.DATA.SAMPLING_RATE, cfg.DATA.TRAIN_CROP_SIZE) == (16, 2, 112)
    assert list(cfg.DATA.TRAIN_JITTER_SCALES) == [125, 160]
    assert (cfg.SLOWFAST.ALPHA, cfg.SLOWFAST.BETA_INV, cfg.SLOWFAST.WIDTH_MULTI) == (4, 8, 2.0)
    assert cfg.MULTIGRID.LONG_CYCLE and cfg.MULTIGRID.SHORT_CYCLE
    assert list(cfg.SOLVER.STEPS) == [0, 30, 50, 70, 90, 95] and cfg.SOLVER.MAX_EPOCH == 100
    if dataset == "Jester":
        assert (cfg.MODEL.NUM_CLASSES, cfg.MODEL.DROPOUT_RATE, cfg.DATA.RANDOM_FLIP) == (27, 0.2, False)
        assert (cfg.DATA.TARGET_FPS, cfg.SOLVER.BASE_LR) == (12, 0.1)
        assert (cfg.TRAIN.DATASET, cfg.TEST.DATASET) == ("jester", "jester")
    else:
        assert (cfg.MODEL.NUM_CLASSES, cfg.MODEL.DROPOUT_RATE) == (400, 0.5)
        assert cfg.SOLVER.BASE_LR == (0.1 if family == "MOBILENETV2" else 0.01)


def test_shufflenetv2_widths_per_spec():
    model = build_model(small_cfg("SlowFastShuffleNetV2", 1.0))
    dims = model.out_dims
    assert [dims[s] for s in ("s1", "s2", "s3", "s4")] == [(24, 3), (116, 14), (240, 30), (464, 58)]
    # CMDA: slow + fast, floor(slow / 8) + fast -- odd widths (27) included.
    assert dims["s1_fuse"] == (27, 6) and dims["s4_fuse"] == (522, 116)
    assert model.head.pathway0_conv.conv.out_channels == 1024
    assert model.head.pathway1_conv.conv.out_channels == 128
    assert model.head.projection.in_features == 1024 + 128


def test_shufflenet_groups3_rounds_channels_at_every_width():
    for width, fast_s2 in ((1.0, 30), (1.5, 45), (2.0, 60)):
        model = build_model(small_cfg("SlowFastShuffleNet", width, groups=3))
        assert model.out_dims["s2"][1] == fast_s2
        for module in model.modules():
            if isinstance(module, nn.Conv3d):
                assert module.in_channels % module.groups == 0 and module.out_channels % module.groups == 0
    # The released default (W2 g3) keeps its grouped first convs.
    model = build_model(small_cfg("SlowFastShuffleNet", 2.0, groups=3))
    assert model.s2.pathway0_unit0.conv1.conv.groups == 3


def test_mobilenetv2_stages_fusions_and_head():
    model = build_model(small_cfg("SlowFastMobileNetV2", 1.0))
    assert model.feature_names == ["s1", "s2", "s3_fuse", "s4", "s4_fuse", "s5", "s5_fuse", "s6", "s7", "s7_fuse", "s8"]
    assert model.out_dims["s1"] == (32, 4) and model.out_dims["s8"] == (320, 40)
    assert model.head.pathway0_conv.conv.out_channels == 1280 and model.head.pathway1_conv.conv.out_channels == 160
    assert isinstance(model.head.pathway0_conv.act, nn.ReLU6)
    assert model.head.projection.in_features == 1440
    # The released misspelt name builds the same network.
    alias = build_model(small_cfg("SlowFastMoibleNetV2", 1.0))
    assert alias.state_dict().keys() == model.state_dict().keys()


def test_ghostnet_head_returns_logits():
    model = build_model(small_cfg("SlowFastGhostNet", 1.0))
    head = model.head
    assert (head.pathway0_conv.conv.in_channels, head.pathway0_conv.conv.out_channels) == (160, 960)
    assert (head.pathway1_conv.conv.in_channels, head.pathway1_conv.conv.out_channels) == (20, 120)
    assert head.pathway0_conv_head[0].out_channels == 1280 and head.pathway0_conv_head[0].bias is not None
    assert head.pathway1_conv_head[0].out_channels == 160
    assert head.projection.in_features == 1440
    assert model.out_dims["s0"] == (16, 4)
    model.eval()
    with torch.no_grad():
        nn.init.normal_(head.projection.bias, std=1.0)
        logits = model(tiny_clip())
    # Logits, not ReLU'd scores (the release's eval defect).
    assert (logits < 0).any()


@pytest.mark.parametrize(
    "name, cam_layer",
    [("SlowFastShuffleNet", "s4_fuse"), ("SlowFastShuffleNetV2", "s4_fuse"), ("SlowFastMobileNetV2", "s8"),
     ("SlowFastGhostNet", "s5")],
)
def test_gradcam_layers_exist(name, cam_layer):
    modules = dict(build_model(small_cfg(name)).named_modules())
    assert cam_layer in modules and "s6_fuse" not in modules


@pytest.mark.parametrize(
    "name", ["SlowFastShuffleNet", "SlowFastShuffleNetV2", "SlowFastMobileNetV2", "SlowFastGhostNet"]
)
def test_backward_reaches_every_parameter(name):
    torch.manual_seed(0)
    model = build_model(small_cfg(name, groups=3 if name == "SlowFastShuffleNet" else 1)).train()
    # CMDA's gate starts at 0 (identity), which would cut the gradient to q/k/v: open it.
    for module in model.modules():
        if isinstance(module, CMDA):
            nn.init.ones_(module.s2f_attention.gamma)
    logits = model(tiny_clip())
    nn.functional.cross_entropy(logits, torch.tensor([1, 2])).backward()
    assert_every_parameter_learns(model)


@pytest.mark.parametrize(
    "name, groups", [("SlowFastShuffleNet", 3), ("SlowFastShuffleNetV2", 1), ("SlowFastMobileNetV2", 1),
                     ("SlowFastGhostNet", 1)]
)
def test_channels_last_model_and_inputs_agree_with_contiguous_logits(name, groups):
    """Other convolution kernels, other summation orders: agreement to rtol 1e-4 / atol 1e-5."""
    model = build_model(small_cfg(name, 1.0, groups)).eval()
    clip = tiny_clip()
    with torch.no_grad():
        expected = model(clip)
        model = model.to(memory_format=torch.channels_last_3d)
        out = model([x.to(memory_format=torch.channels_last_3d) for x in clip])
    torch.testing.assert_close(out, expected, rtol=1e-4, atol=1e-5)


def test_bad_config_values_name_the_key():
    with pytest.raises(ValueError, match="SLOWFAST.WIDTH_MULTI 0.75"):
        build_model(small_cfg("SlowFastShuffleNetV2", 0.75))
    with pytest.raises(ValueError, match="SLOWFAST.GROUPS 5"):
        build_model(small_cfg("SlowFastShuffleNet", 1.0, groups=5))
    cfg = small_cfg("SlowFastGhostNet")
    cfg.MODEL.ARCH = "single_stream"
    with pytest.raises(ValueError, match="MODEL.ARCH 'single_stream'"):
        build_model(cfg)
