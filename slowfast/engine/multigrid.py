"""Multigrid training schedule (Wu et al. 2020, "A Multigrid Method for Efficiently Training
Video Models").

The long cycle trains each LR step on a sequence of mini-batch shapes ``(B, T, S)`` that keep
``B * T * S^2`` constant: small clips in big batches first, the full shape last. A fine-tune
phase at the full shape replaces the last LR step, and every phase is rescaled so the whole run
lasts ``SOLVER.MAX_EPOCH * MULTIGRID.EPOCH_FACTOR`` epochs. The LR of a phase is its LR step's
LR times its batch factor (linear scaling rule), warm-up included. Phase epochs and shapes equal
the published algorithm's (facebookresearch/SlowFast); two deliberate differences in the LR: the
fine-tune phase runs entirely at the last step's LR (upstream spends its first half at the
previous step's LR), and the warm-up ramp is scaled by the phase's batch factor like the rest.

Everything here is a pure function of the config, so a run resumed at any epoch finds the same
phase, shape and LR as the uninterrupted run:

    init_multigrid(cfg)              record the default shape, move MAX_EPOCH and STEPS (once)
    long_cycle_schedule(cfg)         the list of Phase
    build_schedule(cfg)              both of the above: the trainer's ``schedule`` (or None)
    MultigridSchedule                per-epoch lookups behind the trainer hooks:
        .update_shape(cfg, epoch)  .lr_factor(epoch)  .is_eval_epoch(epoch)
        .is_checkpoint_epoch(epoch)  .phase_at(epoch)  .validation_cfg(cfg)
    format_schedule_table(cfg)       the table printed at start and by ``--print-schedule``

The short-cycle batch sampler lives with the loader (``slowfast/datasets/multigrid.py``) and
sub-batch BN with the models (``slowfast/models/sub_batchnorm.py``).
"""
import math
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

from slowfast.datasets.multigrid import short_cycle_shapes
from slowfast.utils.errors import ConfigError
from slowfast.utils.logging import get_logger

logger = get_logger(__name__)

STEPWISE_POLICY = "steps_with_relative_lrs"


@dataclass(frozen=True)
class Phase:
    """One long-cycle phase: a (batch factor, frames, crop) shape trained for a range of epochs.

    Epochs are 0-based and ``[start_epoch, end_epoch)``; ``batch_factor`` multiplies the default
    (global) batch size; ``lr`` is the phase's LR before warm-up.
    """

    index: int
    lr_step: int
    batch_factor: int
    num_frames: int
    crop_size: int
    start_epoch: int
    end_epoch: int
    lr: float
    finetune: bool = False

    @property
    def num_epochs(self) -> int:
        return self.end_epoch - self.start_epoch


# --------------------------------------------------------------------------- #
# Shapes
# --------------------------------------------------------------------------- #
def default_shape(cfg) -> Tuple[int, int, int]:
    """The (global batch, frames, crop) of the run without multigrid: ``MULTIGRID.DEFAULT_*``
    when recorded, else the current ``TRAIN.BATCH_SIZE``, ``DATA.NUM_FRAMES``, ``DATA.TRAIN_CROP_SIZE``."""
    mg = cfg.MULTIGRID
    return (
        mg.DEFAULT_B or cfg.TRAIN.BATCH_SIZE,
        mg.DEFAULT_T or cfg.DATA.NUM_FRAMES,
        mg.DEFAULT_S or cfg.DATA.TRAIN_CROP_SIZE,
    )


def batch_factor(default_t: int, default_s: float, t: int, s: float) -> int:
    """Batch multiplier that keeps ``B * T * S^2`` equal to the default shape's (at least 1)."""
    return max(1, int(round(default_t * default_s ** 2 / (t * s ** 2))))


