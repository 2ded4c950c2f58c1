"""A tiny two-pathway model, in-memory datasets and loaders with the framework's contracts, so the
engine's tests do not depend on the real models and data pipeline.

Importable as ``tests.engine.toy`` so spawned processes can unpickle the functions below.
"""
import gc
import os
from types import SimpleNamespace
from unittest import mock

import torch
from torch.utils.data import DataLoader, Dataset
from torch.utils.data.distributed import DistributedSampler

from slowfast.config import get_cfg
from slowfast.engine import distributed as du
from slowfast.engine.trainer import Trainer
from slowfast.models.build import MODEL_REGISTRY

NUM_CLASSES = 3
FRAMES = 4  # fast pathway; slow = FRAMES // ALPHA
SIZE = 8


class ToyTwoPathway(torch.nn.Module):
    """``[slow (N,3,T/2,H,W), fast (N,3,T,H,W)]`` -> per-pathway 1x1x1 conv -> global pool ->
    concat -> linear -> logits ``(N, K)``. ``use_bn`` adds a BatchNorm3d on the fast pathway."""

    def __init__(self, cfg, use_bn: bool = False):
        super().__init__()
        self.slow = torch.nn.Conv3d(3, 4, kernel_size=1)
        self.fast = torch.nn.Conv3d(3, 2, kernel_size=1)
        self.fast_norm = torch.nn.BatchNorm3d(2) if use_bn else torch.nn.Identity()
        self.head = torch.nn.Linear(6, cfg.MODEL.NUM_CLASSES)

    def forward(self, inputs):
        slow = torch.relu(self.slow(inputs[0])).mean(dim=(2, 3, 4))
        fast = torch.relu(self.fast_norm(self.fast(inputs[1]))).mean(dim=(2, 3, 4))
        return self.head(torch.cat([slow, fast], dim=1))


class ToyTwoPathwayBN(ToyTwoPathway):
    def __init__(self, cfg):
        super().__init__(cfg, use_bn=True)


for _model in (ToyTwoPathway, ToyTwoPathwayBN):
    if _model.__name__ not in MODEL_REGISTRY:
        MODEL_REGISTRY.register(_model)


