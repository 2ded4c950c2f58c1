"""Spatial sampling, colour augmentation, normalisation and pathway packing of video clips.

A decoded clip arrives as uint8 ``(T, H, W, 3)`` (what ``VideoReader.read`` returns). The
geometric and colour ops run on uint8 ``(T, C, H, W)`` frames with torchvision's v2
functional ops (they treat the leading ``T`` as a batch of images, so every frame of a clip
gets the same crop, flip and colour factors); only the last step converts to normalised float
``(C, T, H, W)``. Every random draw takes an explicit ``torch.Generator`` so that a sample's
augmentation depends only on the seed the dataset derives for it, not on which worker ran it.

The demo, Grad-CAM and streaming predictor reuse ``test_transform`` / ``pack_pathway_output``
so that they see exactly what the evaluator sees.

Boxes (action detection): every geometric op takes optional ``boxes``, float ``(K, 4)`` x1, y1,
x2, y2 in pixels of the frames it receives (continuous coordinates: pixel ``(i, j)`` covers
``[j, j + 1) x [i, i + 1)``), and then returns ``(frames, boxes)`` with the boxes moved with the
pixels: scaled by the resize factors, shifted and clipped to the crop (a box outside the crop
becomes empty, width or height 0: see :func:`nonempty_boxes`), mirrored by the flip. Colour ops
move no pixel. Without boxes the ops return the frames alone, as before, and draw the same random
numbers either way.
"""
import math
from typing import List, Optional, Sequence, Tuple, Union

import torch
import torchvision.transforms.v2.functional as F
from slowfast.utils.errors import ConfigError

# Test crop positions along the long side: 0 = left/top, 1 = centre, 2 = right/bottom.
CROP_POSITIONS = (0, 1, 2)


def frames_to_tchw(frames: torch.Tensor) -> torch.Tensor:
    """uint8 ``(T, H, W, C)`` (decoder layout) -> ``(T, C, H, W)`` (torchvision layout); a view."""
    if frames.ndim != 4 or frames.shape[-1] not in (1, 3):
        raise ValueError(f"expected frames of shape (T, H, W, C) with C in (1, 3), got {tuple(frames.shape)}")
    return frames.permute(0, 3, 1, 2)


Frames = Union[torch.Tensor, Tuple[torch.Tensor, torch.Tensor]]  # frames, or (frames, boxes) when boxes are given


def _result(frames: torch.Tensor, boxes: Optional[torch.Tensor]) -> Frames:
    return frames if boxes is None else (frames, boxes)


def nonempty_boxes(boxes: torch.Tensor) -> torch.Tensor:
    """``bool (K,)``: the boxes with positive width and height (a clipped-away box has neither)."""
    return (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])


def short_side_scale(frames: torch.Tensor, size: int, boxes: Optional[torch.Tensor] = None) -> Frames:
    """Resize ``(T, C, H, W)`` frames so that the short side is ``size``, keeping the aspect.

    The long side becomes ``floor(long * size / short)`` (as SlowFast does). Antialiased
    bilinear, so down-scaling a 720p clip does not alias. ``boxes`` are scaled by the same
    per-axis factors (``new_width / width``, ``new_height / height``).
    """
    height, width = frames.shape[-2:]
    if min(height, width) == size:
        return _result(frames, boxes)
    if height <= width:
        new_height, new_width = size, int(math.floor(width * size / height))
    else:
        new_height, new_width = int(math.floor(height * size / width)), size
    frames = F.resize(frames, [new_height, new_width], antialias=True)
    if boxes is not None:
        factors = torch.tensor([new_width / width, new_height / height] * 2, dtype=boxes.dtype)
        boxes = boxes * factors
    return _result(frames, boxes)


def random_short_side_scale(
    frames: torch.Tensor, min_size: int, max_size: int, generator: Optional[torch.Generator] = None,
    boxes: Optional[torch.Tensor] = None,
) -> Frames:
    """Scale jitter: short side to an integer drawn uniformly from ``[min_size, max_size]``."""
    if min_size > max_size:
        raise ConfigError(f"short-side jitter range [{min_size}, {max_size}] is empty (DATA.TRAIN_JITTER_SCALES)")
    size = int(torch.randint(min_size, max_size + 1, (1,), generator=generator))
    return short_side_scale(frames, size, boxes)