def long_cycle_shapes(cfg) -> List[List[Tuple[int, int, float]]]:
    """Per entry of ``MULTIGRID.LONG_CYCLE_FACTORS``, its ``(batch factor, T, S)`` shapes.

    The last shape of each list is the long-cycle shape itself; with the short cycle on, the two
    short-cycle shapes (crops relative to the default crop, same T) come first. The short-cycle
    crops stay unrounded here, as in the published algorithm, so the epoch split is identical.
    """
    _, default_t, default_s = default_shape(cfg)
    all_shapes = []
    for t_factor, s_factor in cfg.MULTIGRID.LONG_CYCLE_FACTORS:
        t = int(round(default_t * t_factor))
        s = int(round(default_s * s_factor))
        sizes = [(t, s)]
        if cfg.MULTIGRID.SHORT_CYCLE:
            sizes = [(t, default_s * f) for f in cfg.MULTIGRID.SHORT_CYCLE_FACTORS] + sizes
        all_shapes.append([(batch_factor(default_t, default_s, ti, si), ti, si) for ti, si in sizes])
    return all_shapes


# --------------------------------------------------------------------------- #
# Schedule
# --------------------------------------------------------------------------- #
def init_multigrid(cfg):
    """Prepare ``cfg`` (in place, also when frozen) for multigrid training and return it.

    Records the default shape in ``MULTIGRID.DEFAULT_{B,T,S}`` (when unset) and moves the epochs:
    with the long cycle, ``SOLVER.MAX_EPOCH`` becomes the schedule's end and ``SOLVER.STEPS`` the
    first epoch of each LR step's phases (so the LR policy gives each step's LR, which the
    schedule's ``lr_factor`` scales by the phase's batch factor); with the short cycle alone both
    are multiplied by ``EPOCH_FACTOR``. The originals stay in ``MULTIGRID.BASE_MAX_EPOCH`` and
    ``MULTIGRID.BASE_STEPS``, which also makes a second call a no-op.
    """
    mg = cfg.MULTIGRID
    if not (mg.LONG_CYCLE or mg.SHORT_CYCLE) or mg.BASE_MAX_EPOCH:
        return cfg
    frozen = cfg.is_frozen()
    cfg.defrost()
    mg.DEFAULT_B, mg.DEFAULT_T, mg.DEFAULT_S = default_shape(cfg)
    if mg.LONG_CYCLE:
        phases = long_cycle_schedule(cfg)
        steps = [next(p.start_epoch for p in phases if p.lr_step == step)
                 for step in range(len(cfg.SOLVER.STEPS))]
        max_epoch = phases[-1].end_epoch
    else:
        steps = [int(s * mg.EPOCH_FACTOR) for s in cfg.SOLVER.STEPS]
        max_epoch = int(cfg.SOLVER.MAX_EPOCH * mg.EPOCH_FACTOR)
    mg.BASE_MAX_EPOCH, mg.BASE_STEPS = cfg.SOLVER.MAX_EPOCH, list(cfg.SOLVER.STEPS)
    cfg.SOLVER.MAX_EPOCH, cfg.SOLVER.STEPS = max_epoch, steps
    if frozen:
        cfg.freeze()
    return cfg


def build_schedule(cfg) -> Optional["MultigridSchedule"]:
    """:func:`init_multigrid` on ``cfg``, then the long-cycle schedule (None without long cycle)."""
    init_multigrid(cfg)
    return MultigridSchedule(cfg) if cfg.MULTIGRID.LONG_CYCLE else None


def _original_solver(cfg) -> Tuple[List[int], int]:
    """``(SOLVER.STEPS, SOLVER.MAX_EPOCH)`` as configured, before :func:`init_multigrid`."""
    if cfg.MULTIGRID.BASE_MAX_EPOCH:
        return list(cfg.MULTIGRID.BASE_STEPS), cfg.MULTIGRID.BASE_MAX_EPOCH
    return list(cfg.SOLVER.STEPS), cfg.SOLVER.MAX_EPOCH


