"""AVA spatio-temporal action detection (``TRAIN.DATASET ava``) on the official v2.1 / v2.2 layout.

Files (``AVA.*`` keys, SlowFast's names; formats in ``datasets/ava_annotations.py``):

    AVA.FRAME_DIR/<video_id>/<video_id>_000001.jpg        frames at AVA.FPS from AVA.FIRST_FRAME_SEC
    AVA.FRAME_LIST_DIR/{TRAIN_LISTS, TEST_LISTS}          frame lists
    AVA.ANNOTATION_DIR/TRAIN_GT_BOX_LISTS                 ground-truth boxes (train)
    AVA.ANNOTATION_DIR/{TRAIN,TEST}_PREDICT_BOX_LISTS     person detections >= DETECTION_SCORE_THRESH
    AVA.ANNOTATION_DIR/{LABEL_MAP_FILE, EXCLUSION_FILE, GROUNDTRUTH_FILE}   evaluation (ava_metrics)

One item per keyframe (a second in ``AVA.VALID_SECONDS`` with at least one box; in val only the
seconds divisible by 4 unless ``AVA.FULL_TEST_ON_VAL``). Training boxes are the ground truth plus
any ``TRAIN_PREDICT_BOX_LISTS``; val / test boxes are the predicted ones (the model scores each).
Boxes with identical coordinates in one keyframe are one person whose labels are merged.

The clip (``DATA.NUM_FRAMES`` frames every ``DATA.SAMPLING_RATE``) is centred on the keyframe and
read with the frame-folder reader; spatial transforms carry the boxes (``transforms``):

* train: short side jittered in ``DATA.TRAIN_JITTER_SCALES``, random ``TRAIN_CROP_SIZE`` crop,
  flip (``DATA.RANDOM_FLIP``), colour jitter (``DATA.COLOR_JITTER``); boxes clipped to the crop,
  and boxes the crop leaves empty dropped and counted (``meta["dropped_boxes"]``); a keyframe that
  loses every box is replaced by another one;
* val: short side ``TEST_CROP_SIZE``, centre crop ``TEST_CROP_SIZE``; test: short side
  ``TEST_CROP_SIZE``, whole frame (as SlowFast). Evaluation keeps every box (clipped), so every
  predicted box is scored once.

``SYNTHETIC.LAYOUT ava`` points every ``AVA.*`` path at the built-in generated dataset
(:func:`resolve_ava_cfg`), so ``TRAIN.DATASET ava`` trains and evaluates with nothing set up.

Items follow the detection contract (``datasets/build.py`` and ``loader.detection_collate``):
``(inputs, labels FloatTensor(K, NUM_CLASSES), index, meta)`` with ``meta["boxes"] (K, 4)`` pixels
of the clip, ``meta["ori_boxes"] (K, 4)`` normalised, ``meta["metadata"] LongTensor(K, 2)``
``(video_idx, second)``.
"""
import logging
import os
from collections import OrderedDict
from dataclasses import dataclass
from typing import Dict, List, Tuple

import numpy as np
import torch

from slowfast.datasets import transforms
from slowfast.datasets.annotations import AnnotationError, VideoRecord
from slowfast.datasets.ava_annotations import parse_box_csv, parse_frame_lists
from slowfast.datasets.build import DATASET_REGISTRY
from slowfast.datasets.failures import DECODE_ERRORS, DecodeRetriesExhausted, pathway_shapes
from slowfast.datasets.multigrid import unpack_index
from slowfast.datasets.synthetic_detection import ava_overrides, ensure_generated, uses_builtin_layout
from slowfast.datasets.video_dataset import SPLITS, item_rngs
from slowfast.datasets.video_reader import VideoReader, open_video

logger = logging.getLogger(__name__)


def resolve_ava_cfg(cfg):
    """``cfg`` itself, or, with ``SYNTHETIC.LAYOUT ava``, a copy whose ``AVA.*`` paths, file names
    and keyframe range point at the built-in synthetic AVA dataset (generated on first use)."""
    if not uses_builtin_layout(cfg, "ava"):
        return cfg

    root = ensure_generated(cfg, "ava")
    cfg = cfg.clone()
    cfg.defrost()  # the caller's config may be frozen; this copy is the dataset's own
    for key, value in ava_overrides(cfg, root).items():
        setattr(cfg.AVA, key, value)
    return cfg


def centred_clip_indices(center: int, num_frames: int, sampling_rate: int, num_video_frames: int) -> np.ndarray:
    """SlowFast's AVA clip: ``range(center - L/2, center + L/2, sampling_rate)`` with
    ``L = num_frames * sampling_rate``, clamped to ``[0, num_video_frames)``: int64 ``(num_frames,)``."""
    half = num_frames * sampling_rate // 2
    indices = np.arange(center - half, center + half, sampling_rate, dtype=np.int64)[:num_frames]
    return np.clip(indices, 0, num_video_frames - 1)