def _check_crop_fits(frames: torch.Tensor, size: int) -> None:
    height, width = frames.shape[-2:]
    if height < size or width < size:
        raise ValueError(
            f"crop {size}x{size} does not fit in frames of {height}x{width}; the short-side scale "
            f"must be at least the crop size (DATA.TRAIN_JITTER_SCALES vs DATA.TRAIN_CROP_SIZE)"
        )


def _crop(frames: torch.Tensor, top: int, left: int, size: int, boxes: Optional[torch.Tensor]) -> Frames:
    """The square crop at (top, left); boxes shifted into it and clipped to ``[0, size]``."""
    frames = F.crop(frames, top, left, size, size)
    if boxes is not None:
        boxes = (boxes - torch.tensor([left, top, left, top], dtype=boxes.dtype)).clamp(0, size)
    return _result(frames, boxes)


def random_crop(frames: torch.Tensor, size: int, generator: Optional[torch.Generator] = None,
                boxes: Optional[torch.Tensor] = None) -> Frames:
    """A ``size`` x ``size`` crop at a uniformly random position, the same for every frame."""
    _check_crop_fits(frames, size)
    height, width = frames.shape[-2:]
    top = int(torch.randint(0, height - size + 1, (1,), generator=generator))
    left = int(torch.randint(0, width - size + 1, (1,), generator=generator))
    return _crop(frames, top, left, size, boxes)


def uniform_crop(frames: torch.Tensor, size: int, position: int, boxes: Optional[torch.Tensor] = None) -> Frames:
    """The test crop: ``size`` x ``size`` at ``position`` 0/1/2 along the long side.

    Landscape frames give left / centre / right, portrait frames top / centre / bottom; the
    short side is centred (offsets rounded up, as in SlowFast's ``uniform_crop``).
    """
    if position not in CROP_POSITIONS:
        raise ValueError(f"crop position must be one of {CROP_POSITIONS}, got {position}")
    _check_crop_fits(frames, size)
    height, width = frames.shape[-2:]
    top = int(math.ceil((height - size) / 2))
    left = int(math.ceil((width - size) / 2))
    if height > width:
        top = {0: 0, 1: top, 2: height - size}[position]
    else:
        left = {0: 0, 1: left, 2: width - size}[position]
    return _crop(frames, top, left, size, boxes)


def horizontal_flip(frames: torch.Tensor, boxes: Optional[torch.Tensor] = None) -> Frames:
    """Mirror every frame left-right; a box ``[x1, x2]`` becomes ``[W - x2, W - x1]``."""
    if boxes is not None:
        width = frames.shape[-1]
        boxes = torch.stack([width - boxes[:, 2], boxes[:, 1], width - boxes[:, 0], boxes[:, 3]], dim=1)
    return _result(F.horizontal_flip(frames), boxes)


def random_horizontal_flip(
    frames: torch.Tensor, probability: float = 0.5, generator: Optional[torch.Generator] = None,
    boxes: Optional[torch.Tensor] = None,
) -> Frames:
    """Mirror every frame left-right with ``probability``."""
    if float(torch.rand((1,), generator=generator)) < probability:
        return horizontal_flip(frames, boxes)
    return _result(frames, boxes)


