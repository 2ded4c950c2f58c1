"""Grad-CAM for video models with one or two pathways (Selvaraju et al. 2017, extended to time).

For a target layer with feature maps ``A`` of shape ``(N, C, T, h, w)`` and the gradient ``G``
of the explained class score (a logit) with respect to ``A``:

    weights[n, c, t] = mean over (h, w) of G[n, c, t]
    cam[n, t, h, w]  = ReLU(sum over c of weights[n, c, t] * A[n, c, t, h, w])

``cam`` is upsampled (trilinear) to the input pathway's ``T x H x W`` and min-max normalised to
[0, 1] per clip. A layer whose output is a list ``[slow, fast]`` gives one map per pathway.

Any name of ``model.named_modules()`` is a valid target (``s4_fuse``, ``s5``, ``s8``, ...).
"""
import os
from typing import Dict, List, NamedTuple, Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from slowfast.utils.errors import ConfigError
from slowfast.utils.suggest import did_you_mean
from slowfast.visualization.overlay import blend_heatmap, clip_to_uint8

# Above this many module names, the unknown-layer error lists only the top-level ones in full.
_MAX_LISTED_NAMES = 80


class GradCamResult(NamedTuple):
    """Grad-CAM maps of one batch.

    ``maps[layer]``: one ``(N, T, H, W)`` tensor in [0, 1] per explained pathway;
    ``pathways[layer]``: the input pathway index of each of those maps;
    ``logits``: ``(N, K)`` model output; ``targets``: ``(N,)`` explained class ids.
    """

    maps: Dict[str, List[torch.Tensor]]
    pathways: Dict[str, List[int]]
    logits: torch.Tensor
    targets: torch.Tensor


class UnknownLayerError(ConfigError, KeyError):
    """A Grad-CAM target layer the model does not have (a KeyError too, for callers that catch one)."""


def unknown_layer_error(model: nn.Module, unknown: Sequence[str]) -> UnknownLayerError:
    """The error naming ``unknown``, the nearest valid name and the valid target layer names of ``model``."""
    names = [name for name, _ in model.named_modules() if name]
    if len(names) <= _MAX_LISTED_NAMES:
        listed = ", ".join(names)
    else:
        top_level = [name for name in names if "." not in name]
        listed = ", ".join(top_level) + f" (and {len(names) - len(top_level)} nested names such as {names[1]})"
    near = did_you_mean(unknown[0], names, n=1) if unknown and unknown[0] else None
    return UnknownLayerError(f"unknown Grad-CAM target layer(s) {list(unknown)}",
                             f"{near + ' ' if near else ''}valid module names of the model: {listed}")


def normalize_per_clip(cam: torch.Tensor) -> torch.Tensor:
    """Min-max normalise each clip of ``(N, T, H, W)`` to [0, 1]; a constant map becomes 0."""
    flat = cam.flatten(1)
    low, high = flat.min(dim=1).values, flat.max(dim=1).values
    scale = torch.where(high > low, high - low, torch.ones_like(high))
    normalised = (flat - low[:, None]) / scale[:, None]
    normalised[high <= low] = 0.0
    return normalised.view_as(cam)


def class_activation_map(activation: torch.Tensor, gradient: torch.Tensor, size: Sequence[int]) -> torch.Tensor:
    """Grad-CAM of one ``(N, C, T, h, w)`` feature map, upsampled to ``size = (T, H, W)``, in [0, 1]."""
    weights = gradient.mean(dim=(3, 4), keepdim=True)  # (N, C, T, 1, 1)
    cam = torch.relu((weights * activation).sum(dim=1, keepdim=True))  # (N, 1, T, h, w)
    cam = F.interpolate(cam, size=tuple(size), mode="trilinear", align_corners=False)[:, 0]
    return normalize_per_clip(cam.clamp(min=0.0))


def match_pathway(feature_frames: int, input_frames: Sequence[int]) -> int:
    """The input pathway a single-tensor feature map belongs to: the one with as many frames,
    else the one with the fewest frames that is still at least as long, else pathway 0."""
    if feature_frames in input_frames:
        return list(input_frames).index(feature_frames)
    longer = [(frames, i) for i, frames in enumerate(input_frames) if frames >= feature_frames]
    return min(longer)[1] if longer else 0


