"""Every config under configs/ and demo/ loads and its model builds and runs forward on a tiny
clip; one config per model family also runs backward and gives every parameter a gradient.

Configs that share a model (same MODEL / SLOWFAST / RESNET / BN / input channels; e.g. the
Kinetics and Jester copies, or a recipe and its multigrid variant) are built once. Big ResNets are
shrunk with RESNET.WIDTH_DIVISOR 8 (depth kept), so R101 builds once, in well under a second.
Files named ``*_BASE.yaml`` only hold shared settings for ``_BASE_`` inheritance and name no model.
Detection configs (``DETECTION.ENABLE``, the AVA ones) are run as ``model(clips, boxes)``.
"""
import glob
import os

import pytest
import torch

from slowfast.config.loader import load_config
from slowfast.models.build import build_model
from slowfast.models.heads import example_args
from slowfast.models.info import is_multi_pathway

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONFIG_FILES = sorted(
    os.path.relpath(path, REPO)
    for root in ("configs", "demo")
    for path in glob.glob(os.path.join(REPO, root, "**", "*.yaml"), recursive=True)
    if not path.endswith("_BASE.yaml")
)
NUM_CLASSES = 5
CROP = 32
SLOW_FRAMES = 2
TINY_OPTS = ["NUM_GPUS", "0", "MODEL.NUM_CLASSES", str(NUM_CLASSES), "RESNET.WIDTH_DIVISOR", "8"]


def load_tiny(config: str):
    return load_config(path_to_config=os.path.join(REPO, config), opts=TINY_OPTS)


def model_signature(cfg) -> str:
    """Everything that decides the model's structure and its tiny input."""
    model = cfg.MODEL.clone()
    for key in ("DROPOUT_RATE", "LOSS_FUNC", "HEAD_ACT", "FC_INIT_STD"):
        model.pop(key)
    parts = [model.dump(), cfg.SLOWFAST.dump(), cfg.RESNET.dump(), cfg.BN.NORM_TYPE, cfg.DETECTION.dump(),
             str(cfg.DATA.INPUT_CHANNEL_NUM), str(tiny_frames(cfg))]
    return "\n".join(parts)


def tiny_frames(cfg):
    """Two-pathway: 2 slow and ``2 * SLOWFAST.ALPHA`` fast frames. One pathway: the config's frames
    up to 16 (single-stream nets stride time by 16, C2D/I3D pool it by 2)."""
    if is_multi_pathway(cfg):
        return [SLOW_FRAMES, SLOW_FRAMES * cfg.SLOWFAST.ALPHA]
    return [min(cfg.DATA.NUM_FRAMES, 16)]


def tiny_inputs(cfg, batch_size: int = 2):
    """``[slow, fast]`` or ``[x]`` at a 32² crop."""
    return [torch.randn(batch_size, c, t, CROP, CROP) for c, t in zip(cfg.DATA.INPUT_CHANNEL_NUM, tiny_frames(cfg))]


def _group_configs():
    """(one config per distinct model, one per model family: its narrowest SLOWFAST.WIDTH_MULTI)."""
    by_signature, by_family = {}, {}
    for config in CONFIG_FILES:
        try:
            cfg = load_tiny(config)
        except Exception:  # reported by test_config_loads
            continue
        by_signature.setdefault(model_signature(cfg), config)
        family = (cfg.MODEL.MODEL_NAME, cfg.MODEL.ARCH)
        if family not in by_family or cfg.SLOWFAST.WIDTH_MULTI < by_family[family][0]:
            by_family[family] = (cfg.SLOWFAST.WIDTH_MULTI, config)
    return sorted(by_signature.values()), sorted(config for _, config in by_family.values())


DISTINCT_MODELS, FAMILY_REPRESENTATIVES = _group_configs()


def test_configs_were_found():
    assert "configs/Kinetics/SLOWFAST_8x8_R50.yaml" in CONFIG_FILES
    assert "configs/Kinetics/SLOWFAST_8x8_R101.yaml" in DISTINCT_MODELS


@pytest.mark.parametrize("config", CONFIG_FILES)
def test_config_loads(config):
    cfg = load_tiny(config)
    assert cfg.MODEL.NUM_CLASSES == NUM_CLASSES


@pytest.mark.parametrize("config", DISTINCT_MODELS)
def test_config_model_builds_and_runs_forward(config):
    torch.manual_seed(0)
    cfg = load_tiny(config)
    model = build_model(cfg).eval()
    args = example_args(model, tiny_inputs(cfg, batch_size=1))  # detection: (clips, 2 boxes per clip)
    with torch.no_grad():
        logits = model(*args)
    assert logits.shape == (1 if len(args) == 1 else 2, NUM_CLASSES)
    assert torch.isfinite(logits).all()


@pytest.mark.parametrize("config", FAMILY_REPRESENTATIVES)
def test_model_family_backward_reaches_every_parameter(config):
    torch.manual_seed(0)
    cfg = load_tiny(config)
    model = build_model(cfg).train()
    logits = model(*example_args(model, tiny_inputs(cfg)))
    assert logits.shape[1] == NUM_CLASSES
    torch.nn.functional.cross_entropy(logits, torch.arange(logits.shape[0]) % NUM_CLASSES).backward()
    missing = [name for name, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert not missing, f"{config}: parameters without a gradient: {missing[:5]}"
    assert all(torch.isfinite(p.grad).all() for p in model.parameters())
