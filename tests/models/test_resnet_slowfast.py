"""ResNet family: published parameter counts, public module names, stage shapes, init, errors."""
import pytest
import torch

from slowfast.config.defaults import get_cfg
from slowfast.config.loader import load_config
from slowfast.models.blocks.resnet import block_temporal_kernels
from slowfast.models.build import build_model
from slowfast.models.info import gflops, params_count, stage_output_shapes
from slowfast.utils.errors import ConfigError

KINETICS = "configs/Kinetics/"


def _model(config: str, *opts):
    cfg = load_config(path_to_config=KINETICS + config, opts=["NUM_GPUS", "0", *opts])
    return build_model(cfg), cfg


# Published figures (parameters, 400 classes), to the precision they are published with.
@pytest.mark.parametrize(
    "config,millions",
    [
        ("SLOWFAST_8x8_R50.yaml", 34.57),
        ("SLOWFAST_4x16_R50.yaml", 34.48),
        ("SLOWFAST_8x8_R101.yaml", 62.83),
        ("SLOW_8x8_R50.yaml", 32.45),
        ("I3D_8x8_R50.yaml", 28.04),
        ("C2D_8x8_R50.yaml", 24.33),
    ],
)
def test_published_parameter_counts(config, millions):
    model, _ = _model(config)
    assert round(params_count(model) / 1e6, 2) == millions


def test_slowfast_8x8_r50_exact_parameter_count_and_widths():
    model, _ = _model("SLOWFAST_8x8_R50.yaml")
    assert params_count(model) == 34_566_488
    assert model.out_dims == {
        "s1": (64, 8), "s1_fuse": (80, 8), "s2": (256, 32), "s2_fuse": (320, 32),
        "s3": (512, 64), "s3_fuse": (640, 64), "s4": (1024, 128), "s4_fuse": (1280, 128),
        "s5": (2048, 256),
    }
    assert model.head.projection.in_features == 2304


# Documented public SlowFast names and their shapes in SlowFast 8x8 R50 (400 classes).
PUBLIC_NAMES = {
    "s1.pathway0_stem.conv.weight": (64, 3, 1, 7, 7),
    "s1.pathway1_stem.conv.weight": (8, 3, 5, 7, 7),
    "s1.pathway1_stem.bn.running_var": (8,),
    "s1_fuse.conv_f2s.weight": (16, 8, 7, 1, 1),
    "s1_fuse.bn.weight": (16,),
    "s2.pathway0_res0.branch1.weight": (256, 80, 1, 1, 1),
    "s2.pathway0_res0.branch1_bn.bias": (256,),
    "s2.pathway0_res0.branch2.a.weight": (64, 80, 1, 1, 1),
    "s2.pathway1_res2.branch2.a_bn.weight": (8,),
    "s2.pathway1_res0.branch2.a.weight": (8, 8, 3, 1, 1),
    "s3.pathway0_res0.branch2.b.weight": (128, 128, 1, 3, 3),
    "s4.pathway0_res0.branch2.a.weight": (256, 640, 3, 1, 1),
    "s4_fuse.conv_f2s.weight": (256, 128, 7, 1, 1),
    "s5.pathway0_res2.branch2.c.weight": (2048, 512, 1, 1, 1),
    "s5.pathway0_res2.branch2.c_bn.running_mean": (2048,),
    "head.projection.weight": (400, 2304),
    "head.projection.bias": (400,),
}


def test_public_slowfast_state_dict_round_trip(tmp_path):
    model, cfg = _model("SLOWFAST_8x8_R50.yaml")
    state = model.state_dict()
    for name, shape in PUBLIC_NAMES.items():
        assert tuple(state[name].shape) == shape, name
    prefixes = {key.split(".")[0] for key in state}
    assert prefixes == {"s1", "s1_fuse", "s2", "s2_fuse", "s3", "s3_fuse", "s4", "s4_fuse", "s5", "head"}
    # A public-style checkpoint file loads strictly into a fresh model.
    path = tmp_path / "public_style.pyth"
    torch.save({"model_state": {k: v.clone() for k, v in state.items()}}, path)
    fresh = build_model(cfg)
    fresh.load_state_dict(torch.load(path)["model_state"], strict=True)
    assert torch.equal(fresh.s4_fuse.conv_f2s.weight, model.s4_fuse.conv_f2s.weight)


def test_stage_shapes_tiny_slowfast():
    model, cfg = _model("SLOWFAST_8x8_R50.yaml", "RESNET.WIDTH_DIVISOR", "8",
                        "DATA.NUM_FRAMES", "8", "DATA.TRAIN_CROP_SIZE", "64")
    shapes = stage_output_shapes(model, cfg)
    assert shapes["s1"] == [(1, 8, 2, 16, 16), (1, 1, 8, 16, 16)]
    assert shapes["s1_fuse"] == [(1, 10, 2, 16, 16), (1, 1, 8, 16, 16)]
    assert shapes["s3"] == [(1, 64, 2, 8, 8), (1, 8, 8, 8, 8)]
    assert shapes["s5"] == [(1, 256, 2, 2, 2), (1, 32, 8, 2, 2)]  # no temporal downsampling