def color_jitter(
    frames: torch.Tensor, strengths: Sequence[float], generator: Optional[torch.Generator] = None
) -> torch.Tensor:
    """Brightness, contrast and saturation jitter in a random order, one factor per clip.

    Args:
        frames: ``(T, 3, H, W)`` uint8 or float in [0, 1].
        strengths: ``[brightness, contrast, saturation]``; each factor is drawn uniformly from
            ``[max(0, 1 - s), 1 + s]``; ``s = 0`` leaves that property alone (the Jester recipe
            uses colour jitter instead of flips, whose labels are left/right).
    """
    if len(strengths) != 3:
        raise ConfigError(f"DATA.COLOR_JITTER needs [brightness, contrast, saturation], got {list(strengths)}")
    adjustments = (F.adjust_brightness, F.adjust_contrast, F.adjust_saturation)
    order = torch.randperm(3, generator=generator).tolist()
    factors = [
        float(1 - s + torch.rand((1,), generator=generator) * 2 * s) if s > 0 else None for s in strengths
    ]
    for i in order:
        if factors[i] is not None:
            frames = adjustments[i](frames, max(0.0, factors[i]))
    return frames


def normalize(frames: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """uint8 (or [0, 1] float) ``(T, C, H, W)`` -> contiguous float ``(C, T, H, W)``,
    ``(x / 255 - mean) / std``.

    One pass converts dtype and layout together, one more applies ``x * scale - shift`` in
    place: 3x faster than ``to_dtype`` + ``normalize`` + ``permute`` on strided crops.
    """
    num_frames, channels, height, width = frames.shape
    if len(mean) != channels or len(std) != channels:
        raise ConfigError(f"DATA.MEAN / DATA.STD need {channels} values, got {list(mean)} / {list(std)}")
    out = torch.empty((channels, num_frames, height, width), dtype=torch.float32)
    out.copy_(frames.permute(1, 0, 2, 3))
    std = torch.as_tensor(std, dtype=torch.float32).view(-1, 1, 1, 1)
    mean = torch.as_tensor(mean, dtype=torch.float32).view(-1, 1, 1, 1)
    pixel_scale = 1.0 / 255 if frames.dtype == torch.uint8 else 1.0
    return out.mul_(pixel_scale / std).sub_(mean / std)


def train_transform(
    frames: torch.Tensor,
    cfg,
    generator: Optional[torch.Generator] = None,
    crop_size: Optional[int] = None,
    jitter_scales: Optional[Sequence[int]] = None,
    random_flip: Optional[bool] = None,
    boxes: Optional[torch.Tensor] = None,
) -> Frames:
    """Training augmentation: scale jitter, random crop, flip, colour jitter, normalise.

    Args:
        frames: uint8 ``(T, H, W, 3)`` from the reader.
        cfg: uses DATA.TRAIN_JITTER_SCALES, TRAIN_CROP_SIZE, RANDOM_FLIP, COLOR_JITTER, MEAN, STD.
        generator: source of every random draw.
        crop_size, jitter_scales: overrides of DATA.TRAIN_CROP_SIZE / TRAIN_JITTER_SCALES (the
            multigrid shape of the item, ``datasets.multigrid.train_clip_shape``).
        random_flip: override of DATA.RANDOM_FLIP (datasets with left/right classes pass False).
        boxes: optional float ``(K, 4)`` x1, y1, x2, y2 in pixels of ``frames``.
    Returns:
        float ``(C, T, crop, crop)``; with ``boxes``, ``(clip, boxes)`` with the boxes in pixels of
        the clip, clipped to it (empty ones kept: see :func:`nonempty_boxes`).
    """
    crop_size = crop_size or cfg.DATA.TRAIN_CROP_SIZE
    min_scale, max_scale = jitter_scales or cfg.DATA.TRAIN_JITTER_SCALES
    frames = frames_to_tchw(frames)
    frames, boxes = _split(random_short_side_scale(frames, min_scale, max_scale, generator, boxes), boxes)
    frames, boxes = _split(random_crop(frames, crop_size, generator, boxes), boxes)
    if cfg.DATA.RANDOM_FLIP if random_flip is None else random_flip:
        frames, boxes = _split(random_horizontal_flip(frames, 0.5, generator, boxes), boxes)
    if any(s > 0 for s in cfg.DATA.COLOR_JITTER):
        frames = color_jitter(frames, cfg.DATA.COLOR_JITTER, generator)
    return _result(normalize(frames, cfg.DATA.MEAN, cfg.DATA.STD), boxes)


def _split(result: Frames, boxes: Optional[torch.Tensor]) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
    """``(frames, boxes)`` of an op's result, whether or not it was given boxes."""
    return result if boxes is not None else (result, None)


def eval_transform(frames: torch.Tensor, cfg, scale: int, crop_size: Optional[int], position: int = 1,
                   boxes: Optional[torch.Tensor] = None) -> Frames:
    """Deterministic evaluation view: short side to ``scale``, crop ``crop_size`` at ``position``.

    Args:
        frames: uint8 ``(T, H, W, 3)``.
        crop_size: the square crop, or None for the whole scaled frame (AVA's test view).
        position: 0/1/2 = left/centre/right (top/centre/bottom for portrait clips).
        boxes: optional float ``(K, 4)`` x1, y1, x2, y2 in pixels of ``frames``.
    Returns:
        float ``(C, T, crop_size, crop_size)``; with ``boxes``, ``(clip, boxes)`` as in
        :func:`train_transform`.
    """
    frames, boxes = _split(short_side_scale(frames_to_tchw(frames), scale, boxes), boxes)
    if crop_size:
        frames, boxes = _split(uniform_crop(frames, crop_size, position, boxes), boxes)
    return _result(normalize(frames, cfg.DATA.MEAN, cfg.DATA.STD), boxes)


def test_transform(frames: torch.Tensor, cfg, position: int = 1) -> torch.Tensor:
    """The multi-view test crop: short side to TEST_CROP_SIZE, square crop at ``position``."""
    return eval_transform(frames, cfg, cfg.DATA.TEST_CROP_SIZE, cfg.DATA.TEST_CROP_SIZE, position)


test_transform.__test__ = False  # not a pytest test, even when a test module imports it by name


def spatial_crop_position(spatial_index: int, num_spatial_crops: int) -> int:
    """Crop position of test crop ``spatial_index`` out of ``num_spatial_crops`` (1 = centre only)."""
    if num_spatial_crops == 1:
        return 1
    if num_spatial_crops == 3:
        return spatial_index
    raise ConfigError(f"TEST.NUM_SPATIAL_CROPS must be 1 or 3, got {num_spatial_crops}")


def pack_pathway_output(cfg, frames: torch.Tensor) -> List[torch.Tensor]:
    """Split a clip into the model's pathway inputs.

    Args:
        frames: ``(C, T, H, W)`` (or batched ``(N, C, T, H, W)``): the fast pathway's frames.
    Returns:
        ``[frames]`` for MODEL.ARCH in MODEL.SINGLE_PATHWAY_ARCH; ``[slow, fast]`` for
        MULTI_PATHWAY_ARCH, where slow keeps ``T // SLOWFAST.ALPHA`` frames at
        ``linspace(0, T - 1, T // ALPHA).long()`` (T=32, ALPHA=4: 0, 4, 8, 13, 17, 22, 26, 31).
    """
    arch = cfg.MODEL.ARCH
    if arch in cfg.MODEL.SINGLE_PATHWAY_ARCH:
        return [frames]
    if arch in cfg.MODEL.MULTI_PATHWAY_ARCH:
        num_frames = frames.shape[-3]
        num_slow = num_frames // cfg.SLOWFAST.ALPHA
        if num_slow < 1:
            raise ValueError(
                f"clip of {num_frames} frames is shorter than SLOWFAST.ALPHA={cfg.SLOWFAST.ALPHA}: "
                "the slow pathway would be empty (raise DATA.NUM_FRAMES)"
            )
        slow_index = torch.linspace(0, num_frames - 1, num_slow).long()
        slow = torch.index_select(frames, -3, slow_index.to(frames.device))
        return [slow, frames]
    raise ValueError(
        f"MODEL.ARCH '{arch}' is in neither MODEL.SINGLE_PATHWAY_ARCH {list(cfg.MODEL.SINGLE_PATHWAY_ARCH)} "
        f"nor MODEL.MULTI_PATHWAY_ARCH {list(cfg.MODEL.MULTI_PATHWAY_ARCH)}"
    )
