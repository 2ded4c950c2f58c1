"""The training loop: ``Trainer(cfg).fit()`` (or ``train(cfg)``), the same for 1..N processes.

Per epoch: ``on_epoch_start`` (schedule, loaders, reseed, shuffle) -> ``train_epoch`` (per
iteration: LR from ``lr_at``, forward under optional autocast, non-finite loss check, backward,
clipping, step, meters) -> ``on_epoch_end`` (BN statistics, checkpoint, validation).

Multigrid and other schedules plug in through ``self.schedule``, an optional object with

    update_shape(cfg, epoch) -> bool   set this epoch's TRAIN.BATCH_SIZE / DATA.NUM_FRAMES /
                                       DATA.TRAIN_CROP_SIZE / sampling rate in ``cfg``; True
                                       when the shape changed (the model's norm layers are then
                                       rebuilt and the loaders reconstructed, keeping weights,
                                       optimizer state and the epoch count)
    lr_factor(epoch_float) -> float    multiplies the policy's LR (per-phase factor)
    is_eval_epoch(epoch) -> bool, is_checkpoint_epoch(epoch) -> bool
    validation_cfg(cfg) -> cfg         optional: the config the val loader is built and run with
                                       (multigrid: the default shape in every phase)
    default_shape_bn_batches(cfg, epoch) -> int
                                       optional: training batches at the validation shape to
                                       recompute BN statistics over before validating (0: none)

A schedule that changes the number of epochs sets ``cfg.SOLVER.MAX_EPOCH`` before the Trainer is
built. Every step above is a small method a subclass may override.
"""
import sys
from typing import Dict, Optional

import torch

from slowfast.engine import checkpoint as cu
from slowfast.engine import distributed as du
from slowfast.engine import multilabel
from slowfast.engine import optim
from slowfast.engine.evaluator import to_device, validate_epoch
from slowfast.engine.meters import TrainMeter, ValMeter, effective_topk, topks_correct
from slowfast.models.build import build_model, get_device, memory_format
from slowfast.utils.env import derive_seed, seed_everything
from slowfast.utils.logging import get_logger, log_json_stats, setup_logging

logger = get_logger(__name__)


def soft_cross_entropy(logits: torch.Tensor, soft_labels: torch.Tensor) -> torch.Tensor:
    """Cross entropy against target distributions ``soft_labels (N, K)``."""
    return torch.sum(-soft_labels * torch.log_softmax(logits, dim=-1), dim=-1).mean()


LOSSES = {
    "cross_entropy": torch.nn.functional.cross_entropy,
    "soft_cross_entropy": soft_cross_entropy,
    # Multi-label (AVA boxes, Charades): both names are BCE of sigmoid(logits), from the logits.
    "bce": multilabel.bce_with_logits,
    "bce_logit": multilabel.bce_with_logits,
}


class NonFiniteLossError(FloatingPointError):
    """The training loss became NaN or infinite; training stops without saving."""


