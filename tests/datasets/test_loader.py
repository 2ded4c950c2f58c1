"""construct_loader / shuffle_dataset / collate: the batch contract and reproducibility."""
import multiprocessing as mp

import pytest
import torch
import torch.distributed as dist
from torch.utils.data import RandomSampler, SequentialSampler

from slowfast.datasets.loader import (
    ShardSampler,
    collate,
    construct_loader,
    epoch_seed,
    per_process_batch_size,
    shuffle_dataset,
)
from tests.datasets.dataset_helpers import REAL_CLIPS, tiny_cfg, write_split_files

CLIPS = ["part_0.mp4 1", "test.avi 2", "demo.mp4 6"]


@pytest.fixture
def cfg(tmp_path):
    write_split_files(tmp_path, CLIPS * 2)  # 6 items
    return tiny_cfg(tmp_path, prefix=REAL_CLIPS)


def epoch_batches(cfg, epoch, num_workers):
    cfg.DATA_LOADER.NUM_WORKERS = num_workers
    loader = construct_loader(cfg, "train")
    shuffle_dataset(loader, epoch)
    return list(loader)


def assert_same_batches(a, b):
    assert len(a) == len(b)
    for (inputs_a, labels_a, index_a, _), (inputs_b, labels_b, index_b, _) in zip(a, b):
        assert torch.equal(index_a, index_b) and torch.equal(labels_a, labels_b)
        assert all(torch.equal(x, y) for x, y in zip(inputs_a, inputs_b))


def test_train_batches_follow_the_contract(cfg):
    batches = epoch_batches(cfg, 0, 0)
    assert len(batches) == 3  # 6 items, batch 2
    inputs, labels, video_index, meta = batches[0]
    assert [tuple(x.shape) for x in inputs] == [(2, 3, 2, 32, 32), (2, 3, 8, 32, 32)]
    assert labels.dtype == video_index.dtype == meta["view_index"].dtype == torch.long
    assert labels.tolist() == [[1, 2, 6][i % 3] for i in video_index.tolist()]
    assert meta["failed"] == []
    assert sorted(i for _, _, index, _ in batches for i in index.tolist()) == list(range(6))


def test_zero_and_two_workers_give_identical_batches(cfg):
    assert_same_batches(epoch_batches(cfg, 3, 0), epoch_batches(cfg, 3, 2))


def test_epoch_order_and_augmentation_depend_only_on_seed_and_epoch(cfg):
    first = epoch_batches(cfg, 1, 0)
    assert_same_batches(first, epoch_batches(cfg, 1, 0))  # a fresh loader (a resumed run)
    other = epoch_batches(cfg, 2, 0)
    assert [b[2].tolist() for b in first] != [b[2].tolist() for b in other]
    cfg.RNG_SEED = 8
    assert [b[2].tolist() for b in first] != [b[2].tolist() for b in epoch_batches(cfg, 1, 0)]


def test_loader_settings(cfg):
    cfg.TRAIN.BATCH_SIZE, cfg.DATA_LOADER.PIN_MEMORY = 4, True
    train = construct_loader(cfg, "train")
    assert isinstance(train.sampler, RandomSampler) and train.drop_last and train.batch_size == 4
    assert not train.pin_memory  # pinning only when CUDA is used (NUM_GPUS 0 here)
    assert len(train) == 1  # 6 items, batch 4, last incomplete batch dropped
    test = construct_loader(cfg, "test")
    assert isinstance(test.sampler, SequentialSampler) and not test.drop_last and test.batch_size == 3
    assert len(test.dataset) == 6 * 2 * 3
    val = construct_loader(cfg, "val")
    assert len(list(val)) == 2 and val.num_workers == 0


def test_per_process_batch_size():
    assert per_process_batch_size(64, 4, "TRAIN.BATCH_SIZE") == 16
    with pytest.raises(ValueError, match=r"TRAIN.BATCH_SIZE=6 .* processes \(4\)"):
        per_process_batch_size(6, 4, "TRAIN.BATCH_SIZE")


def test_shard_sampler_covers_every_item_once():
    items = list(range(11))
    shards = [list(ShardSampler(items, 3, rank)) for rank in range(3)]
    assert sorted(i for shard in shards for i in shard) == items
    assert [len(ShardSampler(items, 3, rank)) for rank in range(3)] == [4, 4, 3]


def test_epoch_seed_is_a_pure_function():
    assert epoch_seed(1, 0) == epoch_seed(1, 0)
    assert len({epoch_seed(1, e) for e in range(50)} | {epoch_seed(2, 0)}) == 51


def test_collate_drops_flagged_items_and_concatenates_failures():
    def item(label, dropped=False, failed=()):
        meta = {"view_index": label, "failed": list(failed)}
        if dropped:
            meta["dropped"] = True
        return [torch.full((3, 2, 4, 4), float(label))], label, 10 + label, meta

    inputs, labels, video_index, meta = collate([item(1, failed=["a"]), item(2, True, ["b"]), item(3)])
    assert inputs[0].shape == (2, 3, 2, 4, 4) and inputs[0][:, 0, 0, 0, 0].tolist() == [1, 3]
    assert labels.tolist() == [1, 3] and video_index.tolist() == [11, 13]
    assert meta == {"view_index": meta["view_index"], "failed": ["a", "b"]}
    assert meta["view_index"].tolist() == [1, 3]


def test_short_cycle_batches_rotate_crops(cfg):
    cfg.MULTIGRID.SHORT_CYCLE, cfg.TRAIN.BATCH_SIZE = True, 1
    loader = construct_loader(cfg, "train")
    shuffle_dataset(loader, 0)
    shapes = [(x[1].shape[0], x[1].shape[-1]) for x, *_ in loader]
    assert shapes == [(4, 16), (2, 23)]  # crops 0.5 and sqrt(0.5) of 32; the (1, 32) batch has no items left


def _distributed_indices(rank, world_size, init_file, cfg, results):
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world_size)
    try:
        train = construct_loader(cfg, "train")
        shuffle_dataset(train, 1)
        test = construct_loader(cfg, "test")
        results[rank] = (type(train.sampler).__name__, train.batch_size, list(train.sampler),
                         type(test.sampler).__name__, test.batch_size, list(test.sampler))
    finally:
        dist.destroy_process_group()


def test_two_processes_split_the_data(cfg, tmp_path):
    cfg.TRAIN.BATCH_SIZE, cfg.TEST.BATCH_SIZE = 4, 2
    context = mp.get_context("fork")
    results = context.Manager().dict()
    processes = [context.Process(target=_distributed_indices, args=(r, 2, tmp_path / "init", cfg, results)) for r in range(2)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(60)
    assert [p.exitcode for p in processes] == [0, 0]
    (train0, batch0, indices0, test0, test_batch0, shard0), (_, _, indices1, _, _, shard1) = results[0], results[1]
    assert (train0, batch0, test0, test_batch0) == ("DistributedSampler", 2, "ShardSampler", 1)
    assert sorted(indices0 + indices1) == list(range(6))  # each training item on one rank
    assert sorted(shard0 + shard1) == list(range(6 * 2 * 3))  # each test view exactly once
