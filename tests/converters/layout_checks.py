"""Checks shared by the foreign-layout tests: build the model a case describes, map a manifest
completely, and compare logits with the foreign code's.

Name manifests are checked on the ``meta`` device (no memory, no init cost), so every released
configuration is covered in seconds; parity cases build real models and run one forward.
"""
from typing import Dict, List

import torch

from slowfast.config.loader import load_config
from slowfast.converters import Converted
from slowfast.models.build import MODEL_REGISTRY
from tests.converters.foreign_weights import case_inputs, foreign_state, relative_error

# The README's parity bar.
PARITY_TOLERANCE = 1e-4


def build(config_path: str, opts: List[str], device: str = "cpu") -> torch.nn.Module:
    """The model ``config_path`` + ``opts`` describes, in eval mode, built on ``device``."""
    import slowfast.models  # noqa: F401  (registers every model)

    cfg = load_config(path_to_config=config_path, opts=opts)
    with torch.device(device):
        model = MODEL_REGISTRY.get(cfg.MODEL.MODEL_NAME)(cfg)
    return model.eval()


def as_opts(options: Dict[str, object]) -> List[str]:
    """``{"KEY": value}`` -> ``["KEY", "value", ...]`` (a layout's ``describe`` as overrides)."""
    return [str(item) for key, value in options.items() for item in (key, value)]


def meta_state(case: Dict) -> Dict[str, torch.Tensor]:
    """The manifest's tensors (right names, shapes, dtypes) on the meta device: no values."""
    return {
        name: torch.empty(shape, dtype=getattr(torch, dtype.split(".")[-1]), device="meta")
        for name, shape, dtype in case["manifest"]
    }


def weight_names(model: torch.nn.Module) -> List[str]:
    """Parameters and running statistics; ``num_batches_tracked`` counters are not weights."""
    return [name for name in model.state_dict() if not name.endswith("num_batches_tracked")]


def assert_maps_completely(converted: Converted, model: torch.nn.Module) -> None:
    """Every foreign tensor used, every model weight filled, every shape equal."""
    ours = model.state_dict()
    assert converted.unused == [], f"foreign tensors not used: {converted.unused[:10]}"
    unexpected = sorted(set(converted.state) - set(ours))
    assert unexpected == [], f"mapped to names the model does not have: {unexpected[:10]}"
    missing = [name for name in weight_names(model) if name not in converted.state]
    assert missing == [], f"model tensors not filled: {missing[:10]}"
    wrong = [
        (name, tuple(tensor.shape), tuple(ours[name].shape))
        for name, tensor in converted.state.items()
        if tuple(tensor.shape) != tuple(ours[name].shape)
    ]
    assert wrong == [], f"shape mismatches (name, foreign, ours): {wrong[:10]}"


def parity_error(case: Dict, convert, model: torch.nn.Module) -> float:
    """Relative logit error of ``model`` loaded with ``convert(case weights)`` against the case."""
    converted = convert(foreign_state(case))
    assert_maps_completely(converted, model)
    model.load_state_dict(converted.state, strict=False)
    with torch.no_grad():
        logits = model(case_inputs(case))
    return relative_error(logits, case["logits"])
