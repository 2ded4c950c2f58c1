"""A tiny AVA-format dataset in memory (the detection contract's items) with its ground-truth CSV
and label map on disk, so the detection engine is tested without the data pipeline.

Importable as ``tests.engine.toy_ava`` so spawned processes can unpickle the functions below.
"""
import os

import torch
from torch.utils.data import DataLoader, Dataset

from slowfast.config import get_cfg
from slowfast.datasets.loader import ShardSampler, detection_collate
from slowfast.engine import ava_metrics
from slowfast.engine import distributed as du

NUM_CLASSES = 4
LABEL_MAP_IDS = (1, 2, 4)  # class 3 is trained but not evaluated, as AVA's 80 outputs vs 60 classes
SIZE = 32
FAST_FRAMES = 8
ALPHA = 4
VIDEOS = ("vid_a", "vid_b", "vid_c")
KEYFRAMES = 12


class ToyAVA(Dataset):
    """Keyframe i: video ``i // 4``, second ``902 + i % 4``, ``1 + i % 3`` boxes with random
    multi-hot labels; the clip is noise plus, per box, its first label's colour in the box (so a
    model can learn it)."""

    def __init__(self):
        self.video_names = list(VIDEOS)
        self.items = [self._make(i) for i in range(KEYFRAMES)]

    @staticmethod
    def _make(index):
        generator = torch.Generator().manual_seed(100 + index)
        num_boxes = 1 + index % 3
        corners = torch.rand(num_boxes, 2, 2, generator=generator) * 0.5
        ori = torch.cat([corners[:, 0], corners[:, 0] + 0.3 + corners[:, 1] * 0.4], dim=1).clamp(max=1.0)
        labels = (torch.rand(num_boxes, NUM_CLASSES, generator=generator) < 0.4).float()
        labels[torch.arange(num_boxes), torch.randint(0, NUM_CLASSES, (num_boxes,), generator=generator)] = 1.0
        fast = 0.1 * torch.randn(3, FAST_FRAMES, SIZE, SIZE, generator=generator)
        pixels = ori * (SIZE - 1)
        for box, row in zip(pixels.round().long(), labels):
            fast[int(row.argmax()) % 3, :, box[1]:box[3] + 1, box[0]:box[2] + 1] += 1.0
        meta = {"boxes": pixels, "ori_boxes": ori,
                "metadata": torch.tensor([[index // 4, 902 + index % 4]] * num_boxes, dtype=torch.long)}
        return [fast[:, ::ALPHA].clone(), fast], labels, index, meta

    def __len__(self):
        return len(self.items)

    def __getitem__(self, index):
        return self.items[index]


def write_annotations(directory):
    """Ground-truth CSV and label map of :class:`ToyAVA` in ``directory``; returns their paths."""
    os.makedirs(directory, exist_ok=True)
    gt = os.path.join(directory, "gt.csv")
    with open(gt, "w") as out:
        for _, labels, index, meta in ToyAVA().items:
            for k, (box, row) in enumerate(zip(meta["ori_boxes"], labels)):
                for action in (row.nonzero().flatten() + 1).tolist():
                    coords = ",".join(f"{v:.3f}" for v in box.tolist())
                    out.write(f"{VIDEOS[index // 4]},{902 + index % 4:04d},{coords},{action},{k}\n")
    label_map = os.path.join(directory, "labels.pbtxt")
    with open(label_map, "w") as out:
        for action in LABEL_MAP_IDS:
            out.write(f'item {{\n  name: "action {action}"\n  id: {action}\n}}\n')
    return {"label_map": label_map, "groundtruth": gt, "exclusions": ""}


def use_annotations(directory):
    """Point ``evaluate_ava`` at the toy annotation files (instead of ``cfg.AVA``)."""
    files = write_annotations(directory) if du.is_master_proc() else None
    files = du.all_gather_objects(files)[0]
    ava_metrics.ava_files = lambda cfg: files


def toy_loader(batch_size=2):
    """This process's share of :class:`ToyAVA` in order (``ShardSampler``), detection_collate."""
    dataset = ToyAVA()
    sampler = ShardSampler(dataset, du.get_world_size(), du.get_rank())
    return DataLoader(dataset, batch_size=batch_size, sampler=sampler, collate_fn=detection_collate)


def toy_ava_cfg(output_dir, **overrides):
    """A tiny SF-ShuffleNetV2 detection config on :class:`ToyAVA` clips."""
    cfg = get_cfg()
    cfg.NUM_GPUS = 0
    cfg.OUTPUT_DIR = str(output_dir)
    cfg.MODEL.MODEL_NAME = "SlowFastShuffleNetV2"
    cfg.SLOWFAST.WIDTH_MULTI = 0.25
    cfg.MODEL.NUM_CLASSES = NUM_CLASSES
    cfg.MODEL.LOSS_FUNC = "bce"
    cfg.MODEL.HEAD_ACT = "sigmoid"
    cfg.MODEL.DROPOUT_RATE = 0.0
    cfg.DETECTION.ENABLE = True
    cfg.DATA.NUM_FRAMES = FAST_FRAMES
    cfg.DATA.TRAIN_CROP_SIZE = cfg.DATA.TEST_CROP_SIZE = SIZE
    cfg.SLOWFAST.ALPHA = ALPHA
    cfg.TRAIN.BATCH_SIZE = cfg.TEST.BATCH_SIZE = 2
    cfg.TEST.OPTIMIZE = False
    cfg.LOG_MODEL_INFO = False
    cfg.DIST_TIMEOUT_S = 30
    for key, value in overrides.items():
        node = cfg
        *parents, leaf = key.split(".")
        for parent in parents:
            node = node[parent]
        node[leaf] = value
    return cfg


def evaluate_saved_model(cfg):
    """Body of a launched process: the toy detection model's AVA evaluation on this rank's share;
    rank 0 saves the returned record."""
    from slowfast.engine.multilabel import evaluate_boxes
    from slowfast.models.build import build_model

    torch.set_num_threads(1)
    use_annotations(os.path.join(cfg.OUTPUT_DIR, "annotations"))
    model = build_model(cfg)
    model.load_state_dict(torch.load(os.path.join(cfg.OUTPUT_DIR, "model.pt"), weights_only=True))
    stats = evaluate_boxes(model, toy_loader(batch_size=1), cfg, torch.device("cpu"), "test")
    if du.is_master_proc():
        torch.save(stats, os.path.join(cfg.OUTPUT_DIR, "stats.pt"))
