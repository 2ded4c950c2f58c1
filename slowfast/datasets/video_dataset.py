"""The one base dataset shared by every annotation format.

    split -> annotation records -> (video, view) of the item -> open_video -> clip indices
          -> read -> spatial transforms -> pack_pathway_output

A subclass only parses its annotation format (``load_records``) and, when its files need it,
chooses how they are opened (``reader_options``). Items follow the contract of
``datasets/build.py``: ``(inputs, label, video_index, meta)``.

Randomness: every training item draws from its own generators seeded by ``(RNG_SEED, epoch,
index)``, so an epoch's augmentations are the same with 0 or N loader workers and after a
resume (``set_epoch`` is called by ``loader.shuffle_dataset``).

Decode failures (missing, empty, truncated, undecodable, audio-only files, unreadable frames):

* train: the item is replaced by another random video, up to ``DATA.MAX_DECODE_RETRIES`` times
  (then ``DecodeRetriesExhausted``); the failed paths travel in ``meta["failed"]``.
* val / test: the item is marked ``meta["dropped"]`` with its path in ``meta["failed"]``; the
  collate function removes it from the batch.
"""
import logging
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

import numpy as np
import torch

from slowfast.datasets import sampling, transforms
from slowfast.datasets.annotations import OnError, VideoRecord, check_labels
from slowfast.datasets.decoded_cache import cache_from_megabytes, decoded_size
from slowfast.datasets.failures import DECODE_ERRORS, DecodeRetriesExhausted, dropped_item
from slowfast.datasets.multigrid import train_clip_shape, unpack_index
from slowfast.datasets.video_reader import VideoDecodeError, VideoReader, open_video
from slowfast.utils.errors import ConfigError

logger = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class ReaderOptions:
    """How the dataset's videos are opened (arguments of ``open_video``)."""

    backend: str
    threads: int = 1
    frame_template: str = "img_{:05d}.jpg"
    start_index: int = 1
    fps: float = 30.0


def item_rngs(seed: int, epoch: int, index: int) -> Tuple[np.random.Generator, torch.Generator]:
    """Independent numpy (temporal sampling) and torch (spatial augmentation) generators of one
    item, a pure function of ``(seed, epoch, index)``."""
    numpy_rng = np.random.default_rng([abs(int(seed)), int(epoch), int(index)])
    torch_rng = torch.Generator().manual_seed(int(numpy_rng.integers(2**62)))
    return numpy_rng, torch_rng


def check_spatial_sizes(cfg) -> None:
    """Training and validation crops must fit in the scaled frames (fail at construction, not mid-epoch)."""
    min_scale, max_scale = cfg.DATA.TRAIN_JITTER_SCALES
    if not 0 < min_scale <= max_scale:
        raise ConfigError(f"DATA.TRAIN_JITTER_SCALES must be [min, max] with 0 < min <= max, got {[min_scale, max_scale]}")
    if min_scale < cfg.DATA.TRAIN_CROP_SIZE:
        raise ConfigError(
            f"DATA.TRAIN_JITTER_SCALES[0]={min_scale} is below DATA.TRAIN_CROP_SIZE={cfg.DATA.TRAIN_CROP_SIZE}: "
            "the crop would not fit in the scaled frames"
        )


