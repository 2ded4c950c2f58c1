"""Model registry and builder.

Contract of every registered model:
    ``Model(cfg)`` builds it from the config alone.
    ``forward(inputs: List[Tensor]) -> Tensor``: ``inputs`` is a list with one tensor per pathway,
    each ``(N, C, T, H, W)`` (two-pathway models: ``[slow, fast]``; single-stream: ``[x]``);
    returns logits ``(N, MODEL.NUM_CLASSES)`` in train and eval mode alike.
"""
import torch
from fvcore.common.registry import Registry

MODEL_REGISTRY = Registry("MODEL")
MODEL_REGISTRY.__doc__ = "Registry of video models, selected by MODEL.MODEL_NAME."


def get_device(cfg) -> torch.device:
    """The device this process computes on: CUDA when NUM_GPUS > 0, else CPU.

    Raises a clear error when NUM_GPUS > 0 but CUDA is unavailable.
    """
    if cfg.NUM_GPUS > 0:
        if not torch.cuda.is_available():
            raise RuntimeError(
                f"NUM_GPUS is {cfg.NUM_GPUS} but CUDA is not available; set NUM_GPUS 0 to run on the CPU."
            )
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def memory_format(cfg) -> torch.memory_format:
    """The memory format of weights and inputs: ``channels_last_3d`` when MODEL.CHANNELS_LAST."""
    return torch.channels_last_3d if cfg.MODEL.CHANNELS_LAST else torch.contiguous_format


def build_model(cfg, device=None) -> torch.nn.Module:
    """Build the model named by ``cfg.MODEL.MODEL_NAME`` and move it to ``device``
    (default: ``get_device(cfg)``) in the memory format of ``memory_format(cfg)``."""
    import slowfast.models  # noqa: F401  (registers every model family)

    name = cfg.MODEL.MODEL_NAME
    if name not in MODEL_REGISTRY:
        known = ", ".join(sorted(k for k, _ in MODEL_REGISTRY))
        raise KeyError(f"MODEL.MODEL_NAME '{name}' is not a registered model; known: {known}")
    model = MODEL_REGISTRY.get(name)(cfg)
    model = model.to(device if device is not None else get_device(cfg))
    return model.to(memory_format=memory_format(cfg))
