"""One code path for 1..N processes: process-group set-up, launching and collectives.

Two ways to get several processes, both ending in :func:`init_process_group`:

* ``torchrun`` sets ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK`` (and ``MASTER_ADDR/PORT``);
  :func:`launch_job` sees them and runs ``func`` in the current process with ``env://``.
* Otherwise :func:`launch_job` spawns ``processes_per_machine(cfg)`` processes on this machine
  with ``torch.multiprocessing.spawn``: ``NUM_GPUS`` of them with CUDA, ``DIST_CPU_PROCESSES``
  on the CPU (``NUM_GPUS 0``). Rank = ``SHARD_ID * processes_per_machine + local_rank``; the
  group meets at ``--init_method`` (``tcp://host:port`` or ``file:///path``).

With a world of one process no group is created and every collective below is the identity,
so callers never branch on the number of processes. ``DIST_TIMEOUT_S`` bounds every collective:
a rank that dies makes the others fail instead of hanging.
"""
import datetime
import os
from typing import Any, Callable, List, Optional, Sequence, Union

import torch
import torch.distributed as dist

from slowfast.utils.env import cpu_threads
from slowfast.utils.errors import SlowFastError
from slowfast.utils.errors import ConfigError

_TORCHRUN_VARS = ("RANK", "WORLD_SIZE", "LOCAL_RANK")


# ---------------------------------------------------------------------------- #
# Topology
# ---------------------------------------------------------------------------- #
def processes_per_machine(cfg) -> int:
    """Processes on one machine: one per GPU with CUDA, ``DIST_CPU_PROCESSES`` on the CPU."""
    return cfg.NUM_GPUS if cfg.NUM_GPUS > 0 else cfg.DIST_CPU_PROCESSES


def launched_by_torchrun() -> bool:
    """True when this process was started by ``torchrun`` (its environment names the rank)."""
    return all(name in os.environ for name in _TORCHRUN_VARS)


def expected_world_size(cfg) -> int:
    """The number of processes the job will have: torchrun's ``WORLD_SIZE`` when launched by it,
    else ``processes_per_machine(cfg) * NUM_SHARDS``."""
    if launched_by_torchrun():
        return int(os.environ["WORLD_SIZE"])
    return processes_per_machine(cfg) * cfg.NUM_SHARDS


def is_initialized() -> bool:
    return dist.is_available() and dist.is_initialized()


def get_world_size() -> int:
    return dist.get_world_size() if is_initialized() else 1


def get_rank() -> int:
    return dist.get_rank() if is_initialized() else 0


def is_master_proc() -> bool:
    """Rank 0 writes checkpoints, logs and results."""
    return get_rank() == 0


def resolve_backend(cfg) -> str:
    """``DIST_BACKEND`` with ``auto`` resolved: nccl when computing on CUDA, gloo on the CPU."""
    if cfg.DIST_BACKEND != "auto":
        return cfg.DIST_BACKEND
    return "nccl" if cfg.NUM_GPUS > 0 else "gloo"


def per_process_batch_size(global_batch_size: int, key: str = "TRAIN.BATCH_SIZE") -> int:
    """Split a global batch over the processes; the split must be exact."""
    world_size = get_world_size()
    if global_batch_size % world_size:
        raise ConfigError(
            f"{key}={global_batch_size} is the global batch and must be divisible by the "
            f"{world_size} processes of the job"
        )
    return global_batch_size // world_size


# ---------------------------------------------------------------------------- #
# Set-up and launching
# ---------------------------------------------------------------------------- #
def init_process_group(cfg, rank: int, world_size: int, init_method: str, local_rank: int = 0) -> None:
    """Join the process group (no-op for a world of one) and select this process's GPU."""
    if cfg.NUM_GPUS > 0:
        torch.cuda.set_device(local_rank)
    if world_size <= 1 or is_initialized():
        return
    dist.init_process_group(
        backend=resolve_backend(cfg),
        init_method=init_method,
        world_size=world_size,
        rank=rank,
        timeout=datetime.timedelta(seconds=cfg.DIST_TIMEOUT_S),
    )


def destroy_process_group() -> None:
    if is_initialized():
        dist.destroy_process_group()


JobFuncs = Union[Callable, Sequence[Callable]]


def _run_jobs(funcs: JobFuncs, cfg) -> None:
    """Run ``funcs(cfg)`` (one callable or several, in order, all ranks in step)."""
    for index, func in enumerate([funcs] if callable(funcs) else list(funcs)):
        if index:
            barrier()  # e.g. the test starts once rank 0 has written the last checkpoint
        func(cfg)
    # Leave together: a rank that tears gloo down while its peer still has traffic in flight
    # aborts that peer ("terminate called without an active exception"). Not on failure paths,
    # where the peer may be gone and the timeout ends the job instead.
    barrier()


def _run_in_process_group(local_rank: int, cfg, init_method: str, funcs: JobFuncs, world_size: int,
                          user_errors=None) -> None:
    """Body of every launched process: join the group, run the job(s), leave the group.

    ``user_errors`` (a queue, spawned processes only) receives a user-fixable error
    (``SlowFastError``) before it ends the process, so the parent can re-raise it as such:
    ``torch.multiprocessing.spawn`` hands the parent only the child's traceback text.
    """
    try:
        _join_and_run(local_rank, cfg, init_method, funcs, world_size)
    except SlowFastError as error:
        if user_errors is not None:
            user_errors.put(error)
        raise