def check_long_cycle_solver(cfg) -> None:
    """The long cycle splits each LR step into phases: it needs a stepwise schedule (ConfigError
    naming the keys otherwise). ``assert_and_infer_cfg`` calls it, so a run fails before it starts."""
    solver = cfg.SOLVER
    steps, max_epoch = _original_solver(cfg)
    if solver.LR_POLICY != STEPWISE_POLICY:
        raise ConfigError(
            f"MULTIGRID.LONG_CYCLE needs SOLVER.LR_POLICY '{STEPWISE_POLICY}' (its phases split "
            f"each LR step), got '{solver.LR_POLICY}'",
            f"set SOLVER.LR_POLICY {STEPWISE_POLICY} with SOLVER.STEPS and SOLVER.LRS, or MULTIGRID.LONG_CYCLE False",
        )
    if len(steps) < 2 or steps[0] != 0 or sorted(steps) != steps or steps[-1] >= max_epoch:
        raise ConfigError(
            f"MULTIGRID.LONG_CYCLE needs SOLVER.STEPS increasing from 0 with at least two steps "
            f"and the last below SOLVER.MAX_EPOCH {max_epoch}, got {steps}",
            "e.g. SOLVER.STEPS [0, 94, 154] with SOLVER.MAX_EPOCH 196",
        )
    if len(solver.LRS) < len(steps):
        raise ConfigError(
            f"SOLVER.LRS has {len(solver.LRS)} values but SOLVER.STEPS has {len(steps)} steps",
            "give one relative LR per step",
        )


def long_cycle_schedule(cfg) -> List[Phase]:
    """The long-cycle phases of a run, as the published algorithm computes them.

    Each LR step but the last is split over the long-cycle shapes in proportion to their
    (short-cycle averaged) batch sizes; the last LR step becomes a fine-tune phase at the full
    shape, given the same iteration saving as the rest; then all phases are rescaled to
    ``MAX_EPOCH * EPOCH_FACTOR`` epochs and their cumulative ends rounded. Uses the original
    MAX_EPOCH (``MULTIGRID.BASE_MAX_EPOCH`` once :func:`init_multigrid` ran). Without
    ``MULTIGRID.SCALE_BATCH`` every phase keeps batch factor 1 (and the step's LR).
    """
    check_long_cycle_solver(cfg)
    solver = cfg.SOLVER
    steps, max_epoch = _original_solver(cfg)
    all_shapes = long_cycle_shapes(cfg)
    avg_batch = [sum(b for b, _, _ in shapes) / len(shapes) for shapes in all_shapes]

    # (lr_step, shape, relative epochs) before rescaling.
    raw: List[Tuple[int, Tuple[int, int, float], float]] = []
    total_iters = 0.0
    for step in range(len(steps) - 1):
        step_epochs = steps[step + 1] - steps[step]
        for shapes, avg in zip(all_shapes, avg_batch):
            epochs = step_epochs * avg / sum(avg_batch)
            total_iters += epochs / avg
            raw.append((step, shapes[-1], epochs))
    iter_saving = steps[-1] / total_iters
    finetune_epochs = (max_epoch - steps[-1]) / iter_saving * avg_batch[-1]
    raw.append((len(steps) - 1, all_shapes[-1][-1], finetune_epochs))

    scale = max_epoch * cfg.MULTIGRID.EPOCH_FACTOR / sum(epochs for _, _, epochs in raw)
    phases, cumulative, start = [], 0.0, 0
    for index, (step, (factor, t, s), epochs) in enumerate(raw):
        cumulative += epochs * scale
        end = int(round(cumulative))
        if not cfg.MULTIGRID.SCALE_BATCH:  # same epochs, default batch and LR
            factor = 1
        lr = solver.BASE_LR * solver.LRS[step] * factor
        phases.append(Phase(index, step, factor, t, int(s), start, end, lr, finetune=index == len(raw) - 1))
        start = end
    return phases


def bn_layout(cfg, device_batch: int, cuda: bool) -> Tuple[str, int, int]:
    """``(BN.NORM_TYPE, BN.NUM_SPLITS, BN.NUM_SYNC_DEVICES)`` for a per-device batch.

    Above ``MULTIGRID.BN_BASE_SIZE``: sub-batch BN over splits of that size; below it,
    synchronised BN over enough devices to reach it (CUDA only: on the CPU the batch keeps its
    own statistics); equal: plain BN.
    """
    base = cfg.MULTIGRID.BN_BASE_SIZE
    if device_batch > base:
        return "sub_batchnorm", device_batch // base, 1
    if device_batch < base and cuda:
        return "sync_batchnorm", 1, math.ceil(base / device_batch)
    return "batchnorm", 1, 1


