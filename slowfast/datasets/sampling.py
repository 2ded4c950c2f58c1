"""Temporal sampling: which source frames make a clip. Pure functions, no I/O, no global RNG.

A clip of ``num_frames`` frames taken every ``sampling_rate`` frames of a video resampled to
``target_fps`` covers ``sampling_rate * num_frames / target_fps`` seconds, i.e.

    clip_length = sampling_rate * num_frames / target_fps * fps      source frames,

and its frame ``k`` is source frame ``floor(start + k * sampling_rate * fps / target_fps)``.
The start is random in training (``clip_idx = -1``; every whole-frame start equally likely)
and, in testing, the centre of the
``clip_idx``-th of ``num_clips`` equal slices of the possible starts ``[0, num_video_frames -
clip_length]`` (with one clip: the centred clip). A clip longer than the video starts at 0 and
repeats the last frame.
"""
import math
import random
from typing import Optional, Union

import numpy as np
from slowfast.utils.errors import ConfigError

RandomSource = Union[np.random.Generator, random.Random]

# Positions like 2.9999999997 must floor to 3: tolerate float error far below one frame.
_EPS = 1e-6


def clip_length(num_frames: int, sampling_rate: float, target_fps: float, fps: float) -> float:
    """Length of a clip in source frames: ``sampling_rate * num_frames / target_fps * fps``."""
    _check_positive(num_frames=num_frames, sampling_rate=sampling_rate, target_fps=target_fps, fps=fps)
    return sampling_rate * num_frames / target_fps * fps


def clip_start(num_video_frames: int, clip_len: float, clip_idx: int = -1, num_clips: int = 1,
               rng: Optional[RandomSource] = None) -> float:
    """First source position of a clip of ``clip_len`` frames in a video of ``num_video_frames``.

    Args:
        clip_idx: -1 for a random start drawn from ``rng`` (training), else the test view
            ``0 <= clip_idx < num_clips``, placed at the centre of its slice of possible starts.
        rng: ``numpy.random.Generator`` or ``random.Random``; required when ``clip_idx == -1``.
    Returns:
        a float in ``[0, max(num_video_frames - clip_len, 0)]``.
    """
    _check_positive(num_video_frames=num_video_frames, num_clips=num_clips)
    delta = max(num_video_frames - clip_len, 0.0)
    if clip_idx == -1:
        if rng is None:
            raise ValueError("clip_idx -1 (random clip) needs an rng (numpy Generator or random.Random)")
        # Uniform over [0, floor(delta) + 1) clamped to delta: every whole-frame start,
        # including the last one, is equally likely (uniform(0, delta) never floors to delta).
        return min(float(rng.uniform(0.0, math.floor(delta) + 1.0)), delta)
    if not 0 <= clip_idx < num_clips:
        raise ValueError(f"clip_idx must be -1 or in [0, {num_clips}), got {clip_idx}")
    return delta * (clip_idx + 0.5) / num_clips


def clip_indices(num_video_frames: int, fps: float, num_frames: int, sampling_rate: float,
                 target_fps: float, clip_idx: int = -1, num_clips: int = 1,
                 rng: Optional[RandomSource] = None) -> np.ndarray:
    """Source frame indices ``int64 (num_frames,)`` of one clip, non-decreasing, in
    ``[0, num_video_frames)``.

    ``sampling_rate`` is in frames at ``target_fps``; pass the multigrid rate of the current
    long-cycle phase here (see :func:`random_sampling_rate`). See :func:`clip_start` for
    ``clip_idx``, ``num_clips`` and ``rng``.
    """
    length = clip_length(num_frames, sampling_rate, target_fps, fps)
    start = clip_start(num_video_frames, length, clip_idx, num_clips, rng)
    step = length / num_frames  # = sampling_rate * fps / target_fps
    positions = np.floor(start + step * np.arange(num_frames) + _EPS)
    return np.clip(positions, 0, num_video_frames - 1).astype(np.int64)


def random_sampling_rate(long_cycle_sampling_rate: int, sampling_rate: int,
                         rng: Optional[RandomSource] = None) -> int:
    """The sampling rate of one training clip under the multigrid long cycle.

    When the long cycle shortens clips to T < T0 frames the trainer sets
    ``long_cycle_sampling_rate = sampling_rate * T0 / T``; each clip then takes a random rate
    in ``[sampling_rate, long_cycle_sampling_rate]`` (inclusive) so that the clip still spans
    about the same time. ``long_cycle_sampling_rate <= 0`` (long cycle off) returns
    ``sampling_rate``.
    """
    _check_positive(sampling_rate=sampling_rate)
    if long_cycle_sampling_rate <= 0:
        return int(sampling_rate)
    if long_cycle_sampling_rate < sampling_rate:
        raise ConfigError(f"MULTIGRID.LONG_CYCLE_SAMPLING_RATE ({long_cycle_sampling_rate}) is below "
                         f"DATA.SAMPLING_RATE ({sampling_rate})")
    if rng is None:
        raise ValueError("a random multigrid sampling rate needs an rng (numpy Generator or random.Random)")
    if isinstance(rng, np.random.Generator):
        return int(rng.integers(sampling_rate, long_cycle_sampling_rate, endpoint=True))
    return int(rng.randint(sampling_rate, long_cycle_sampling_rate))


def _check_positive(**values: float) -> None:
    for name, value in values.items():
        if not (value > 0 and math.isfinite(value)):
            raise ValueError(f"{name} must be a positive number, got {value!r}")