def _join_and_run(local_rank: int, cfg, init_method: str, funcs: JobFuncs, world_size: int) -> None:
    rank = cfg.SHARD_ID * processes_per_machine(cfg) + local_rank
    if cfg.NUM_GPUS == 0:
        # CPU processes and their loader workers share the cores; oversubscribed pools are many times slower.
        torch.set_num_threads(cpu_threads(cfg, processes_per_machine(cfg)))
    init_process_group(cfg, rank, world_size, init_method, local_rank)
    try:
        _run_jobs(funcs, cfg)
    finally:
        destroy_process_group()


def launch_job(cfg, init_method: str, func: JobFuncs, daemon: bool = False) -> None:
    """Run ``func(cfg)`` in every process of the job (see the module docstring).

    ``func`` may also be a sequence of functions (e.g. ``[train, test]``), run in order inside
    one process group. Functions must be picklable (module-level) when processes are spawned.
    An exception in any spawned process ends the others and is re-raised here.
    """
    if launched_by_torchrun():
        world_size = int(os.environ["WORLD_SIZE"])
        local_rank = int(os.environ["LOCAL_RANK"])
        if cfg.NUM_GPUS == 0:
            torch.set_num_threads(cpu_threads(cfg, int(os.environ.get("LOCAL_WORLD_SIZE", world_size))))
        init_process_group(cfg, int(os.environ["RANK"]), world_size, "env://", local_rank)
        try:
            _run_jobs(func, cfg)
        finally:
            destroy_process_group()
        return

    world_size = expected_world_size(cfg)
    if world_size == 1:
        _run_in_process_group(0, cfg, init_method, func, world_size)
        return
    user_errors = torch.multiprocessing.get_context("spawn").SimpleQueue()
    try:
        torch.multiprocessing.spawn(
            _run_in_process_group,
            nprocs=processes_per_machine(cfg),
            args=(cfg, init_method, func, world_size, user_errors),
            daemon=daemon,
        )
    except torch.multiprocessing.ProcessRaisedException:
        if not user_errors.empty():
            raise user_errors.get() from None  # the first process's user error, as the user's one line
        raise
    finally:
        _remove_rendezvous_file(cfg, init_method)


def _remove_rendezvous_file(cfg, init_method: str) -> None:
    """A ``file://`` rendezvous file keeps the finished group's addresses, so a later group at the
    same path would connect to dead ports. With a single machine the job is over: remove it."""
    if init_method.startswith("file://") and cfg.NUM_SHARDS == 1:
        path = init_method[len("file://"):]
        if os.path.exists(path):
            os.remove(path)


# ---------------------------------------------------------------------------- #
# Model wrapping
# ---------------------------------------------------------------------------- #
def wrap_model(model: torch.nn.Module, cfg) -> torch.nn.Module:
    """DistributedDataParallel when the world has several processes, else ``model`` itself.

    ``BN.NORM_TYPE sync_batchnorm`` converts BatchNorm layers to SyncBatchNorm, which only works
    on CUDA (``assert_and_infer_cfg`` rejects it on the CPU).
    """
    if get_world_size() == 1:
        return model
    if cfg.BN.NORM_TYPE == "sync_batchnorm" and cfg.NUM_GPUS > 0:
        model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
    device_ids = [torch.cuda.current_device()] if cfg.NUM_GPUS > 0 else None
    return torch.nn.parallel.DistributedDataParallel(model, device_ids=device_ids)


def unwrap_model(model: torch.nn.Module) -> torch.nn.Module:
    """The module inside a (Distributed)DataParallel wrapper, or ``model`` itself."""
    return model.module if hasattr(model, "module") else model


def sync_group_size(num_sync_devices: int, world_size: int) -> int:
    """Processes per synchronised-BN group: the smallest divisor of ``world_size`` that is at
    least ``num_sync_devices`` (the groups must tile the world; never fewer devices than asked)."""
    if num_sync_devices >= world_size:
        return world_size
    return next(size for size in range(max(1, num_sync_devices), world_size + 1) if world_size % size == 0)


def sync_bn_process_group(num_sync_devices: int):
    """This rank's group for ``nn.SyncBatchNorm`` (``BN.NUM_SYNC_DEVICES``): blocks of
    :func:`sync_group_size` consecutive ranks, i.e. devices of one machine first; None (every
    process) when the block is the whole world. ``new_group`` is collective, so every rank creates
    every group, in the same order: call it on all ranks, as building the model does."""
    world_size = get_world_size()
    size = sync_group_size(num_sync_devices, world_size)
    if size >= world_size:
        return None
    rank, own_group = get_rank(), None
    for start in range(0, world_size, size):
        group = dist.new_group(list(range(start, start + size)))
        if start <= rank < start + size:
            own_group = group
    return own_group


# ---------------------------------------------------------------------------- #
# Collectives (identity for a world of one)
# ---------------------------------------------------------------------------- #
def all_reduce_sum(tensors: List[torch.Tensor]) -> List[torch.Tensor]:
    """Sum each tensor over the processes, in place; returns the list."""
    if get_world_size() > 1:
        for tensor in tensors:
            dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensors


def all_reduce_mean(tensors: List[torch.Tensor]) -> List[torch.Tensor]:
    """Average each tensor over the processes, in place; returns the list."""
    world_size = get_world_size()
    if world_size > 1:
        for tensor in all_reduce_sum(tensors):
            tensor.div_(world_size)
    return tensors


def all_gather_objects(obj: Any) -> List[Any]:
    """``[obj of rank 0, obj of rank 1, ...]`` (any picklable object; sizes may differ)."""
    if get_world_size() == 1:
        return [obj]
    gathered: List[Optional[Any]] = [None] * get_world_size()
    dist.all_gather_object(gathered, obj)
    return gathered


def barrier() -> None:
    if get_world_size() > 1:
        dist.barrier()