class GradCAM:
    """Grad-CAM maps of ``target_layers`` of ``model`` for a batch of clips.

    Args:
        model: ``forward(List[Tensor]) -> logits (N, K)``; its parameters may be frozen.
        target_layers: module names (``dict(model.named_modules())`` keys).
    Raises:
        KeyError listing the valid names when a layer does not exist.
    """

    def __init__(self, model: nn.Module, target_layers: Sequence[str]):
        modules = dict(model.named_modules())
        if isinstance(target_layers, str):
            target_layers = [target_layers]
        unknown = [layer for layer in target_layers if layer not in modules or not layer]
        if unknown or not target_layers:
            raise unknown_layer_error(model, unknown)
        self.model = model
        self.target_layers = list(target_layers)
        self._modules = {layer: modules[layer] for layer in self.target_layers}

    def _forward_with_hooks(self, inputs: List[torch.Tensor]):
        """Forward pass that records the target layers' outputs (lists of tensors)."""
        recorded: Dict[str, List[torch.Tensor]] = {}

        def make_hook(layer):
            def hook(module, args, output):
                outputs = list(output) if isinstance(output, (list, tuple)) else [output]
                recorded[layer] = outputs
                # Later in-place ops (ReLU(inplace=True)) must not overwrite the recorded maps.
                clones = [o.clone() for o in outputs]
                return type(output)(clones) if isinstance(output, (list, tuple)) else clones[0]

            return hook

        handles = [module.register_forward_hook(make_hook(layer)) for layer, module in self._modules.items()]
        try:
            logits = self.model(inputs)
        finally:
            for handle in handles:
                handle.remove()
        return logits, recorded

    def __call__(self, inputs: List[torch.Tensor], targets: Optional[torch.Tensor] = None) -> GradCamResult:
        """Maps for ``inputs`` (one ``(N, C, T, H, W)`` tensor per pathway).

        Args:
            targets: ``(N,)`` class ids to explain; default the predicted (arg-max) classes.
        """
        was_training = self.model.training
        self.model.eval()
        # Inputs that require grad build the graph even when every parameter is frozen.
        inputs = [x.detach().clone().requires_grad_(True) for x in inputs]
        try:
            with torch.enable_grad():
                logits, recorded = self._forward_with_hooks(inputs)
                if targets is None:
                    targets = logits.argmax(dim=1)
                targets = torch.as_tensor(targets, device=logits.device).long().view(-1)
                score = logits.gather(1, targets[:, None]).sum()
                flat = [a for layer in self.target_layers for a in recorded[layer]]
                grads = torch.autograd.grad(score, flat, allow_unused=True)
        finally:
            self.model.train(was_training)
        return self._maps(inputs, recorded, grads, logits.detach(), targets)

    def _maps(self, inputs, recorded, grads, logits, targets) -> GradCamResult:
        input_frames = [x.shape[2] for x in inputs]
        maps, pathways = {}, {}
        grads = iter(grads)
        for layer in self.target_layers:
            activations = recorded[layer]
            maps[layer], pathways[layer] = [], []
            for index, activation in enumerate(activations):
                gradient = next(grads)
                if activation.dim() != 5:
                    raise ValueError(
                        f"Grad-CAM target layer '{layer}' outputs shape {tuple(activation.shape)}; it needs "
                        "(N, C, T, H, W) feature maps (choose a stage or fuse layer)"
                    )
                if gradient is None:
                    gradient = torch.zeros_like(activation)  # the class score does not depend on it
                if len(activations) == len(inputs):
                    pathway = index
                else:
                    pathway = match_pathway(activation.shape[2], input_frames)
                size = inputs[pathway].shape[2:]
                maps[layer].append(class_activation_map(activation.detach(), gradient.detach(), size))
                pathways[layer].append(pathway)
        return GradCamResult(maps, pathways, logits, targets.detach())