class Trainer:
    """Trains ``build_model(cfg)`` on ``construct_loader(cfg, "train")``; see the module docstring."""

    def __init__(self, cfg, schedule=None):
        self.cfg = cfg
        self.schedule = schedule
        self.is_master = du.is_master_proc()
        setup_logging(cfg.OUTPUT_DIR, self.is_master)
        self.device = get_device(cfg)
        self.max_epoch = cfg.SOLVER.MAX_EPOCH
        self.topk = effective_topk(cfg)
        du.per_process_batch_size(cfg.TRAIN.BATCH_SIZE)  # a clear error before anything is built

        seed_everything(derive_seed(cfg.RNG_SEED))
        self.loss_fn = LOSSES[cfg.MODEL.LOSS_FUNC]
        self.task = multilabel.task(cfg)  # classification, detection (AVA) or multilabel (Charades)
        self.use_autocast = cfg.TRAIN.MIXED_PRECISION
        self.autocast_dtype = torch.float16 if self.device.type == "cuda" else torch.bfloat16
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.use_autocast and self.device.type == "cuda")

        model = build_model(cfg, self.device)
        if self.is_master and cfg.LOG_MODEL_INFO:
            log_model_info(model, cfg)
        self.optimizer = optim.construct_optimizer(model, cfg)
        self.start_epoch = self.load_initial_weights(model)
        self.model = du.wrap_model(model, cfg)

        self.val_meter = ValMeter(self.max_epoch, self.topk, self.device)
        self.writer = self.build_writer()
        # The schedule may reshape training; validation stays at the shape the model is tested at.
        self.val_cfg = schedule.validation_cfg(cfg) if hasattr(schedule, "validation_cfg") else cfg
        self.train_loader = self.val_loader = self.default_shape_loader = None
        self.last_val_stats: Optional[Dict] = None

    # ------------------------------------------------------------------ set-up
    def load_initial_weights(self, model) -> int:
        """Newest checkpoint of OUTPUT_DIR (TRAIN.AUTO_RESUME), else TRAIN.CHECKPOINT_FILE_PATH;
        returns the epoch to start from."""
        cfg = self.cfg
        last = cu.get_last_checkpoint(cfg.OUTPUT_DIR) if cfg.TRAIN.AUTO_RESUME else None
        if last:
            logger.info(f"resuming from {last}")
            return cu.load_checkpoint(last, model, self.optimizer, self.scaler, cfg=cfg, purpose="resume") + 1
        if cfg.TRAIN.CHECKPOINT_FILE_PATH:
            logger.info(f"fine-tuning from {cfg.TRAIN.CHECKPOINT_FILE_PATH}")
            epoch = cu.load_checkpoint(
                cfg.TRAIN.CHECKPOINT_FILE_PATH,
                model,
                self.optimizer,
                self.scaler,
                allow_shape_mismatch=cfg.TRAIN.CHECKPOINT_ALLOW_SHAPE_MISMATCH,
                epoch_reset=cfg.TRAIN.CHECKPOINT_EPOCH_RESET,
                cfg=cfg,
                checkpoint_type=cfg.TRAIN.CHECKPOINT_TYPE,
                purpose="finetune",
            )
            return epoch + 1
        logger.info("training from scratch")
        return 0

    def build_writer(self):
        """The TensorBoard writer (rank 0, TENSORBOARD.ENABLE) or None."""
        if not (self.cfg.TENSORBOARD.ENABLE and self.is_master):
            return None
        try:
            from slowfast.visualization.tensorboard import TensorboardWriter
        except ImportError as error:
            logger.warning(f"TENSORBOARD.ENABLE is True but the writer is unavailable ({error}); not logging to TensorBoard")
            return None
        return TensorboardWriter(self.cfg)

    def construct_loader(self, split: str, cfg=None):
        """The loader of ``split`` for ``cfg`` (default: the current training config)."""
        from slowfast.datasets.loader import construct_loader

        return construct_loader(self.cfg if cfg is None else cfg, split)

    def shuffle_loader(self, loader, epoch: int) -> None:
        from slowfast.datasets.loader import shuffle_dataset

        shuffle_dataset(loader, epoch)

    def build_loaders(self) -> None:
        """(Re)build the train loader for the current ``cfg`` shape; build the val loader once."""
        self.train_loader = self.construct_loader("train")
        if self.val_loader is None:
            self.val_loader = self.construct_loader("val", self.val_cfg)

    def rebuild_model(self) -> None:
        """Rebuild the model for the current ``cfg`` (new norm layers for a new batch shape),
        keeping its weights and the optimizer state."""
        old_model = du.unwrap_model(self.model)
        optimizer_state = self.optimizer.state_dict()
        model = build_model(self.cfg, self.device)
        cu.load_model_state(model, old_model.state_dict(), allow_shape_mismatch=False, source="the previous model")
        self.optimizer = optim.construct_optimizer(model, self.cfg)
        self.optimizer.load_state_dict(optimizer_state)
        self.model = du.wrap_model(model, self.cfg)

    # ------------------------------------------------------------------ schedule
    def lr_at(self, epoch_float: float) -> float:
        lr = optim.get_lr_at_epoch(self.cfg, epoch_float)
        if self.schedule is not None:
            lr *= self.schedule.lr_factor(epoch_float)
        return lr

    def is_eval_epoch(self, epoch: int) -> bool:
        if self.schedule is not None:
            return self.schedule.is_eval_epoch(epoch)
        return (epoch + 1) % self.cfg.TRAIN.EVAL_PERIOD == 0 or epoch + 1 == self.max_epoch

    def is_checkpoint_epoch(self, epoch: int) -> bool:
        if self.schedule is not None:
            return self.schedule.is_checkpoint_epoch(epoch)
        return (epoch + 1) % self.cfg.TRAIN.CHECKPOINT_PERIOD == 0 or epoch + 1 == self.max_epoch

    # ------------------------------------------------------------------ loop
    def fit(self) -> Optional[Dict]:
        """Train from ``start_epoch`` to ``SOLVER.MAX_EPOCH``; returns the last val record."""
        if self.start_epoch >= self.max_epoch:
            logger.info(f"nothing to train: {self.start_epoch} of {self.max_epoch} epochs already done")
        else:
            logger.info(f"training epochs {self.start_epoch + 1}..{self.max_epoch} on {self.device} "
                        f"with {du.get_world_size()} process(es)")
        try:
            for epoch in range(self.start_epoch, self.max_epoch):
                self.on_epoch_start(epoch)
                self.train_epoch(epoch)
                self.on_epoch_end(epoch)
        finally:
            if self.writer is not None:
                self.writer.close()
        return self.last_val_stats

    def on_epoch_start(self, epoch: int) -> None:
        """Apply the schedule's shape, (re)build loaders, reseed from (RNG_SEED, epoch), shuffle."""
        shape_changed = self.schedule is not None and self.schedule.update_shape(self.cfg, epoch)
        if shape_changed:
            self.rebuild_model()
        if shape_changed or self.train_loader is None:
            self.build_loaders()
        # Loaders are built before reseeding so that resumed and uninterrupted runs draw the same numbers.
        seed_everything(derive_seed(self.cfg.RNG_SEED, epoch, du.get_rank()))
        self.shuffle_loader(self.train_loader, epoch)

    def train_epoch(self, epoch: int) -> Dict:
        """One pass over the train loader; returns the ``train_epoch`` record."""
        self.model.train()
        epoch_iters = len(self.train_loader)
        meter = TrainMeter(epoch_iters, self.max_epoch, self.topk, self.cfg.LOG_PERIOD, self.device)
        failed_paths = []
        meter.iter_tic()
        for cur_iter, (inputs, labels, _, meta) in enumerate(self.progress(self.train_loader, epoch)):
            meter.data_toc()
            failed_paths.extend(meta.get("failed", []))
            lr = self.lr_at(epoch + cur_iter / epoch_iters)
            optim.set_lr(self.optimizer, lr)
            inputs, labels = to_device(inputs, self.device, memory_format(self.cfg)), labels.to(self.device)
            boxes = multilabel.batch_boxes(meta, self.device) if self.task == "detection" else None
            loss, top1_err, topk_err, global_batch = self.train_step(inputs, labels, epoch, cur_iter, boxes)
            meter.net_toc()
            meter.update_stats(top1_err, topk_err, loss, lr, global_batch)
            if (cur_iter + 1) % self.cfg.LOG_PERIOD == 0:
                log_json_stats(meter.iter_stats(epoch, cur_iter), self.cfg.OUTPUT_DIR, self.is_master)
                self.write_scalars({"Train/loss": loss, "Train/lr": lr}, epoch * epoch_iters + cur_iter)
            meter.iter_tic()
        meter.num_failed = self.report_decode_failures(failed_paths, epoch)
        stats = meter.epoch_stats(epoch)
        log_json_stats(stats, self.cfg.OUTPUT_DIR, self.is_master)
        self.write_scalars({"Train/Top1_err": stats["top1_err"], "Train/epoch_loss": stats["loss"]}, epoch)
        return stats

    def train_step(self, inputs, labels, epoch: int, cur_iter: int, boxes=None):
        """Forward, loss check, backward, clip, step. Returns the global-batch loss, top-1 and
        top-k errors (percent) and the global batch size.

        Detection: ``boxes`` ``(K, 5)`` go to the model with the clips and ``labels`` are the
        boxes' ``(K, C)`` multi-hot rows, so the "batch" is the K boxes."""
        with torch.autocast(self.device.type, dtype=self.autocast_dtype, enabled=self.use_autocast):
            logits = self.model(inputs) if boxes is None else self.model(inputs, boxes)
            loss = self.loss_fn(logits, labels)
        batch_size = labels.shape[0]
        top1, topk = self.correct_counts(logits.detach().float(), labels)
        # One collective per iteration: all ranks see the same totals and stop together on a bad loss.
        totals = torch.stack([loss.detach().float() * batch_size, top1, topk, torch.full_like(top1, batch_size)])
        du.all_reduce_sum([totals])
        loss_sum, top1_sum, topk_sum, global_batch = totals.tolist()
        global_batch = max(global_batch, 1.0)  # a detection batch may hold no boxes on any rank
        if not torch.isfinite(totals[0]):
            raise NonFiniteLossError(
                f"training loss is {loss_sum / global_batch} at epoch {epoch + 1} iteration {cur_iter + 1} "
                f"(LR {self.optimizer.param_groups[0]['lr']:.6g}); stopping without saving. Last good checkpoint: "
                f"{cu.get_last_checkpoint(self.cfg.OUTPUT_DIR)}"
            )
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.unscale_(self.optimizer)
        optim.clip_gradients(du.unwrap_model(self.model).parameters(), self.cfg)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        return (
            loss_sum / global_batch,
            100.0 * (1.0 - top1_sum / global_batch),
            100.0 * (1.0 - topk_sum / global_batch),
            int(global_batch),
        )

    def correct_counts(self, logits, labels):
        """Top-1 and top-k hits of a batch: against the (arg-max) class, or for multi-label tasks
        whether the k best-scored classes hit one of the positives."""
        if self.task != "classification":
            return multilabel.multilabel_topks_correct(logits, labels, (1, self.topk))
        hard_labels = labels.argmax(dim=1) if labels.ndim == 2 else labels
        return topks_correct(logits, hard_labels, (1, self.topk))

    def on_epoch_end(self, epoch: int) -> None:
        """BN statistics, checkpoint and validation as the schedule says."""
        save, evaluate = self.is_checkpoint_epoch(epoch), self.is_eval_epoch(epoch)
        if save or evaluate:
            self.refresh_bn_statistics(epoch)
        if save:
            cu.save_checkpoint(self.cfg.OUTPUT_DIR, self.model, self.optimizer, epoch, self.cfg, self.scaler)
        if evaluate:
            # The unwrapped module: DDP's forward may broadcast buffers, a collective that ranks
            # with different numbers of val batches would not all reach.
            model = du.unwrap_model(self.model)
            self.last_val_stats = validate_epoch(
                model, self.val_loader, self.val_meter, epoch, self.val_cfg, self.device, self.writer
            )
        du.barrier()  # no rank starts the next epoch before the checkpoint exists

    # ------------------------------------------------------------------ helpers
    def refresh_bn_statistics(self, epoch: int) -> None:
        """Before a checkpoint or validation: when the schedule trains at another shape than
        validation uses (``schedule.default_shape_bn_batches``), BN statistics over training
        batches at the validation shape; otherwise precise BN (``BN.USE_PRECISE_STATS``) on the
        training batches. Never both: the second would overwrite the first."""
        default_shape_batches = getattr(self.schedule, "default_shape_bn_batches", None)
        num_batches = default_shape_batches(self.cfg, epoch) if default_shape_batches else 0
        if num_batches:
            if self.default_shape_loader is None:
                self.default_shape_loader = self.construct_loader("train", self.val_cfg)
            self.shuffle_loader(self.default_shape_loader, epoch)  # the same batches after a resume
            if self.cfg.BN.USE_PRECISE_STATS:
                num_batches = max(num_batches, self.cfg.BN.NUM_BATCHES_PRECISE)
            self.update_precise_bn(self.default_shape_loader, num_batches)
        elif self.cfg.BN.USE_PRECISE_STATS:
            self.update_precise_bn(self.train_loader, self.cfg.BN.NUM_BATCHES_PRECISE)

    def update_precise_bn(self, loader, num_batches: int) -> None:
        """Recompute BN statistics over ``num_batches`` of ``loader`` (fvcore) and average them over ranks.
        Running statistics are not used by training, so this changes evaluation only."""
        from fvcore.nn.precise_bn import get_bn_modules, update_bn_stats

        model = du.unwrap_model(self.model)
        bn_layers = get_bn_modules(model)
        if not bn_layers:
            return
        num_iters = min(num_batches, len(loader))
        batches = (to_device(inputs, self.device, memory_format(self.cfg)) for inputs, *_ in loader)
        update_bn_stats(model, batches, num_iters)
        du.all_reduce_mean([buffer for bn in bn_layers for buffer in (bn.running_mean, bn.running_var)])

    def report_decode_failures(self, failed_paths, epoch: int) -> int:
        """Log this epoch's decode failures (summed over ranks); returns their number."""
        count = torch.tensor([float(len(failed_paths))])
        du.all_reduce_sum([count])
        total = int(count.item())
        if total:
            shown = sorted(set(failed_paths))[:20]
            logger.warning(f"epoch {epoch + 1}: {total} clips failed to decode and were replaced; on this rank: {shown}")
        return total

    def progress(self, loader, epoch: int):
        """``loader`` wrapped in a tqdm bar with ETA when rank 0 writes to a terminal."""
        if not (self.is_master and sys.stdout.isatty()):
            return loader
        from tqdm import tqdm

        return tqdm(loader, total=len(loader), desc=f"epoch {epoch + 1}/{self.max_epoch}", leave=False)

    def write_scalars(self, scalars: Dict[str, float], step: int) -> None:
        if self.writer is not None:
            self.writer.add_scalars(scalars, step)


