"""Decoded videos kept in memory between epochs (``DATA.DECODED_CACHE_MB``).

A small dataset (the built-in synthetic one: 540 training videos of 48 frames at 96x128, ~0.95
GiB decoded) is decoded once, in the first epoch, and every later clip is cut from memory. On 2
CPU cores this lets the tiny configs load in the training process (``DATA_LOADER.NUM_WORKERS 0``)
and give the model both cores instead of one (docs/benchmarks.md "Data loading").

The cache belongs to one dataset instance in one process. Loader workers are restarted every
epoch, so their caches would die with them: ``config/validate.py`` refuses the cache with
workers. Videos are kept until the budget is spent and never evicted: with clips drawn at random
every epoch, evicting one video to keep another saves no decoding.
"""
from typing import Dict, Hashable, Optional

import numpy as np

from slowfast.datasets.video_reader import VideoReader


class DecodedVideo(VideoReader):
    """A reader over every frame of one video kept in memory, ``uint8 (F, H, W, 3)`` RGB.

    It reads like the reader it was decoded from (same frames, ``num_frames``, ``fps``, checks),
    and closing it keeps the frames: the cache owns them.
    """

    def __init__(self, path: str, frames: np.ndarray, fps: float):
        self.path = path
        self.frames = frames
        self.fps = float(fps)
        self.num_frames, self.height, self.width = (int(n) for n in frames.shape[:3])

    def _read(self, indices: np.ndarray) -> np.ndarray:
        return self.frames[indices]


def decoded_size(reader: VideoReader, num_frames: int) -> int:
    """Bytes of ``num_frames`` decoded RGB frames of ``reader``'s video."""
    return int(num_frames) * int(reader.height) * int(reader.width) * 3


class DecodedVideoCache:
    """Whole decoded videos by key, up to ``budget_bytes`` in all.

    ``get`` returns a kept video; ``decode_and_keep`` decodes one when it ``fits`` in what is left
    of the budget (otherwise the caller reads only the frames it needs, as without a cache).
    """

    def __init__(self, budget_bytes: int):
        if budget_bytes <= 0:
            raise ValueError(f"budget_bytes must be > 0, got {budget_bytes}")
        self.budget_bytes = int(budget_bytes)
        self.used_bytes = 0
        self._videos: Dict[Hashable, DecodedVideo] = {}

    def __len__(self) -> int:
        return len(self._videos)

    def get(self, key: Hashable) -> Optional[DecodedVideo]:
        return self._videos.get(key)

    def fits(self, num_bytes: int) -> bool:
        return self.used_bytes + num_bytes <= self.budget_bytes

    def decode_and_keep(self, key: Hashable, reader: VideoReader, num_frames: int) -> DecodedVideo:
        """Decode frames ``0..num_frames-1`` of ``reader`` and keep them under ``key``."""
        video = DecodedVideo(reader.path, reader.read(np.arange(num_frames)), reader.fps)
        self._videos[key] = video
        self.used_bytes += video.frames.nbytes
        return video


def cache_from_megabytes(megabytes: float) -> Optional[DecodedVideoCache]:
    """The cache of ``DATA.DECODED_CACHE_MB`` (MiB; 0 = no cache)."""
    return DecodedVideoCache(int(megabytes * 2**20)) if megabytes > 0 else None
