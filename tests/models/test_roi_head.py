"""The RoI (detection) head on every model family of the composition: output shapes, the derived
feature stride against the real feature maps, public SlowFast module names, boxes pooling the
pixels they cover, and classification unchanged without DETECTION.ENABLE."""
import pytest
import torch

from slowfast.config.defaults import get_cfg
from slowfast.models.build import build_model
from slowfast.models.heads import RoIHead

NUM_CLASSES = 6
CROP = 64

# (MODEL_NAME, overrides) of every two-pathway family at its narrowest width, plus one-pathway ResNets.
FAMILIES = {
    "SlowFast_R50": ("SlowFast", {"RESNET.WIDTH_DIVISOR": 8}),
    "SlowFast_R50_dilated": ("SlowFast", {
        "RESNET.WIDTH_DIVISOR": 8,
        "RESNET.SPATIAL_STRIDES": [[1, 1], [2, 2], [2, 2], [1, 1]],
        "RESNET.SPATIAL_DILATIONS": [[1, 1], [1, 1], [1, 1], [2, 2]],
    }),
    "SlowFast_R101": ("SlowFast", {"RESNET.WIDTH_DIVISOR": 8, "RESNET.DEPTH": 101}),
    "SlowFastDualAttention": ("SlowFastDualAttention", {"RESNET.WIDTH_DIVISOR": 8}),
    "SlowFastShuffleNet": ("SlowFastShuffleNet", {"SLOWFAST.WIDTH_MULTI": 1.0, "SLOWFAST.GROUPS": 3}),
    "SlowFastShuffleNetV2": ("SlowFastShuffleNetV2", {"SLOWFAST.WIDTH_MULTI": 0.25}),
    "SlowFastMobileNetV2": ("SlowFastMobileNetV2", {"SLOWFAST.WIDTH_MULTI": 0.5}),
    "SlowFastGhostNet": ("SlowFastGhostNet", {"SLOWFAST.WIDTH_MULTI": 1.0}),
    "Slow_R50": ("ResNet", {"RESNET.WIDTH_DIVISOR": 8, "MODEL.ARCH": "slow", "DATA.INPUT_CHANNEL_NUM": [3]}),
}
# Input pixels per cell of the last feature map.
EXPECTED_STRIDE = {"SlowFast_R50_dilated": 16}


def detection_cfg(model_name, overrides, enable=True):
    cfg = get_cfg()
    cfg.NUM_GPUS = 0
    cfg.MODEL.MODEL_NAME = model_name
    cfg.MODEL.NUM_CLASSES = NUM_CLASSES
    cfg.MODEL.LOSS_FUNC = "bce"
    cfg.MODEL.HEAD_ACT = "sigmoid"
    cfg.SLOWFAST.ALPHA = 4
    cfg.DETECTION.ENABLE = enable
    for key, value in overrides.items():
        node, *path = key.split(".")
        target = cfg[node]
        for part in path[:-1]:
            target = target[part]
        target[path[-1]] = value
    return cfg


def clip(cfg, batch_size):
    if cfg.MODEL.ARCH == "slowfast":
        return [torch.randn(batch_size, 3, 2, CROP, CROP), torch.randn(batch_size, 3, 8, CROP, CROP)]
    return [torch.randn(batch_size, 3, 2, CROP, CROP)]