def unnormalize_clip(clip: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> np.ndarray:
    """A normalised ``(C, T, H, W)`` input clip back to uint8 RGB frames ``(T, H, W, 3)``."""
    mean_t = torch.tensor(mean, dtype=clip.dtype, device=clip.device).view(-1, 1, 1, 1)
    std_t = torch.tensor(std, dtype=clip.dtype, device=clip.device).view(-1, 1, 1, 1)
    frames = (clip.detach() * std_t + mean_t).permute(1, 2, 3, 0).cpu().numpy()
    return clip_to_uint8(frames)


def overlay_clip(clip: torch.Tensor, cam: torch.Tensor, cfg, alpha: float = 0.5) -> np.ndarray:
    """Colour-mapped Grad-CAM ``(T, H, W)`` blended over the input clip ``(C, T, H, W)``: ``(T, H, W, 3)`` uint8."""
    frames = unnormalize_clip(clip, cfg.DATA.MEAN, cfg.DATA.STD)
    return blend_heatmap(frames, cam.detach().cpu().numpy(), alpha)


def resize_maps(cam: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Resize Grad-CAM maps ``(T, H, W)`` to ``height x width`` (bilinear), staying in [0, 1]."""
    resized = F.interpolate(cam[:, None].float(), size=(height, width), mode="bilinear", align_corners=False)
    return resized[:, 0].clamp(0.0, 1.0)


def save_frames(frames: np.ndarray, directory: str, gif_path: str, fps: float) -> List[str]:
    """Write ``frames`` ``(T, H, W, 3)`` as ``directory/frame_000.png ...`` and an animated GIF."""
    from PIL import Image

    from slowfast.visualization.overlay import encode_gif

    os.makedirs(directory, exist_ok=True)
    paths = []
    for index, frame in enumerate(frames):
        paths.append(os.path.join(directory, f"frame_{index:03d}.png"))
        Image.fromarray(frame).save(paths[-1])
    with open(gif_path, "wb") as f:
        f.write(encode_gif(frames, fps))
    return paths


PATHWAY_NAMES = ("slow", "fast")


def explain_video(
    cfg,
    model: nn.Module,
    video_path: str,
    target_layers: Sequence[str],
    output_dir: str,
    target_label: Optional[int] = None,
    class_names: Optional[List[str]] = None,
    alpha: float = 0.5,
) -> Dict:
    """Grad-CAM of the centre window of ``video_path``, written as overlays at the video's resolution.

    The window is the demo's (``NUM_FRAMES * SAMPLING_RATE`` frames, the model sees ``NUM_FRAMES``
    of them). For each layer and explained pathway, ``output_dir/<layer>/<pathway>/frame_*.png``
    and ``output_dir/<layer>_<pathway>.gif`` are written; each frame carries the predicted label.

    Returns:
        a summary: predicted class id, name and probability, explained class, written files.
    """
    from slowfast.datasets.transforms import pack_pathway_output
    from slowfast.datasets.video_reader import open_video_from_cfg
    from slowfast.inference.labels import class_name
    from slowfast.visualization.overlay import draw_text_lines
    from slowfast.inference.predictor import ClipPreprocessor, head_activation, window_length

    preprocess = ClipPreprocessor(cfg)
    with open_video_from_cfg(cfg, video_path) as reader:
        span = min(window_length(cfg, reader.fps), reader.num_frames)
        start = (reader.num_frames - span) // 2
        indices = start + preprocess.frame_indices(span)
        sampled = reader.read(indices.tolist())  # uint8 (T, H, W, 3)
        fps = reader.fps
    device = next(model.parameters()).device
    inputs = [x.to(device) for x in preprocess.prepare(sampled)]
    targets = None if target_label is None else torch.tensor([target_label], device=device)
    result = GradCAM(model, target_layers)(inputs, targets)

    probabilities = head_activation(cfg)(result.logits.float())[0].cpu()
    predicted = int(probabilities.argmax())
    explained = int(result.targets[0])
    lines = [f"pred: {class_name(class_names, predicted)} {float(probabilities[predicted]):.2f}"]
    if explained != predicted:
        lines.append(f"cam: {class_name(class_names, explained)}")
    # The original frames of each pathway, chosen exactly as the model's inputs were.
    originals = pack_pathway_output(cfg, torch.from_numpy(sampled).permute(3, 0, 1, 2))
    height, width = sampled.shape[1:3]
    written = {}
    for layer in result.maps:
        for cam, pathway in zip(result.maps[layer], result.pathways[layer]):
            name = PATHWAY_NAMES[pathway] if len(inputs) == 2 else f"pathway{pathway}"
            frames = originals[pathway].permute(1, 2, 3, 0).numpy()
            overlay = blend_heatmap(frames, resize_maps(cam[0].cpu(), height, width).numpy(), alpha)
            overlay = np.stack([draw_text_lines(frame, lines) for frame in overlay])
            gif_path = os.path.join(output_dir, f"{layer}_{name}.gif")
            real_time_fps = fps * overlay.shape[0] / span  # the GIF lasts as long as the window
            written[f"{layer}/{name}"] = save_frames(
                overlay, os.path.join(output_dir, layer, name), gif_path, real_time_fps
            ) + [gif_path]
    return {
        "video": video_path,
        "predicted_label": predicted,
        "predicted_name": class_name(class_names, predicted),
        "predicted_probability": float(probabilities[predicted]),
        "explained_label": explained,
        "files": written,
    }
