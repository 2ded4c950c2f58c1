"""Shared helpers of the deploy tests: tiny configs of the efficient models and weight perturbation."""
import pytest
import torch

from slowfast.config.defaults import get_cfg

# (MODEL_NAME, WIDTH_MULTI, GROUPS, crop): the smallest width each family offers; ShuffleNet V1's
# strided shortcut pools 3x3 without padding room below 3 pixels, hence its larger crop.
EFFICIENT_MODELS = {
    "SlowFastShuffleNetV2": ("SlowFastShuffleNetV2", 0.25, 1, 32),
    "SlowFastMobileNetV2": ("SlowFastMobileNetV2", 0.5, 1, 32),
    "SlowFastShuffleNet": ("SlowFastShuffleNet", 1.0, 3, 64),
    "SlowFastGhostNet": ("SlowFastGhostNet", 1.0, 1, 32),
}


def tiny_cfg(model_name: str, width: float, groups: int, crop: int, frames: int = 4, num_classes: int = 5):
    """A CPU config for ``model_name`` at a tiny clip: ``frames`` fast frames (slow = frames / 4), ``crop``²."""
    cfg = get_cfg()
    cfg.merge_from_list([
        "NUM_GPUS", 0, "MODEL.MODEL_NAME", model_name, "MODEL.ARCH", "slowfast", "MODEL.NUM_CLASSES", num_classes,
        "SLOWFAST.WIDTH_MULTI", width, "SLOWFAST.GROUPS", groups, "SLOWFAST.ALPHA", 4, "SLOWFAST.BETA_INV", 8,
        "DATA.NUM_FRAMES", frames, "DATA.TRAIN_CROP_SIZE", crop, "DATA.TEST_CROP_SIZE", crop,
    ])
    return cfg


@torch.no_grad()
def perturb(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Make every BatchNorm and attention gate non-trivial, so folding and export are really tested:
    random running statistics and affine parameters, and gates (``gamma``, 0 at init) set to 0.5."""
    generator = torch.Generator().manual_seed(seed)
    for module in model.modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            n = module.num_features
            # Mild (+-20 %) so that deep nets keep O(1) activations and float32 rounding stays small.
            module.running_mean.copy_(0.4 * torch.rand(n, generator=generator) - 0.2)
            module.running_var.copy_(0.4 * torch.rand(n, generator=generator) + 0.8)
            module.weight.copy_(0.4 * torch.rand(n, generator=generator) + 0.8)
            module.bias.copy_(0.4 * torch.rand(n, generator=generator) - 0.2)
        gate = getattr(module, "gamma", None)
        if isinstance(gate, torch.nn.Parameter):
            gate.fill_(0.5)
    return model.eval()


def clip_inputs(cfg, batch_size: int = 1, seed: int = 0):
    """Random per-pathway inputs ``(N, C, T, H, W)`` at the config's train crop."""
    from slowfast.models.info import input_shapes

    generator = torch.Generator().manual_seed(seed)
    return [torch.randn(batch_size, *shape, generator=generator) for shape in input_shapes(cfg, "train")]


@pytest.fixture(scope="module", params=sorted(EFFICIENT_MODELS))
def efficient_model(request):
    """(cfg, perturbed eval-mode model) for each efficient two-pathway model at a tiny size."""
    from slowfast.models.build import build_model

    cfg = tiny_cfg(*EFFICIENT_MODELS[request.param])
    torch.manual_seed(0)
    return cfg, perturb(build_model(cfg))
