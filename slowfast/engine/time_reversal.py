"""Time-reversal probe: does a classifier read the order of the frames, or only what they show?

A clip played backwards is a clip of its *reversed class*: "moving left" backwards is "moving
right", "rotating clockwise" backwards is "rotating anticlockwise", "no motion" stays itself. A
model that uses the direction of time names the reversed class on the reversed clip; a model that
only uses order-free statistics (where the object is on average, how large it is on average) names
the class of the clip it was shown forwards, because the set of frames is the same. Per class, the
probe counts both on the same views:

- ``forward``: the clip, label as given;
- ``reversed``: the clip with its frames in reverse order, against the reversed class;
- ``order-free``: the reversed clip still given the forward label (only for classes whose reversed
  class differs): the share of the class the model recognises without the order of its frames.

Classes without a declared reversal (``None``) are left out of the reversed columns.
"""
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence

import torch

from slowfast.datasets.transforms import pack_pathway_output
from slowfast.engine.evaluator import input_layout, to_device
from slowfast.utils.errors import ConfigError


@dataclass
class ClassCounts:
    """Validation views of one class and how many of them each reading got right."""

    total: int = 0
    forward: int = 0
    reversed: int = 0
    order_free: int = 0


def parse_reversal_pairs(text: str, num_classes: int) -> List[Optional[int]]:
    """``"0:1,2:3,8:8"`` -> per class its reversed class (``a:b`` declares both directions; ``c:c``
    a class that is its own reversal); classes not named get ``None``."""
    partners: List[Optional[int]] = [None] * num_classes
    for item in filter(None, (part.strip() for part in text.split(","))):
        try:
            a, b = (int(side) for side in item.split(":"))
        except ValueError:
            raise ConfigError(f"--pairs item '{item}' is not CLASS:CLASS (e.g. 0:1,8:8)") from None
        for cls in (a, b):
            if not 0 <= cls < num_classes:
                raise ConfigError(f"--pairs item '{item}': class {cls} is outside [0, {num_classes})")
        for cls, partner in ((a, b), (b, a)):
            if partners[cls] not in (None, partner):
                raise ConfigError(f"--pairs gives class {cls} two reversed classes: {partners[cls]} and {partner}")
            partners[cls] = partner
    return partners


def reverse_pathways(cfg, inputs: Sequence[torch.Tensor]) -> List[torch.Tensor]:
    """The pathway inputs of the same clip played backwards.

    The last pathway holds every sampled frame (the fast pathway, or the only one), so reversing it
    and packing again gives exactly what the loader would have packed from the reversed clip; the
    slow pathway's frame indices are not symmetric in general, so flipping it alone would not."""
    return pack_pathway_output(cfg, inputs[-1].flip(-3))


@torch.no_grad()
def probe_time_reversal(model, loader, cfg, partners: Sequence[Optional[int]], device) -> List[ClassCounts]:
    """Run ``model`` (eval mode) on every batch of ``loader`` forwards and reversed; per class counts."""
    model.eval()
    layout = input_layout(model, cfg)
    counts = [ClassCounts() for _ in partners]
    for inputs, labels, _, _ in loader:
        forward = model(to_device(inputs, device, layout)).argmax(dim=1).cpu()
        backward = model(to_device(reverse_pathways(cfg, inputs), device, layout)).argmax(dim=1).cpu()
        for label, f, b in zip(labels.tolist(), forward.tolist(), backward.tolist()):
            c = counts[label]
            c.total += 1
            c.forward += f == label
            c.reversed += b == partners[label]  # never for a class without a reversal (None)
            c.order_free += partners[label] not in (None, label) and b == label
    return counts


def summarise(counts: Sequence[ClassCounts], partners: Sequence[Optional[int]]) -> Dict[str, float]:
    """Top-1 (%) forwards over all classes, reversed over classes with a reversal, and the order-free
    share over classes whose reversal differs from themselves."""
    def pct(num: int, den: int) -> float:
        return 100.0 * num / den if den else float("nan")

    paired = [c for c, p in zip(counts, partners) if p is not None]
    moving = [c for i, (c, p) in enumerate(zip(counts, partners)) if p not in (None, i)]
    return {
        "forward": pct(sum(c.forward for c in counts), sum(c.total for c in counts)),
        "reversed": pct(sum(c.reversed for c in paired), sum(c.total for c in paired)),
        "order_free": pct(sum(c.order_free for c in moving), sum(c.total for c in moving)),
    }


def format_table(counts: Sequence[ClassCounts], partners: Sequence[Optional[int]], class_names: Sequence[str]) -> str:
    """A markdown table: one row per class, then the summary row."""
    rows = ["| class | reversed class | views | forward | reversed | order-free |", "|---|---|---|---|---|---|"]
    for index, (c, partner) in enumerate(zip(counts, partners)):
        reversed_cell = "-" if partner is None else f"{c.reversed}"
        order_free_cell = "-" if partner in (None, index) else f"{c.order_free}"
        partner_name = "-" if partner is None else class_names[partner]
        rows.append(f"| {class_names[index]} | {partner_name} | {c.total} | {c.forward} | {reversed_cell} | {order_free_cell} |")
    s = summarise(counts, partners)
    rows.append(f"| **top-1 %** | | {sum(c.total for c in counts)} | {s['forward']:.1f} | {s['reversed']:.1f} | {s['order_free']:.1f} |")
    return "\n".join(rows)