class VideoDataset(torch.utils.data.Dataset):
    """Base of the video datasets; subclasses implement ``load_records``.

    Args:
        cfg: the config (DATA, TEST, MODEL, SLOWFAST, MULTIGRID, RNG_SEED).
        split: "train", "val" or "test". Train samples one random clip per video; val one
            centred clip with a centre crop (short side DATA.TRAIN_JITTER_SCALES[0], crop
            TRAIN_CROP_SIZE); test NUM_ENSEMBLE_VIEWS uniform clips x NUM_SPATIAL_CROPS crops.
        on_annotation_error: None (default) raises at the first malformed line or bad label; a
            callable receives each ``AnnotationError`` and the line is left out (data checks).
    """

    # False for datasets whose classes are mirror images of each other (swipe left / right).
    allow_flip = True
    # False for datasets that make their own files instead of reading DATA.PATH_TO_DATA_DIR.
    REQUIRES_DATA_DIR = True

    def __init__(self, cfg, split: str, on_annotation_error: OnError = None):
        if split not in SPLITS:
            raise ValueError(f"{type(self).__name__}: split must be one of {SPLITS}, got '{split}'")
        self.cfg = cfg
        self.split = split
        self.seed = cfg.RNG_SEED
        self.epoch = 0
        self.on_annotation_error = on_annotation_error
        self._last_eval_clip: Optional[Tuple[Tuple[int, int], object]] = None  # (key, frames or error)
        if split != "test":
            check_spatial_sizes(cfg)
        self.options = self.reader_options(cfg)
        self.decoded_cache = cache_from_megabytes(cfg.DATA.DECODED_CACHE_MB)
        records, annotation_path = self.load_records(split)
        self.records: List[VideoRecord] = check_labels(
            records, cfg.MODEL.NUM_CLASSES, self.one_based_labels(), annotation_path, on_annotation_error
        )
        self.annotation_path = annotation_path
        is_test = split == "test"
        self.num_temporal_views = cfg.TEST.NUM_ENSEMBLE_VIEWS if is_test else 1
        self.num_spatial_crops = cfg.TEST.NUM_SPATIAL_CROPS if is_test else 1
        if is_test:
            transforms.spatial_crop_position(0, self.num_spatial_crops)  # validates the count
        logger.info(f"{type(self).__name__} {split}: {len(self.records)} videos, {len(self)} items from {annotation_path}")

    # ------------------------------------------------------------------ hooks
    def load_records(self, split: str) -> Tuple[List[VideoRecord], str]:
        """Parse the annotations of ``split``: ``(records, annotation file path)``."""
        raise NotImplementedError

    def reader_options(self, cfg) -> ReaderOptions:
        """How to open this dataset's videos (default: the DATA.DECODING_* / FRAME_* keys)."""
        return ReaderOptions(
            backend=cfg.DATA.DECODING_BACKEND,
            threads=cfg.DATA.DECODING_THREADS,
            frame_template=cfg.DATA.FRAME_TEMPLATE,
            start_index=cfg.DATA.FRAME_START_INDEX,
            fps=cfg.DATA.FRAME_FOLDER_FPS or float(cfg.DATA.TARGET_FPS),
        )

    def item_label(self, record: VideoRecord):
        """The label an item of ``record`` carries: the class id (multi-label datasets return a
        multi-hot ``FloatTensor(NUM_CLASSES)``)."""
        return record.label

    def one_based_labels(self) -> bool:
        """Whether the labels of the lists run 1..K (converted to 0..K-1)."""
        return self.cfg.DATA.ONE_BASED_LABELS

    # ------------------------------------------------------------------ sizes
    @property
    def num_videos(self) -> int:
        return len(self.records)

    @property
    def views_per_video(self) -> int:
        return self.num_temporal_views * self.num_spatial_crops

    def __len__(self) -> int:
        return self.num_videos * self.views_per_video

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose augmentations ``__getitem__`` draws."""
        self.epoch = int(epoch)

    # ------------------------------------------------------------------ decoding
    def open_reader(self, record: VideoRecord) -> VideoReader:
        """Open ``record``'s video; a frame list's own frame count and offset are honoured."""
        options = self.options
        start_index = record.start_index if record.start_index is not None else options.start_index
        reader = open_video(record.path, options.backend, options.threads, options.frame_template, start_index, options.fps)
        if record.num_frames is not None and reader.num_frames < record.num_frames:
            reader.close()
            raise VideoDecodeError(
                f"{record.path}: {record.source} lists {record.num_frames} frames, only {reader.num_frames} are readable"
            )
        return reader

    def open_clip_reader(self, record: VideoRecord) -> VideoReader:
        """The reader ``read_clip`` cuts clips from: ``record``'s video kept in ``decoded_cache``
        (``DATA.DECODED_CACHE_MB``), decoded whole and kept the first time while the budget lasts,
        else the file opened as without a cache."""
        cache = self.decoded_cache
        if cache is None:
            return self.open_reader(record)
        key = (record.path, record.start_index, record.num_frames)
        kept = cache.get(key)
        if kept is not None:
            return kept
        reader = self.open_reader(record)
        num_video_frames = record.num_frames or reader.num_frames
        if not cache.fits(decoded_size(reader, num_video_frames)):
            return reader
        with reader:
            return cache.decode_and_keep(key, reader, num_video_frames)

    def read_clip(self, record: VideoRecord, sampling_rate: int, clip_idx: int, num_clips: int,
                  rng: Optional[np.random.Generator] = None) -> torch.Tensor:
        """Decode one clip of DATA.NUM_FRAMES frames: uint8 ``(T, H, W, 3)``.

        ``clip_idx`` -1 draws a random start from ``rng``; otherwise the uniform test view.
        """
        cfg = self.cfg
        with self.open_clip_reader(record) as reader:
            num_video_frames = record.num_frames or reader.num_frames
            indices = sampling.clip_indices(
                num_video_frames, reader.fps, cfg.DATA.NUM_FRAMES, sampling_rate, cfg.DATA.TARGET_FPS,
                clip_idx, num_clips, rng,
            )
            return torch.from_numpy(reader.read(indices))

    # ------------------------------------------------------------------ items
    def __getitem__(self, index):
        """``(inputs, label, video_index, meta)``; ``index`` may be a short-cycle ``(index, crop)``."""
        if self.split == "train":
            return self._train_item(index)
        video_index, view_index = divmod(unpack_index(index)[0], self.views_per_video)
        return self._eval_item(video_index, view_index)

    def _train_item(self, index) -> Tuple[List[torch.Tensor], int, int, Dict]:
        item_index = unpack_index(index)[0]
        numpy_rng, torch_rng = item_rngs(self.seed, self.epoch, item_index)
        shape = train_clip_shape(self.cfg, index, torch_rng)
        failed: List[str] = []
        video_index = item_index
        for _ in range(self.cfg.DATA.MAX_DECODE_RETRIES + 1):
            record = self.records[video_index]
            try:
                frames = self.read_clip(record, shape.sampling_rate, -1, 1, numpy_rng)
            except DECODE_ERRORS as error:
                logger.warning(f"train: skipping {record.source}: {error}")
                failed.append(record.path)
                video_index = int(numpy_rng.integers(len(self.records)))
                continue
            clip = transforms.train_transform(
                frames, self.cfg, torch_rng, crop_size=shape.crop_size, jitter_scales=shape.jitter_scales,
                random_flip=self.cfg.DATA.RANDOM_FLIP and self.allow_flip,
            )
            meta = {"view_index": 0, "failed": failed}
            return transforms.pack_pathway_output(self.cfg, clip), self.item_label(record), video_index, meta
        raise DecodeRetriesExhausted(failed, self.cfg.DATA.MAX_DECODE_RETRIES)

    def _eval_clip(self, video_index: int, temporal_index: int) -> torch.Tensor:
        """The decoded frames of an evaluation view. The spatial crops of one temporal view share
        them, and the sequential sampler asks for them back to back: the last clip (or its decode
        error) is kept so a 3-crop test decodes each clip once instead of three times."""
        key = (video_index, temporal_index)
        if self._last_eval_clip is None or self._last_eval_clip[0] != key:
            record = self.records[video_index]
            try:
                result = self.read_clip(record, self.cfg.DATA.SAMPLING_RATE, temporal_index, self.num_temporal_views)
            except DECODE_ERRORS as error:
                result = error
            self._last_eval_clip = (key, result)
        result = self._last_eval_clip[1]
        if isinstance(result, Exception):
            raise result
        return result

    def _eval_item(self, video_index: int, view_index: int) -> Tuple[List[torch.Tensor], int, int, Dict]:
        cfg = self.cfg
        record = self.records[video_index]
        temporal_index, spatial_index = divmod(view_index, self.num_spatial_crops)
        if self.split == "test":
            scale = crop_size = cfg.DATA.TEST_CROP_SIZE
        else:
            scale, crop_size = cfg.DATA.TRAIN_JITTER_SCALES[0], cfg.DATA.TRAIN_CROP_SIZE
        try:
            frames = self._eval_clip(video_index, temporal_index)
        except DECODE_ERRORS as error:
            logger.warning(f"{self.split}: dropping view {view_index} of {record.source}: {error}")
            inputs, _, _, meta = dropped_item(cfg, record, video_index, view_index, crop_size)
            return inputs, self.item_label(record), video_index, meta
        position = transforms.spatial_crop_position(spatial_index, self.num_spatial_crops)
        clip = transforms.eval_transform(frames, cfg, scale, crop_size, position)
        meta = {"view_index": view_index, "failed": []}
        return transforms.pack_pathway_output(cfg, clip), self.item_label(record), video_index, meta