class ToyClips(Dataset):
    """Deterministic clips whose mean colour encodes the class; ``(inputs, label, video_index, meta)``.

    test split: ``num_videos x views`` items, item i is view ``i % views`` of video ``i // views``.
    ``noise`` > 0 adds Gaussian noise from torch's global generator (an "augmentation").
    ``fail_items`` makes those item indices fail to decode (reported in ``meta["failed"]``).
    """

    def __init__(self, cfg, split, num_videos=16, noise=0.0, fail_items=()):
        self.split = split
        self.num_videos = num_videos
        self.views = cfg.TEST.NUM_ENSEMBLE_VIEWS * cfg.TEST.NUM_SPATIAL_CROPS if split == "test" else 1
        self.noise = noise
        self.fail_items = set(fail_items)
        self.alpha = cfg.SLOWFAST.ALPHA
        generator = torch.Generator().manual_seed(1234)
        self.base = torch.rand(num_videos, 3, FRAMES, SIZE, SIZE, generator=generator)
        self.labels = torch.arange(num_videos) % NUM_CLASSES
        self.base[:, 0] += self.labels.view(-1, 1, 1, 1).float()  # learnable signal
        self.records = [SimpleNamespace(path=f"toy/video_{v:03d}.mp4") for v in range(num_videos)]

    def __len__(self):
        return self.num_videos * self.views

    def path(self, index):
        return self.records[index // self.views].path

    def __getitem__(self, index):
        video = index // self.views
        fast = self.base[video] + 0.01 * (index % self.views)
        if self.noise:
            fast = fast + self.noise * torch.randn(fast.shape)
        slow = fast[:, :: self.alpha]
        meta = {"view_index": index % self.views, "failed": index in self.fail_items, "path": self.path(index)}
        return [slow, fast], int(self.labels[video]), video, meta


def collate(items):
    """The loader contract: drop failed items, list their paths in ``meta["failed"]``."""
    kept = [item for item in items if not item[3]["failed"]]
    failed = [item[3]["path"] for item in items if item[3]["failed"]]
    if kept:
        inputs = [torch.stack([item[0][p] for item in kept]) for p in range(2)]
    else:
        inputs = [torch.zeros(0, 3, FRAMES // 2, SIZE, SIZE), torch.zeros(0, 3, FRAMES, SIZE, SIZE)]
    labels = torch.tensor([item[1] for item in kept], dtype=torch.long)
    video_index = torch.tensor([item[2] for item in kept], dtype=torch.long)
    view_index = torch.tensor([item[3]["view_index"] for item in kept], dtype=torch.long)
    return inputs, labels, video_index, {"view_index": view_index, "failed": failed}


class _Shard(torch.utils.data.Sampler):
    """Items ``rank, rank + world, ...``: every item on exactly one rank, no padding."""

    def __init__(self, length, rank, world):
        self.indices = list(range(rank, length, world))

    def __iter__(self):
        return iter(self.indices)

    def __len__(self):
        return len(self.indices)


def construct_toy_loader(cfg, split, noise=0.0, fail_items=()):
    world, rank = du.get_world_size(), du.get_rank()
    dataset = ToyClips(cfg, split, noise=noise if split == "train" else 0.0, fail_items=fail_items)
    if split == "train":
        sampler = DistributedSampler(dataset, num_replicas=world, rank=rank, shuffle=True, seed=cfg.RNG_SEED)
        batch_size = cfg.TRAIN.BATCH_SIZE // world
    else:
        sampler = _Shard(len(dataset), rank, world)
        batch_size = max(cfg.TEST.BATCH_SIZE // world, 1)
    return DataLoader(dataset, batch_size=batch_size, sampler=sampler, drop_last=split == "train",
                      num_workers=0, collate_fn=collate)


class ToyTrainer(Trainer):
    """The real Trainer on the toy loaders. ``noise``: train augmentation; ``hooks``: callables
    ``hook(trainer, epoch)`` run at the start of each epoch (to simulate a crash or a NaN)."""

    noise = 0.0
    fail_items = ()
    hooks = ()

    def construct_loader(self, split, cfg=None):
        return construct_toy_loader(self.cfg if cfg is None else cfg, split, self.noise, self.fail_items)

    def shuffle_loader(self, loader, epoch):
        loader.sampler.set_epoch(epoch)

    def on_epoch_start(self, epoch):
        super().on_epoch_start(epoch)
        for hook in self.hooks:
            hook(self, epoch)


def toy_cfg(output_dir, **overrides):
    """A small CPU config for the toy model (global batch 4, 3 epochs, cosine LR)."""
    cfg = get_cfg()
    cfg.NUM_GPUS = 0
    cfg.OUTPUT_DIR = str(output_dir)
    cfg.MODEL.MODEL_NAME = "ToyTwoPathway"
    cfg.MODEL.NUM_CLASSES = NUM_CLASSES
    cfg.MODEL.DROPOUT_RATE = 0.0
    cfg.DATA.NUM_FRAMES = FRAMES
    cfg.SLOWFAST.ALPHA = 2
    cfg.TRAIN.DATASET = cfg.TEST.DATASET = "synthetic"
    cfg.TRAIN.BATCH_SIZE = 4
    cfg.TEST.BATCH_SIZE = 4
    cfg.TEST.NUM_ENSEMBLE_VIEWS = 2
    cfg.TEST.NUM_SPATIAL_CROPS = 1
    cfg.SOLVER.BASE_LR = 0.1
    cfg.SOLVER.MAX_EPOCH = 3
    cfg.TRAIN.EVAL_PERIOD = 1
    cfg.TRAIN.CHECKPOINT_PERIOD = 1
    cfg.LOG_PERIOD = 2
    cfg.LOG_MODEL_INFO = False
    cfg.DIST_TIMEOUT_S = 20
    for key, value in overrides.items():
        node = cfg
        *parents, leaf = key.split(".")
        for parent in parents:
            node = node[parent]
        node[leaf] = value
    return cfg


def save_params(trainer, name):
    """Write this rank's final parameters to ``OUTPUT_DIR/{name}_rank{r}.pt``."""
    model = du.unwrap_model(trainer.model)
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    torch.save(state, os.path.join(trainer.cfg.OUTPUT_DIR, f"{name}_rank{du.get_rank()}.pt"))


def train_and_save_params(cfg):
    """Body of a launched process: train the toy model, save the parameters of this rank."""
    trainer = ToyTrainer(cfg)
    trainer.fit()
    save_params(trainer, "params")


def raise_on_rank_one(cfg):
    """Body of a launched process whose rank 1 fails in its first epoch."""

    import time

    def crash(trainer, epoch):
        if du.get_rank() == 1:
            with open(os.path.join(cfg.OUTPUT_DIR, "raised_at"), "w") as stamp:
                stamp.write(repr(time.time()))
            raise RuntimeError("rank 1 failed on purpose")

    trainer = ToyTrainer(cfg)
    trainer.hooks = (crash,)
    trainer.fit()


def test_and_record_views(cfg):
    """Body of a launched process: multi-view test; rank 0 saves the record and rank views."""
    from slowfast.engine import evaluator

    model = ToyTwoPathway(cfg)
    loader = construct_toy_loader(cfg, "test")
    local = [int(i) for batch in loader for i in batch[2]]
    stats = evaluator.test(cfg, model=model, loader=loader)
    views = du.all_gather_objects(local)
    if du.is_master_proc():
        torch.save({"stats": stats, "views": views}, os.path.join(cfg.OUTPUT_DIR, "test_record.pt"))


def record_checkpoint_writers(output_dir):
    """A context in which every checkpoint write of this process appends its rank to
    ``output_dir/writers.txt``.

    The recorder holds only the directory, and the real saver comes back on exit. A patched
    module global that captured the trainer would keep its DDP wrapper, and with it the gloo
    process group, alive past ``destroy_process_group`` until interpreter shutdown. There,
    tearing gloo down can abort the process ("terminate called without an active exception").
    """
    from slowfast.engine import checkpoint as cu

    save = cu.atomic_torch_save

    def recording_save(obj, path):
        with open(os.path.join(output_dir, "writers.txt"), "a") as writers:
            writers.write(f"{du.get_rank()}\n")
        save(obj, path)

    return mock.patch.object(cu, "atomic_torch_save", recording_save)


def train_record_and_save(cfg):
    """Body of a launched process: train (recording checkpoint writers), save this rank's parameters."""
    trainer = ToyTrainer(cfg)
    with record_checkpoint_writers(cfg.OUTPUT_DIR):
        trainer.fit()
    save_params(trainer, "params")


def record_surviving_ddp_wrappers(cfg):
    """Body of a launched process, last in a job: write how many DDP wrappers are still alive
    (they hold the process group, which must be released before it is destroyed) to
    ``OUTPUT_DIR/ddp_alive_rank{r}.txt``."""
    alive = sum(isinstance(obj, torch.nn.parallel.DistributedDataParallel) for obj in gc.get_objects())
    with open(os.path.join(cfg.OUTPUT_DIR, f"ddp_alive_rank{du.get_rank()}.txt"), "w") as record:
        record.write(str(alive))


# Launched as one job: train, then the multi-view test recording which views each rank saw, then
# a count of the DDP wrappers that outlive the job.
TRAIN_THEN_TEST = (train_record_and_save, test_and_record_views, record_surviving_ddp_wrappers)


def hang_on_rank_one(cfg):
    """Body of a launched process whose rank 1 stops answering (never joins the next collective);
    it stamps ``OUTPUT_DIR/hung_at`` when it stops, so a test can time the job's end from there."""
    import time

    def hang(trainer, epoch):
        if du.get_rank() == 1:
            with open(os.path.join(cfg.OUTPUT_DIR, "hung_at"), "w") as stamp:
                stamp.write(repr(time.time()))
            time.sleep(120)

    trainer = ToyTrainer(cfg)
    trainer.hooks = (hang,)
    trainer.fit()