class MultigridSchedule:
    """Per-epoch lookups of a long-cycle run (``cfg`` after :func:`init_multigrid`), in the
    shape the trainer expects of ``Trainer.schedule``: ``update_shape``, ``lr_factor``,
    ``is_eval_epoch``, ``is_checkpoint_epoch``.
    """

    def __init__(self, cfg):
        if not cfg.MULTIGRID.LONG_CYCLE:
            raise ValueError("MultigridSchedule needs MULTIGRID.LONG_CYCLE True")
        self.phases = long_cycle_schedule(cfg)
        self.max_epoch = self.phases[-1].end_epoch
        self.eval_freq = cfg.MULTIGRID.EVAL_FREQ

    def phase_at(self, epoch: float) -> Phase:
        """The phase that trains ``epoch`` (the last phase beyond the end)."""
        for phase in self.phases:
            if epoch < phase.end_epoch:
                return phase
        return self.phases[-1]

    def shape_settings(self, cfg, epoch: int, world_size: int = 1) -> Dict[str, object]:
        """The config values of the phase of ``epoch``: batch, frames, crop, the long-cycle
        sampling rate (fewer frames spread over up to the default span) and the BN layout."""
        phase = self.phase_at(epoch)
        default_b, default_t, _ = default_shape(cfg)
        batch = default_b * phase.batch_factor
        if batch % world_size:
            raise ConfigError(f"multigrid phase {phase.index}: global batch {batch} (MULTIGRID.DEFAULT_B "
                             f"{default_b} x {phase.batch_factor}) is not divisible by the {world_size} processes")
        norm_type, num_splits, num_sync = bn_layout(cfg, batch // world_size, cuda=cfg.NUM_GPUS > 0)
        return {
            "TRAIN.BATCH_SIZE": batch,
            "DATA.NUM_FRAMES": phase.num_frames,
            "DATA.TRAIN_CROP_SIZE": phase.crop_size,
            "MULTIGRID.LONG_CYCLE_SAMPLING_RATE": cfg.DATA.SAMPLING_RATE * max(1, default_t // phase.num_frames),
            "BN.NORM_TYPE": norm_type,
            "BN.NUM_SPLITS": num_splits,
            "BN.NUM_SYNC_DEVICES": num_sync,
        }

    def update_shape(self, cfg, epoch: int, world_size: Optional[int] = None) -> bool:
        """Write the settings of ``epoch``'s phase into ``cfg`` (also when frozen); True when any
        changed, so the trainer rebuilds loaders and norm layers. Comparing every setting (not
        just the phase index) makes a run resumed mid-phase rebuild exactly what it must."""
        if world_size is None:
            from slowfast.engine.distributed import get_world_size

            world_size = get_world_size()
        settings = self.shape_settings(cfg, epoch, world_size)
        changed = {k: v for k, v in settings.items() if _get(cfg, k) != v}
        if changed:
            frozen = cfg.is_frozen()
            cfg.defrost()
            for key, value in changed.items():
                node, name = _split_key(cfg, key)
                setattr(node, name, value)
            if frozen:
                cfg.freeze()
            phase = self.phase_at(epoch)
            logger.info(f"multigrid phase {phase.index} (epochs {phase.start_epoch + 1}-{phase.end_epoch}): "
                        + ", ".join(f"{k} {v}" for k, v in changed.items()))
        return bool(changed)

    def validation_cfg(self, cfg):
        """A copy of ``cfg`` at the run's default shape (batch, frames, crop, sampling rate, no
        short cycle) for the val split and for the BN statistics validation uses: validating
        every phase at the shape the model is tested at keeps the accuracies comparable across
        phases and with the final test."""
        val_cfg = cfg.clone()
        val_cfg.defrost()
        val_cfg.TRAIN.BATCH_SIZE, val_cfg.DATA.NUM_FRAMES, val_cfg.DATA.TRAIN_CROP_SIZE = default_shape(cfg)
        val_cfg.MULTIGRID.LONG_CYCLE_SAMPLING_RATE = 0
        val_cfg.MULTIGRID.SHORT_CYCLE = False
        val_cfg.freeze()
        return val_cfg

    def default_shape_bn_batches(self, cfg, epoch: int) -> int:
        """Training batches to recompute BN statistics over at the default shape after
        ``epoch`` (``MULTIGRID.DEFAULT_SHAPE_BN_BATCHES``; 0 in phases of the default shape)."""
        phase = self.phase_at(epoch)
        _, default_t, default_s = default_shape(cfg)
        if (phase.num_frames, phase.crop_size) == (default_t, default_s):
            return 0
        return cfg.MULTIGRID.DEFAULT_SHAPE_BN_BATCHES

    def lr_factor(self, epoch: float) -> float:
        """Multiplier of the LR policy's value: the batch factor of the phase (linear scaling);
        ``SOLVER.STEPS`` already start each LR step at its first phase (:func:`init_multigrid`)."""
        return float(self.phase_at(epoch).batch_factor)

    def _is_periodic_in_phase(self, epoch: int) -> bool:
        """About ``EVAL_FREQ`` epochs per phase, always its last one, and the run's last epoch."""
        if epoch + 1 >= self.max_epoch:
            return True
        phase = self.phase_at(epoch)
        period = max(phase.num_epochs // self.eval_freq + 1, 1)
        return (phase.end_epoch - 1 - epoch) % period == 0

    def is_eval_epoch(self, epoch: int) -> bool:
        """Validate after (0-based) ``epoch``?"""
        return self._is_periodic_in_phase(epoch)

    def is_checkpoint_epoch(self, epoch: int) -> bool:
        """Save a checkpoint after (0-based) ``epoch``?"""
        return self._is_periodic_in_phase(epoch)

    def table(self, cfg) -> str:
        return format_schedule_table(cfg, self.phases)


def _split_key(cfg, key: str):
    *path, name = key.split(".")
    node = cfg
    for part in path:
        node = getattr(node, part)
    return node, name


def _get(cfg, key: str):
    node, name = _split_key(cfg, key)
    return getattr(node, name)


def format_schedule_table(cfg, phases: Optional[Sequence[Phase]] = None) -> str:
    """The schedule as a text table: phase, LR step, epochs, end epoch, global batch, frames,
    crop, LR (and the short-cycle batch@crop shapes when the short cycle is on)."""
    mg = cfg.MULTIGRID
    default_b, default_t, default_s = default_shape(cfg)
    if phases is None:
        phases = long_cycle_schedule(cfg) if mg.LONG_CYCLE else []
    header = ["phase", "lr step", "epochs", "ends at", "batch", "frames", "crop", "lr"]
    if mg.SHORT_CYCLE:
        header.append("short cycle batch@crop")
    rows = []
    for p in phases:
        batch = default_b * p.batch_factor
        row = [f"{p.index}{' (fine-tune)' if p.finetune else ''}", str(p.lr_step),
               f"{p.start_epoch}-{p.end_epoch}", str(p.end_epoch), str(batch),
               str(p.num_frames), str(p.crop_size), f"{p.lr:.6g}"]
        if mg.SHORT_CYCLE:
            row.append(" ".join(f"{b}@{c}" for b, c in short_cycle_shapes(batch, p.crop_size, cfg)))
        rows.append(row)
    if not phases:  # short cycle alone: one shape for the whole run
        row = ["0", "-", f"0-{cfg.SOLVER.MAX_EPOCH}", str(cfg.SOLVER.MAX_EPOCH), str(default_b),
               str(default_t), str(default_s), f"{cfg.SOLVER.BASE_LR:.6g}"]
        if mg.SHORT_CYCLE:
            row.append(" ".join(f"{b}@{c}" for b, c in short_cycle_shapes(default_b, default_s, cfg)))
        rows.append(row)
    widths = [max(len(r[i]) for r in [header] + rows) for i in range(len(header))]
    lines = ["  ".join(cell.rjust(w) for cell, w in zip(r, widths)) for r in [header] + rows]
    title = f"Multigrid schedule: {cfg.SOLVER.MAX_EPOCH} epochs"
    return "\n".join([title, lines[0], "-" * len(lines[0])] + lines[1:])

