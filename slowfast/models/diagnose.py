"""Per-stage, per-pathway activation and gradient statistics of a pathway network.

Used by ``tools/diagnose_init.py`` to see, at initialisation and over the first training steps,
where activations or gradients blow up or vanish. For every module the composition runs
(``TwoPathwayNet.feature_names``: stems, stages, fusions, pools; then the head) and every pathway
it outputs, one :class:`Record`:

* ``act_std``: standard deviation of the module's output ``(N, C_p, T_p, H, W)``;
* ``grad_rms``: root mean square of dLoss/d(output) (the *activation gradient*), per element;
* ``wgrad_norm`` / ``w_norm``: L2 norms of the gradient and of the weights of the module's
  parameters of that pathway (``pathway{p}_*`` children; a fusion's parameters are split by
  direction: CMDA ``f2s_*`` feed the slow output, ``s2f_*`` the fast one; lateral ``conv_f2s``/
  ``bn`` the slow one). ``wgrad_norm / w_norm`` times the LR is the relative size of an SGD step.

Usage::

    with StatsRecorder(model) as recorder:
        loss = loss_fn(model(inputs), labels)
        loss.backward()
    for record in recorder.records():   # after backward
        print(record)
"""
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence

import torch
import torch.nn as nn

# Fusion parameter name prefixes -> the pathway whose output they produce.
FUSION_PARAM_PATHWAY = {"f2s_": 0, "conv_f2s": 0, "bn.": 0, "s2f_": 1}


@dataclass
class Record:
    """Statistics of one module output of one pathway (pathway -1: a single tensor, e.g. logits)."""

    module: str
    pathway: int
    shape: tuple
    act_std: float
    grad_rms: float = float("nan")
    wgrad_norm: float = 0.0
    w_norm: float = 0.0

    @property
    def relative_wgrad(self) -> float:
        return self.wgrad_norm / self.w_norm if self.w_norm else 0.0

    def is_finite(self) -> bool:
        return all(torch.isfinite(torch.tensor(v)) for v in (self.act_std, self.grad_rms, self.wgrad_norm, self.w_norm))


def param_pathway(module_name: str, param_name: str, num_pathways: int) -> Optional[int]:
    """The pathway a parameter belongs to (``pathway1_unit0.…`` -> 1, CMDA ``s2f_conv.weight`` -> 1), else None."""
    for p in range(num_pathways):
        if param_name.startswith(f"pathway{p}_"):
            return p
    if module_name.endswith("_fuse"):
        for prefix, p in FUSION_PARAM_PATHWAY.items():
            if param_name.startswith(prefix):
                return p
    return None


class StatsRecorder:
    """Hooks the feature modules and the head of ``model`` (a ``TwoPathwayNet``) while in the
    ``with`` block; :meth:`records` reads the statistics of the last forward/backward."""

    def __init__(self, model: nn.Module):
        model = getattr(model, "module", model)  # DDP
        self.model = model
        self.names: List[str] = list(model.feature_names) + ["head"]
        self.num_pathways: int = model.num_pathways
        self._handles = []
        self._acts: Dict[str, List[torch.Tensor]] = {}
        self._grads: Dict[str, List[Optional[torch.Tensor]]] = {}

    def __enter__(self) -> "StatsRecorder":
        for name in self.names:
            self._handles.append(getattr(self.model, name).register_forward_hook(self._hook(name)))
        return self

    def __exit__(self, *exc) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def _hook(self, name: str):
        def hook(module, inputs, output):
            outputs = list(output) if isinstance(output, (list, tuple)) else [output]
            self._acts[name] = [o.detach() for o in outputs]
            self._grads[name] = [None] * len(outputs)
            for i, out in enumerate(outputs):
                if out.requires_grad:
                    out.register_hook(self._grad_hook(name, i))

        return hook

    def _grad_hook(self, name: str, index: int):
        def hook(grad):
            self._grads[name][index] = grad.detach()

        return hook

    def records(self) -> List[Record]:
        """One record per hooked module and output pathway, in forward order."""
        rows = []
        for name in self.names:
            if name not in self._acts:
                continue
            module = getattr(self.model, name)
            acts = self._acts[name]
            wgrad = [0.0] * len(acts)
            wnorm = [0.0] * len(acts)
            for param_name, param in module.named_parameters():
                p = 0 if len(acts) == 1 else param_pathway(name, param_name, len(acts))
                if p is None:
                    continue
                wnorm[p] += float(param.detach().float().pow(2).sum())
                if param.grad is not None:
                    wgrad[p] += float(param.grad.detach().float().pow(2).sum())
            for p, act in enumerate(acts):
                grad = self._grads[name][p]
                rows.append(Record(
                    module=name,
                    pathway=p if len(acts) > 1 else -1,
                    shape=tuple(act.shape),
                    act_std=float(act.float().std()),
                    grad_rms=float(grad.float().pow(2).mean().sqrt()) if grad is not None else float("nan"),
                    wgrad_norm=wgrad[p] ** 0.5,
                    w_norm=wnorm[p] ** 0.5,
                ))
        return rows


def format_records(records: Sequence[Record], title: str = "") -> str:
    """A fixed-width table of ``records``."""
    lines = [title] if title else []
    lines.append(f"{'module':<12} {'path':>4} {'shape':<24} {'act std':>9} {'grad rms':>10} "
                 f"{'|dW|':>9} {'|W|':>8} {'|dW|/|W|':>9}")
    for r in records:
        path = {-1: "-", 0: "slow", 1: "fast"}.get(r.pathway, str(r.pathway))
        lines.append(f"{r.module:<12} {path:>4} {str(r.shape):<24} {r.act_std:9.3g} {r.grad_rms:10.3g} "
                     f"{r.wgrad_norm:9.3g} {r.w_norm:8.3g} {r.relative_wgrad:9.3g}")
    return "\n".join(lines)


def gradient_growth(records: Sequence[Record]) -> Dict[int, float]:
    """Per pathway, activation-gradient RMS at the first stage over that at the last stage before
    the head (how much gradients grow flowing back to the stem; ~1 is healthy)."""
    growth = {}
    for p in sorted({r.pathway for r in records if r.pathway >= 0}):
        rows = [r for r in records if r.pathway == p and r.grad_rms == r.grad_rms]
        if len(rows) >= 2 and rows[-1].grad_rms > 0:
            growth[p] = rows[0].grad_rms / rows[-1].grad_rms
    return growth
