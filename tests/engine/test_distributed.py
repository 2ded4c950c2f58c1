"""Two gloo processes (own spawner with file:// init, and torchrun) against one process."""
import os
import subprocess
import sys
import time

import pytest
import torch

from slowfast.engine import distributed as du
from tests.engine.toy import TRAIN_THEN_TEST, ToyTrainer, hang_on_rank_one, raise_on_rank_one, toy_cfg

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def single_process_params(tmp_path_factory):
    torch.set_num_threads(1)
    trainer = ToyTrainer(toy_cfg(tmp_path_factory.mktemp("single")))
    trainer.fit()
    return {k: v.detach().clone() for k, v in trainer.model.state_dict().items()}


def check_two_process_run(output_dir, reference):
    ranks = [torch.load(os.path.join(output_dir, f"params_rank{r}.pt"), weights_only=True) for r in (0, 1)]
    for key, value in reference.items():
        assert torch.equal(ranks[0][key], ranks[1][key]), f"{key} differs across ranks"
        # Not bit for bit: two half-batch gradients all-reduced and averaged round differently
        # from one whole-batch gradient; after 3 epochs the weights agree to 1e-6.
        assert torch.allclose(ranks[0][key], value, atol=1e-6), f"{key} differs from the 1-process run"
    assert open(os.path.join(output_dir, "writers.txt")).read() == "0\n0\n0\n"  # 3 epochs, rank 0 only
    for rank in (0, 1):  # nothing of the finished job holds the process group when it is destroyed
        assert open(os.path.join(output_dir, f"ddp_alive_rank{rank}.txt")).read() == "0"
    record = torch.load(os.path.join(output_dir, "test_record.pt"), weights_only=False)
    seen = sorted(video for rank_views in record["views"] for video in rank_views)
    assert seen == sorted(list(range(16)) * 2)  # 16 videos x 2 views, each on exactly one rank
    assert all(len(rank_views) == 16 for rank_views in record["views"])
    assert record["stats"]["num_videos"] == 16 and record["stats"]["num_excluded"] == 0
    json_lines = open(os.path.join(output_dir, "json_stats.log")).read().splitlines()
    assert len(json_lines) == 3 * (2 + 1 + 1) + 1  # rank 0 only: per epoch 2 iters + epoch + val; test


def test_spawned_gloo_pair_matches_single_process(tmp_path, single_process_params):
    cfg = toy_cfg(tmp_path, DIST_CPU_PROCESSES=2)
    du.launch_job(cfg, f"file://{tmp_path}/rendezvous", TRAIN_THEN_TEST)
    check_two_process_run(str(tmp_path), single_process_params)
    assert not (tmp_path / "rendezvous").exists()  # a later job at the same path starts clean


def test_torchrun_pair_matches_single_process(tmp_path, single_process_params):
    env = dict(os.environ, PYTHONPATH=REPO_ROOT, OMP_NUM_THREADS="1")
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
               os.path.join(REPO_ROOT, "tests", "engine", "toy_torchrun.py"), str(tmp_path)]
    result = subprocess.run(command, env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    check_two_process_run(str(tmp_path), single_process_params)


def test_a_failing_rank_ends_the_job(tmp_path):
    cfg = toy_cfg(tmp_path, DIST_CPU_PROCESSES=2, DIST_TIMEOUT_S=20)
    with pytest.raises(Exception, match="rank 1 failed on purpose"):
        du.launch_job(cfg, f"file://{tmp_path}/rendezvous", raise_on_rank_one)
    # Measured from the failure, not from the (load-dependent) start-up of the processes.
    assert time.time() - float((tmp_path / "raised_at").read_text()) < 20


def test_a_silent_rank_times_out(tmp_path):
    """DIST_TIMEOUT_S ends a job whose rank 1 stops answering (it sleeps 120 s): rank 0's next
    collective fails after the timeout. A 3 s timeout keeps the test in the default suite (short,
    yet above the two processes' start-up skew at the rendezvous, which uses the same timeout)."""
    cfg = toy_cfg(tmp_path, DIST_CPU_PROCESSES=2, DIST_TIMEOUT_S=3)
    with pytest.raises(Exception, match="Timed out"):
        du.launch_job(cfg, f"file://{tmp_path}/rendezvous", hang_on_rank_one)
    # The timeout struck after rank 1 went silent (not at start-up), and ended the job well before
    # the silent rank would have woken up; timed from the silence, not from the (load-dependent)
    # start-up of the processes.
    hung_at = float((tmp_path / "hung_at").read_text())
    assert time.time() - hung_at < 30


def test_single_process_world_needs_no_group(tmp_path):
    cfg = toy_cfg(tmp_path)
    assert du.expected_world_size(cfg) == 1 and du.resolve_backend(cfg) == "gloo"
    assert du.all_gather_objects({"a": 1}) == [{"a": 1}]
    tensor = torch.tensor([2.0])
    assert du.all_reduce_mean([tensor])[0].item() == 2.0
    assert du.per_process_batch_size(3) == 3


def test_sync_group_size_tiles_the_world_with_at_least_the_asked_devices():
    assert [du.sync_group_size(n, 8) for n in (1, 2, 3, 4, 5, 8, 16)] == [1, 2, 4, 4, 8, 8, 8]
    assert du.sync_group_size(2, 1) == 1 and du.sync_group_size(3, 6) == 3


def _sync_group_worker(rank, init_file, world_size, result_dir):
    dist = torch.distributed
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world_size)
    try:
        sums = {}
        for num_sync in (2, 3):  # 3 rounds up to the whole world of 4
            group = du.sync_bn_process_group(num_sync)
            value = torch.tensor([float(rank)])
            dist.all_reduce(value, group=group)
            sums[num_sync] = (group is None, value.item())
        torch.save(sums, os.path.join(result_dir, f"rank{rank}.pt"))
    finally:
        dist.destroy_process_group()


def test_sync_bn_groups_are_blocks_of_consecutive_ranks(tmp_path):
    """Four gloo processes: NUM_SYNC_DEVICES 2 reduces over ranks {0, 1} and {2, 3}; 3 over all."""
    torch.multiprocessing.spawn(_sync_group_worker, args=(str(tmp_path / "init"), 4, str(tmp_path)), nprocs=4)
    results = [torch.load(tmp_path / f"rank{rank}.pt") for rank in range(4)]
    assert [r[2] for r in results] == [(False, 1.0), (False, 1.0), (False, 5.0), (False, 5.0)]
    assert [r[3] for r in results] == [(True, 6.0)] * 4


def config_error_on_rank_one(cfg):
    """A user-fixable error in a spawned process (rank 1); rank 0 waits at the job's end."""
    from slowfast.utils.errors import ConfigError

    if du.get_rank() == 1:
        raise ConfigError("DEMO.X=1: wrong on rank 1", "set DEMO.X 0", ["a detail"])


def test_a_user_error_in_a_spawned_process_reaches_the_parent_as_itself(tmp_path):
    """The parent re-raises the child's ConfigError (hint and details intact), so run_tool prints
    one line instead of spawn's wrapped traceback text."""
    from slowfast.utils.errors import ConfigError

    cfg = toy_cfg(tmp_path, DIST_CPU_PROCESSES=2, DIST_TIMEOUT_S=20)
    with pytest.raises(ConfigError) as error:
        du.launch_job(cfg, f"file://{tmp_path}/rendezvous", config_error_on_rank_one)
    assert (error.value.message, error.value.hint, error.value.details) == ("DEMO.X=1: wrong on rank 1", "set DEMO.X 0", ["a detail"])
