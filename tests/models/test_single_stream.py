"""Single-stream efficient 3D CNN baselines: published parameter counts, shapes, configs."""
import glob
import os

import pytest
import torch
from torch import nn

from slowfast.config.defaults import get_cfg
from slowfast.config.loader import load_config
from slowfast.models import build_model
from tests.models.efficient_checks import assert_every_parameter_learns

CONFIG_ROOT = os.path.join(os.path.dirname(__file__), "..", "..", "configs")

# Köpüklü et al. 2019, Table (600 classes, 16x112²): parameters in millions, per width.
PUBLISHED_PARAMS_M = {
    "ShuffleNet3D": {0.5: 0.55, 1.0: 1.52, 1.5: 2.92, 2.0: 4.76},  # groups 3
    "ShuffleNetV23D": {0.25: 0.83, 1.0: 1.91, 1.5: 3.16, 2.0: 6.64},
    "MobileNet3D": {0.5: 1.17, 1.0: 3.91, 1.5: 8.22, 2.0: 14.10},
    "MobileNetV23D": {0.2: 0.96, 0.45: 1.40, 0.7: 2.05, 1.0: 3.12},
}
CONFIG_TAGS = {
    "ShuffleNet3D": "SHUFFLENET_3D",
    "ShuffleNetV23D": "SHUFFLENETV2_3D",
    "MobileNet3D": "MOBILENET_3D",
    "MobileNetV23D": "MOBILENETV2_3D",
}


def small_cfg(name, width=1.0, groups=1, num_classes=600):
    cfg = get_cfg()
    cfg.NUM_GPUS = 0
    cfg.MODEL.ARCH = "single_stream"
    cfg.MODEL.MODEL_NAME = name
    cfg.MODEL.NUM_CLASSES = num_classes
    cfg.SLOWFAST.WIDTH_MULTI = width
    cfg.SLOWFAST.GROUPS = groups
    return cfg


def count_params(model):
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize(
    "name, width, published",
    [(name, w, m) for name, table in PUBLISHED_PARAMS_M.items() for w, m in table.items()],
)
def test_parameter_count_matches_the_published_table(name, width, published):
    path = os.path.join(CONFIG_ROOT, "Kinetics", f"{CONFIG_TAGS[name]}_W{width}.yaml")
    cfg = load_config(path_to_config=path, opts=["NUM_GPUS", "0", "MODEL.NUM_CLASSES", "600"])
    assert cfg.MODEL.MODEL_NAME == name and cfg.SLOWFAST.WIDTH_MULTI == width
    params_m = count_params(build_model(cfg)) / 1e6
    assert params_m == pytest.approx(published, rel=0.01)


# Published MFLOPs at 1.0x (that repo's counter; fvcore counts multiply-adds within a few %).
PUBLISHED_MFLOPS_1X = {"ShuffleNet3D": 199, "ShuffleNetV23D": 195, "MobileNet3D": 241, "MobileNetV23D": 561}


@pytest.mark.filterwarnings("ignore::FutureWarning")  # fvcore's tracer calls torch.jit.script
@pytest.mark.parametrize("name", sorted(PUBLISHED_MFLOPS_1X))
def test_flops_match_the_published_table(name):
    from fvcore.nn import FlopCountAnalysis

    model = build_model(small_cfg(name, 1.0, groups=3 if name == "ShuffleNet3D" else 1)).eval()
    flops = FlopCountAnalysis(model, ([torch.zeros(1, 3, 16, 112, 112)],))
    flops.unsupported_ops_warnings(False)
    flops.uncalled_modules_warnings(False)
    assert flops.total() / 1e6 == pytest.approx(PUBLISHED_MFLOPS_1X[name], rel=0.05)


def test_configs_cover_the_table_on_both_datasets():
    for dataset, classes in (("Kinetics", 400), ("Jester", 27)):
        files = glob.glob(os.path.join(CONFIG_ROOT, dataset, "*_3D_W*.yaml"))
        expected = {f"{CONFIG_TAGS[n]}_W{w}.yaml" for n, t in PUBLISHED_PARAMS_M.items() for w in t}
        expected.add("GHOSTNET_3D_W1.0.yaml")
        assert {os.path.basename(f) for f in files} == expected
        cfg = load_config(path_to_config=os.path.join(CONFIG_ROOT, dataset, "SHUFFLENET_3D_W2.0.yaml"))
        assert (cfg.MODEL.ARCH, cfg.SLOWFAST.GROUPS, cfg.MODEL.NUM_CLASSES) == ("single_stream", 3, classes)
        assert (cfg.MODEL.DROPOUT_RATE, list(cfg.DATA.INPUT_CHANNEL_NUM), cfg.DATA.NUM_FRAMES) == (0.2, [3], 16)


@pytest.mark.parametrize(
    "name, groups",
    [("ShuffleNet3D", 3), ("ShuffleNetV23D", 1), ("MobileNet3D", 1), ("MobileNetV23D", 1), ("GhostNet3D", 1)],
)
def test_forward_backward_on_a_tiny_clip(name, groups):
    torch.manual_seed(0)
    model = build_model(small_cfg(name, 0.5 if name != "GhostNet3D" else 1.0, groups, num_classes=5)).train()
    logits = model([torch.randn(2, 3, 16, 32, 32)])
    assert logits.shape == (2, 5)
    nn.functional.cross_entropy(logits, torch.tensor([0, 3])).backward()
    assert_every_parameter_learns(model)


def test_time_is_strided_except_in_the_stem():
    model = build_model(small_cfg("ShuffleNetV23D")).eval()
    shapes = {}
    hooks = [getattr(model, n).register_forward_hook(lambda m, i, o, n=n: shapes.__setitem__(n, o[0].shape))
             for n in model.feature_names]
    with torch.no_grad():
        model([torch.randn(1, 3, 16, 112, 112)])
    for hook in hooks:
        hook.remove()
    assert shapes["s1"] == (1, 24, 8, 28, 28)  # conv (1,2,2) then max pool stride 2
    assert shapes["s2"] == (1, 116, 4, 14, 14) and shapes["s3"] == (1, 232, 2, 7, 7)
    assert shapes["s4"] == (1, 464, 1, 4, 4)


def test_ghostnet3d_head_and_spatial_only_strides():
    model = build_model(small_cfg("GhostNet3D"))
    assert model.head.pathway0_conv.conv.out_channels == 960
    assert model.head.pathway0_conv_head[0].out_channels == 1280
    assert model.s2.pathway0_block0.depthwise.conv.stride == (1, 2, 2)


def test_single_stream_needs_its_arch_and_one_tensor():
    cfg = small_cfg("MobileNetV23D")
    cfg.MODEL.ARCH = "slowfast"
    with pytest.raises(ValueError, match="MODEL.ARCH 'slowfast'"):
        build_model(cfg)
    model = build_model(small_cfg("MobileNetV23D", 0.2))
    with pytest.raises(ValueError, match="list of 1 pathway"):
        model([torch.randn(1, 3, 16, 32, 32)] * 2)