BOXES = torch.tensor([
    [0, 0.0, 0.0, 63.0, 63.0],
    [0, 10.0, 12.0, 40.0, 50.0],
    [1, 30.0, 5.0, 60.0, 33.0],
])


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_roi_head_shapes_and_derived_stride(family):
    torch.manual_seed(0)
    name, overrides = FAMILIES[family]
    cfg = detection_cfg(name, overrides)
    model = build_model(cfg).eval()
    assert isinstance(model.head, RoIHead)
    inputs = clip(cfg, 2)
    with torch.no_grad():
        features = model.forward_features(inputs)
        logits = model(inputs, BOXES)
    assert logits.shape == (3, NUM_CLASSES)
    assert torch.isfinite(logits).all()
    # The derived stride is what the network really does to H and W.
    expected = EXPECTED_STRIDE.get(family, 32)
    assert model.head.feature_strides == [expected] * len(inputs)
    for feature in features:
        assert feature.shape[-1] == -(-CROP // expected), (family, feature.shape)
    for p in range(len(inputs)):
        assert model.head.get_submodule(f"s{p}_roi").spatial_scale == pytest.approx(1.0 / expected)


def test_roi_head_backward_reaches_every_parameter():
    torch.manual_seed(0)
    cfg = detection_cfg("SlowFastShuffleNetV2", {"SLOWFAST.WIDTH_MULTI": 0.25})
    model = build_model(cfg).train()
    logits = model(clip(cfg, 2), BOXES)
    torch.nn.functional.binary_cross_entropy_with_logits(logits, torch.ones_like(logits)).backward()
    missing = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert not missing


def test_slowfast_ava_names_match_public_slowfast():
    """The names (and shapes) of public SlowFast's SLOWFAST_32x2_R50 AVA model, RoI head included."""
    cfg = detection_cfg("SlowFast", {
        "RESNET.SPATIAL_STRIDES": [[1, 1], [2, 2], [2, 2], [1, 1]],
        "RESNET.SPATIAL_DILATIONS": [[1, 1], [1, 1], [1, 1], [2, 2]],
        "SLOWFAST.FUSION_KERNEL_SZ": 7,
        "MODEL.NUM_CLASSES": 80,
    })
    model = build_model(cfg)
    state = model.state_dict()
    assert state["head.projection.weight"].shape == (80, 2048 + 256)
    assert state["head.projection.bias"].shape == (80,)
    assert state["s1_fuse.conv_f2s.weight"].shape == (16, 8, 7, 1, 1)
    # res5 is dilated, not strided: 3x3 conv with dilation 2 on both pathways.
    assert model.s5.pathway0_res0.branch2.b.dilation == (1, 2, 2)
    assert model.s5.pathway0_res0.branch1.stride == (1, 1, 1)
    modules = dict(model.named_modules())
    for p in (0, 1):
        for suffix in ("tpool", "roi", "spool"):
            assert f"head.s{p}_{suffix}" in modules
    assert [k for k in state if k.startswith("head.")] == ["head.projection.weight", "head.projection.bias"]


def test_efficient_detection_head_keeps_classification_names():
    """Kinetics weights of an efficient model initialise its detection model (same head layers)."""
    overrides = {"SLOWFAST.WIDTH_MULTI": 1.0}
    classification = build_model(detection_cfg("SlowFastGhostNet", overrides, enable=False)).state_dict()
    detection = build_model(detection_cfg("SlowFastGhostNet", overrides)).state_dict()
    assert {k: v.shape for k, v in classification.items()} == {k: v.shape for k, v in detection.items()}


def test_box_pools_only_the_pixels_it_covers():
    """A box pools the feature cells under it (input pixels / stride), nothing else."""
    head = RoIHead([4], 3, feature_strides=[8], resolution=2, aligned=True).eval()
    features = torch.zeros(1, 4, 2, 8, 8)
    features[..., :4, :4] = 1.0  # top-left quarter of a 64x64 input
    boxes = torch.tensor([[0, 0.0, 0.0, 32.0, 32.0], [0, 32.0, 32.0, 64.0, 64.0]])
    pooled = head.box_features([features], boxes)
    assert pooled[0].tolist() == [1.0] * 4
    assert pooled[1].tolist() == [0.0] * 4


def test_scale_factor_checked_against_backbone():
    cfg = detection_cfg("SlowFastShuffleNetV2", {"SLOWFAST.WIDTH_MULTI": 0.25, "DETECTION.SPATIAL_SCALE_FACTOR": 16})
    with pytest.raises(ValueError, match="DETECTION.SPATIAL_SCALE_FACTOR 16 does not match .*32"):
        build_model(cfg)
    cfg.DETECTION.SPATIAL_SCALE_FACTOR = 32
    assert build_model(cfg).head.feature_strides == [32, 32]


def test_classification_forward_unchanged():
    cfg = detection_cfg("SlowFastShuffleNetV2", {"SLOWFAST.WIDTH_MULTI": 0.25}, enable=False)
    model = build_model(cfg).eval()
    with torch.no_grad():
        assert model(clip(cfg, 2)).shape == (2, NUM_CLASSES)
    detection = build_model(detection_cfg("SlowFastShuffleNetV2", {"SLOWFAST.WIDTH_MULTI": 0.25})).eval()
    with pytest.raises(ValueError, match="model\\(inputs, bboxes\\)"):
        detection(clip(cfg, 2))


def test_detection_model_through_bn_folding_flops_and_shapes():
    """Everything that runs a model on example clips also runs a detection model (with boxes)."""
    from slowfast.inference.optimize import optimize_for_inference
    from slowfast.models.heads import example_args
    from slowfast.models.info import gflops, stage_output_shapes

    torch.manual_seed(0)
    cfg = detection_cfg("SlowFastShuffleNetV2", {"SLOWFAST.WIDTH_MULTI": 0.25, "DATA.NUM_FRAMES": 8,
                                                 "DATA.TRAIN_CROP_SIZE": CROP, "DATA.TEST_CROP_SIZE": CROP})
    model = build_model(cfg).eval()
    inputs = clip(cfg, 2)
    classification = build_model(detection_cfg("SlowFastShuffleNetV2", {
        "SLOWFAST.WIDTH_MULTI": 0.25, "DATA.NUM_FRAMES": 8, "DATA.TRAIN_CROP_SIZE": CROP}, enable=False)).eval()

    def norms_left(net):
        return sum(isinstance(m, torch.nn.BatchNorm3d) for m in optimize_for_inference(net, inputs, layout="contiguous").modules())

    bn_total = sum(isinstance(m, torch.nn.BatchNorm3d) for m in model.modules())
    assert norms_left(model) == norms_left(classification) < bn_total // 2  # the same BNs fold
    optimized = optimize_for_inference(model, inputs, layout="contiguous")
    with torch.no_grad():
        assert torch.allclose(optimized(inputs, BOXES), model(inputs, BOXES), atol=1e-4)
    args = example_args(model, inputs)
    assert len(args) == 2 and args[1].shape == (4, 5)
    assert gflops(model, cfg) > gflops(classification, cfg) > 0
    assert stage_output_shapes(model, cfg)["s4_fuse"][0][-1] == CROP // 32


@pytest.mark.slow  # tracing and exporting a CMDA model takes minutes on a loaded machine
@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
def test_detection_model_exports_with_a_boxes_input(tmp_path, fmt):
    """The exported graph takes the clips and the boxes; verification runs at another batch (and
    so another number of boxes) than the export."""
    pytest.importorskip("onnxruntime")
    from slowfast.deploy.export import export_and_verify

    torch.manual_seed(0)
    cfg = detection_cfg("SlowFastShuffleNetV2", {"SLOWFAST.WIDTH_MULTI": 0.25})
    model = build_model(cfg).eval()
    error = export_and_verify(model, clip(cfg, 1), str(tmp_path / f"model.{fmt}"), fmt=fmt, attention="plain")
    assert error < 1e-4