def log_model_info(model, cfg) -> None:
    """Log the parameter count and GFLOPs (``slowfast.models.info`` when present)."""
    try:
        from slowfast.models.info import gflops, params_count
    except ImportError:
        params = sum(p.numel() for p in model.parameters())
        logger.info(f"model: {params:,} parameters; GFLOPs unavailable (slowfast.models.info not found)")
        return
    logger.info(f"model: {params_count(model):,} parameters")
    try:
        logger.info(f"model: {gflops(model, cfg, 'train'):.3f} GFLOPs per training clip")
    except Exception as error:  # FLOP counting must never stop training
        logger.warning(f"could not count GFLOPs: {error}")


def train(cfg, schedule=None) -> Optional[Dict]:
    """Train as configured (entry point for ``launch_job``); returns the last val record."""
    # --- multigrid: the long-cycle schedule (None otherwise); moves SOLVER.MAX_EPOCH first ---
    if schedule is None and (cfg.MULTIGRID.LONG_CYCLE or cfg.MULTIGRID.SHORT_CYCLE):
        from slowfast.engine import multigrid

        cfg = cfg.clone()  # the phases rewrite shapes in cfg; keep the caller's (e.g. for testing)
        schedule = multigrid.build_schedule(cfg)
        trainer = Trainer(cfg, schedule)
        if trainer.is_master:
            logger.info("\n" + multigrid.format_schedule_table(cfg))
        return trainer.fit()
    # --- end multigrid ---
    return Trainer(cfg, schedule).fit()