@dataclass
class Keyframe:
    """One item: a second of a video and its boxes (normalised ``(K, 4)``) with their action ids."""

    video_index: int
    second: int
    boxes: np.ndarray
    action_ids: List[Tuple[int, ...]]


@DATASET_REGISTRY.register()
class Ava(torch.utils.data.Dataset):
    """AVA keyframes with their person boxes (see the module docstring)."""

    allow_flip = True
    REQUIRES_DATA_DIR = False  # reads the AVA.* directories

    def __init__(self, cfg, split: str):
        if split not in SPLITS:
            raise ValueError(f"Ava: split must be one of {SPLITS}, got '{split}'")
        cfg = resolve_ava_cfg(cfg)
        self.cfg, self.split = cfg, split
        self.seed, self.epoch = cfg.RNG_SEED, 0
        ava = cfg.AVA
        lists = [os.path.join(ava.FRAME_LIST_DIR, name) for name in (ava.TRAIN_LISTS if split == "train" else ava.TEST_LISTS)]
        self.videos = parse_frame_lists(lists, prefix=ava.FRAME_DIR)
        self.video_names: List[str] = [video.video_id for video in self.videos]
        self.records = [VideoRecord(v.folder, 0, v.source, v.num_frames, v.start_index) for v in self.videos]
        self._video_by_folder = {v.folder: v for v in self.videos}
        self.annotation_path = lists[0] if lists else ""
        self.keyframes = self._load_keyframes()
        num_boxes = sum(len(k.boxes) for k in self.keyframes)
        logger.info(f"Ava {split}: {len(self.videos)} videos, {len(self.keyframes)} keyframes, {num_boxes} boxes")

    # ------------------------------------------------------------------ annotations
    def _box_files(self) -> List[Tuple[str, bool]]:
        """(path, is ground truth) of the box CSVs of this split."""
        ava = self.cfg.AVA
        gt = list(ava.TRAIN_GT_BOX_LISTS) if self.split == "train" else []
        predicted = list(ava.TRAIN_PREDICT_BOX_LISTS if self.split == "train" else ava.TEST_PREDICT_BOX_LISTS)
        return [(os.path.join(ava.ANNOTATION_DIR, name), True) for name in gt] + \
               [(os.path.join(ava.ANNOTATION_DIR, name), False) for name in predicted]

    def _load_keyframes(self) -> List[Keyframe]:
        ava, num_classes = self.cfg.AVA, self.cfg.MODEL.NUM_CLASSES
        first, last = ava.VALID_SECONDS
        sample_rate = 4 if self.split == "val" and not ava.FULL_TEST_ON_VAL else 1
        video_index = {name: i for i, name in enumerate(self.video_names)}
        # (video index, second) -> {box: set of action ids}, in file order
        boxes: Dict[Tuple[int, int], Dict[Tuple[float, ...], set]] = OrderedDict()
        unlisted = 0
        for path, is_gt in self._box_files():
            for row in parse_box_csv(path, has_score=not is_gt):
                if not is_gt and row.score < ava.DETECTION_SCORE_THRESH:
                    continue
                if not first <= row.timestamp <= last or row.timestamp % sample_rate:
                    continue
                if row.video_id not in video_index:
                    unlisted += 1
                    continue
                if row.action_id > num_classes or row.action_id == 0:
                    raise AnnotationError(f"{row.source}: action_id {row.action_id} is outside 1..MODEL.NUM_CLASSES={num_classes}")
                video = self.videos[video_index[row.video_id]]
                center = self._center_frame(row.timestamp)
                if not 0 <= center < video.num_frames:
                    raise AnnotationError(
                        f"{row.source}: keyframe {row.timestamp} s of '{row.video_id}' is frame {center} "
                        f"((t - AVA.FIRST_FRAME_SEC) * AVA.FPS), the frame list has {video.num_frames} frames")
                actions = boxes.setdefault((video_index[row.video_id], row.timestamp), OrderedDict()).setdefault(
                    tuple(round(v, 4) for v in row.box), set())
                if row.action_id > 0:
                    actions.add(row.action_id)
        if unlisted:
            logger.warning(f"Ava {self.split}: {unlisted} boxes of videos missing from the frame lists were ignored")
        return [Keyframe(v, sec, np.array(list(people), dtype=np.float32).reshape(-1, 4),
                         [tuple(sorted(a)) for a in people.values()])
                for (v, sec), people in sorted(boxes.items())]

    def _center_frame(self, second: int) -> int:
        return int(round((second - self.cfg.AVA.FIRST_FRAME_SEC) * self.cfg.AVA.FPS))

    # ------------------------------------------------------------------ sizes and reading
    @property
    def num_videos(self) -> int:
        return len(self.videos)

    def __len__(self) -> int:
        return len(self.keyframes)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def open_reader(self, record: VideoRecord) -> VideoReader:
        """The frame-folder reader of ``record`` (one of ``self.records``; data checks use it too)."""
        video = self._video_by_folder[record.path]
        return open_video(video.folder, "frames", frame_template=video.frame_template,
                          start_index=video.start_index, fps=float(self.cfg.AVA.FPS))

    def read_clip(self, keyframe: Keyframe) -> torch.Tensor:
        """uint8 ``(T, H, W, 3)``: the clip centred on the keyframe."""
        video, data = self.videos[keyframe.video_index], self.cfg.DATA
        indices = centred_clip_indices(self._center_frame(keyframe.second), data.NUM_FRAMES, data.SAMPLING_RATE,
                                       video.num_frames)
        with self.open_reader(self.records[keyframe.video_index]) as reader:
            return torch.from_numpy(reader.read(indices))

    def labels_of(self, keyframe: Keyframe) -> torch.Tensor:
        """Multi-hot ``FloatTensor(K, NUM_CLASSES)``; column ``j`` is action id ``j + 1``."""
        labels = torch.zeros((len(keyframe.action_ids), self.cfg.MODEL.NUM_CLASSES))
        for row, actions in enumerate(keyframe.action_ids):
            for action in actions:
                labels[row, action - 1] = 1.0
        return labels

    # ------------------------------------------------------------------ items
    def __getitem__(self, index):
        index = unpack_index(index)[0]
        if self.split == "train":
            return self._train_item(index)
        return self._eval_item(index)

    def _item(self, index: int, clip: torch.Tensor, boxes: torch.Tensor, keep: torch.Tensor, failed: List[str]):
        keyframe = self.keyframes[index]
        if self.cfg.AVA.BGR:
            clip = clip.flip(0)
        ori_boxes = torch.from_numpy(keyframe.boxes)[keep]
        metadata = torch.tensor([[keyframe.video_index, keyframe.second]], dtype=torch.long).repeat(len(ori_boxes), 1)
        meta = {"boxes": boxes[keep], "ori_boxes": ori_boxes, "metadata": metadata, "failed": failed,
                "dropped_boxes": int((~keep).sum())}
        return transforms.pack_pathway_output(self.cfg, clip), self.labels_of(keyframe)[keep], index, meta

    def _pixel_boxes(self, keyframe: Keyframe, frames: torch.Tensor) -> torch.Tensor:
        height, width = frames.shape[1:3]
        return torch.from_numpy(keyframe.boxes) * torch.tensor([width, height, width, height], dtype=torch.float32)

    def _train_item(self, index: int):
        numpy_rng, torch_rng = item_rngs(self.seed, self.epoch, index)
        failed: List[str] = []
        for _ in range(self.cfg.DATA.MAX_DECODE_RETRIES + 1):
            keyframe = self.keyframes[index]
            try:
                frames = self.read_clip(keyframe)
            except DECODE_ERRORS as error:
                logger.warning(f"train: skipping keyframe {keyframe.second} of {self.video_names[keyframe.video_index]}: {error}")
                failed.append(self.videos[keyframe.video_index].folder)
                index = int(numpy_rng.integers(len(self.keyframes)))
                continue
            clip, boxes = transforms.train_transform(
                frames, self.cfg, torch_rng, random_flip=self.cfg.DATA.RANDOM_FLIP and self.allow_flip,
                boxes=self._pixel_boxes(keyframe, frames))
            keep = transforms.nonempty_boxes(boxes)
            if keep.any():
                return self._item(index, clip, boxes, keep, failed)
            index = int(numpy_rng.integers(len(self.keyframes)))  # the crop missed every person
        raise DecodeRetriesExhausted(failed, self.cfg.DATA.MAX_DECODE_RETRIES)

    def _eval_item(self, index: int):
        cfg, keyframe = self.cfg, self.keyframes[index]
        size = cfg.DATA.TEST_CROP_SIZE
        try:
            frames = self.read_clip(keyframe)
        except DECODE_ERRORS as error:
            folder = self.videos[keyframe.video_index].folder
            logger.warning(f"{self.split}: dropping keyframe {keyframe.second} of {folder}: {error}")
            inputs = [torch.zeros(()).expand(shape) for shape in pathway_shapes(cfg, cfg.DATA.NUM_FRAMES, size)]
            empty = {"boxes": torch.zeros((0, 4)), "ori_boxes": torch.zeros((0, 4)),
                     "metadata": torch.zeros((0, 2), dtype=torch.long), "failed": [folder], "dropped": True}
            return inputs, torch.zeros((0, cfg.MODEL.NUM_CLASSES)), index, empty
        crop = size if self.split == "val" else None
        clip, boxes = transforms.eval_transform(frames, cfg, size, crop, 1, boxes=self._pixel_boxes(keyframe, frames))
        if cfg.AVA.TEST_FORCE_FLIP:
            clip, boxes = transforms.horizontal_flip(clip, boxes)
        return self._item(index, clip, boxes, torch.ones(len(boxes), dtype=torch.bool), [])