def test_dual_attention_widths_include_cmda_channels_at_every_fuse():
    model, _ = _model("SLOWFAST_DUAL_8x8_R50_stepwise_multigrid.yaml")
    assert model.out_dims["s1_fuse"] == (72, 16)  # slow 64 + 8, fast 8 + 8
    for k in range(1, 5):
        dim_slow, dim_fast = model.out_dims[f"s{k}"]
        fused = (dim_slow + dim_fast, dim_slow // 8 + dim_fast)
        assert model.out_dims[f"s{k}_fuse"] == fused
        next_stage = getattr(model, f"s{k + 1}")
        assert next_stage.pathway0_res0.branch2.a.in_channels == fused[0]
        assert next_stage.pathway1_res0.branch2.a.in_channels == fused[1]
        assert getattr(model, f"s{k}_fuse").s2f_attention.gamma.item() == 0.0
    assert model.head.projection.in_features == 2048 + 256


@pytest.mark.parametrize(
    "arch,temporal_kernels,time_after_s2",
    [("c2d", [1, 1, 1, 1, 1, 1], 4), ("i3d", [3, 1, 3, 1, 3, 1], 4), ("slow", [3, 3, 3, 3, 3, 3], 8)],
)
def test_single_pathway_archs(arch, temporal_kernels, time_after_s2):
    model, cfg = _model("SLOW_8x8_R50.yaml", "MODEL.ARCH", arch, "RESNET.WIDTH_DIVISOR", "8",
                        "DATA.TRAIN_CROP_SIZE", "32")
    res4 = [getattr(model.s4, f"pathway0_res{i}").branch2.a.kernel_size[0] for i in range(6)]
    assert res4 == temporal_kernels
    shapes = stage_output_shapes(model, cfg)
    assert shapes["s2"][0][2] == 8 and shapes["s5"][0][2] == time_after_s2


def test_block_temporal_kernels_public_rule():
    assert block_temporal_kernels([3, 1], 4, 4) == [3, 1, 3, 1]
    assert block_temporal_kernels([3], 23, 6) == [3] * 6 + [1] * 17
    assert block_temporal_kernels([1, 3], 3, 3) == [1, 3, 1]


def test_r18_basic_blocks():
    model, _ = _model("SLOWFAST_8x8_R50.yaml", "RESNET.DEPTH", "18", "RESNET.TRANS_FUNC", "basic_transform")
    assert model.out_dims["s5"] == (512, 64)
    assert not hasattr(model.s5, "pathway0_res2")
    out = model.eval()([torch.randn(1, 3, 2, 32, 32), torch.randn(1, 3, 8, 32, 32)])
    assert out.shape == (1, 400)


def test_zero_init_final_bn_and_classifier_init():
    model, _ = _model("SLOWFAST_8x8_R50.yaml", "RESNET.WIDTH_DIVISOR", "8")
    assert torch.equal(model.s3.pathway1_res1.branch2.c_bn.weight, torch.zeros(8 * 4 * 2 // 8))
    assert torch.equal(model.s3.pathway1_res1.branch2.b_bn.weight, torch.ones(2))
    assert torch.equal(model.head.projection.bias, torch.zeros(400))
    model, _ = _model("SLOWFAST_8x8_R50.yaml", "RESNET.WIDTH_DIVISOR", "8", "RESNET.ZERO_INIT_FINAL_BN", "False")
    assert torch.equal(model.s3.pathway1_res1.branch2.c_bn.weight, torch.ones(8))


def test_eval_forward_returns_logits_at_any_crop():
    model, _ = _model("SLOWFAST_8x8_R50.yaml", "RESNET.WIDTH_DIVISOR", "8", "MODEL.NUM_CLASSES", "5")
    model.eval()
    with torch.no_grad():
        for crop in (32, 48):
            logits = model([torch.randn(2, 3, 2, crop, crop), torch.randn(2, 3, 8, crop, crop)])
            assert logits.shape == (2, 5)
            assert not torch.allclose(logits.sum(dim=1), torch.ones(2))


@pytest.mark.parametrize(
    "opts,message",
    [
        (["MODEL.ARCH", "i3d"], "MODEL.ARCH 'i3d' is not valid for SlowFast"),
        (["RESNET.WIDTH_DIVISOR", "16"], "RESNET.WIDTH_DIVISOR 16"),
        (["RESNET.DEPTH", "34"], "RESNET.DEPTH 34"),
        (["RESNET.SPATIAL_STRIDES", "[[1, 1, 1], [2], [2], [2]]"], r"RESNET.SPATIAL_STRIDES\[0\]"),
    ],
)
def test_bad_config_errors_name_the_key(opts, message):
    with pytest.raises(ValueError, match=message):
        _model("SLOWFAST_8x8_R50.yaml", *opts)


def test_single_pathway_resnet_with_two_pathway_strides_names_key_and_fix():
    with pytest.raises(ConfigError, match=r"RESNET.SPATIAL_STRIDES\[1\] = \[2, 2\] needs 1 entry \(one pathway\)") as info:
        _model("SLOW_8x8_R50.yaml", "RESNET.WIDTH_DIVISOR", "8", "RESNET.SPATIAL_STRIDES", "[[1], [2, 2], [2], [2]]")
    assert info.value.hint == "a single-pathway model takes one value per stage: write [2] for stage 1"


def test_resnet_rejects_slowfast_arch():
    cfg = get_cfg()
    cfg.NUM_GPUS = 0
    cfg.MODEL.MODEL_NAME = "ResNet"
    with pytest.raises(ValueError, match="MODEL.ARCH 'slowfast' is not valid for ResNet"):
        build_model(cfg)


@pytest.mark.slow
def test_slowfast_8x8_r50_gflops_at_224():
    model, cfg = _model("SLOWFAST_8x8_R50.yaml")
    assert round(gflops(model, cfg, "train"), 2) == 50.58
