"""The time-reversal probe: pair parsing, exact reversal of packed pathways, and exact counts for an
order-sensitive and an order-free model on hand-made clips."""
import re

import pytest
import torch

from slowfast.config import get_cfg
from slowfast.datasets.transforms import pack_pathway_output
from slowfast.engine.time_reversal import (
    ClassCounts, format_table, parse_reversal_pairs, probe_time_reversal, reverse_pathways, summarise,
)
from slowfast.utils.errors import ConfigError


def test_pairs_declare_both_directions_and_self_reversal():
    assert parse_reversal_pairs("0:1, 3:3", 5) == [1, 0, None, 3, None]
    assert parse_reversal_pairs("", 2) == [None, None]


@pytest.mark.parametrize("text, message", [
    ("0-1", "'0-1' is not CLASS:CLASS"),
    ("0:7", "class 7 is outside [0, 3)"),
    ("0:1,0:2", "class 0 two reversed classes: 1 and 2"),
])
def test_bad_pairs_name_the_item(text, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        parse_reversal_pairs(text, 3)


def _cfg(arch="slowfast", alpha=4):
    cfg = get_cfg()
    cfg.MODEL.ARCH = arch
    cfg.SLOWFAST.ALPHA = alpha
    return cfg


@pytest.mark.parametrize("arch", ["slowfast", "i3d"])
def test_reversed_pathways_equal_packing_the_reversed_clip(arch):
    cfg = _cfg(arch)
    clip = torch.arange(2 * 3 * 32 * 2 * 2, dtype=torch.float32).reshape(2, 3, 32, 2, 2)
    reversed_inputs = reverse_pathways(cfg, pack_pathway_output(cfg, clip))
    expected = pack_pathway_output(cfg, clip.flip(2))
    assert len(reversed_inputs) == len(expected)
    for got, want in zip(reversed_inputs, expected):
        assert torch.equal(got, want)
    if arch == "slowfast":  # T=32, ALPHA=4: slow indices 0,4,8,13,... are not symmetric
        assert not torch.equal(pack_pathway_output(cfg, clip)[0].flip(2), expected[0])


RIGHT, LEFT, STILL = 0, 1, 2


def _clip(label, frames=4, width=8):
    """One bright column per frame: moving right, moving left, or standing still."""
    clip = torch.zeros(3, frames, 1, width)
    for t in range(frames):
        x = {RIGHT: 2 + t, LEFT: 5 - t, STILL: 4}[label]
        clip[:, t, 0, x] = 1.0
    return clip


class _Direction(torch.nn.Module):
    """Order-sensitive: the sign of the bright column's shift from the first to the last frame."""

    def forward(self, inputs):
        fast = inputs[-1][:, 0, :, 0, :]  # (N, T, W)
        shift = fast[:, -1].argmax(1) - fast[:, 0].argmax(1)
        logits = torch.zeros(len(shift), 3)
        logits[shift > 0, RIGHT] = logits[shift < 0, LEFT] = logits[shift == 0, STILL] = 1.0
        return logits


class _Moving(torch.nn.Module):
    """Order-free: "moving right" whenever the column moves at all (the frames' set, not their order)."""

    def forward(self, inputs):
        fast = inputs[-1][:, 0, :, 0, :]
        moving = (fast.argmax(2) != fast[:, :1].argmax(2)).any(1)
        logits = torch.zeros(len(moving), 3)
        logits[moving, RIGHT] = logits[~moving, STILL] = 1.0
        return logits


def _loader(cfg):
    labels = torch.tensor([RIGHT, RIGHT, LEFT, LEFT, LEFT, STILL])
    clips = torch.stack([_clip(int(y)) for y in labels])
    return [(pack_pathway_output(cfg, clips[:4]), labels[:4], None, None),
            (pack_pathway_output(cfg, clips[4:]), labels[4:], None, None)]


def test_probe_counts_an_order_sensitive_and_an_order_free_model():
    cfg = _cfg(alpha=2)
    partners = parse_reversal_pairs(f"{RIGHT}:{LEFT},{STILL}:{STILL}", 3)
    device = torch.device("cpu")

    direction = probe_time_reversal(_Direction(), _loader(cfg), cfg, partners, device)
    assert direction == [ClassCounts(2, 2, 2, 0), ClassCounts(3, 3, 3, 0), ClassCounts(1, 1, 1, 0)]
    assert summarise(direction, partners) == {"forward": 100.0, "reversed": 100.0, "order_free": 0.0}

    moving = probe_time_reversal(_Moving(), _loader(cfg), cfg, partners, device)
    # Forwards it names every moving clip "right"; backwards a right clip is still called "right"
    # (order-free), a left clip is called "right" (which is its reversed class, by luck).
    assert moving == [ClassCounts(2, 2, 0, 2), ClassCounts(3, 0, 3, 0), ClassCounts(1, 1, 1, 0)]
    assert summarise(moving, partners)["order_free"] == pytest.approx(100 * 2 / 5)

    table = format_table(moving, partners, ["right", "left", "still"]).splitlines()
    assert table[2] == "| right | left | 2 | 2 | 0 | 2 |"
    assert table[4] == "| still | still | 1 | 1 | 1 | - |"
    assert table[-1] == "| **top-1 %** | | 6 | 50.0 | 66.7 | 40.0 |"


def test_classes_without_a_reversal_are_left_out():
    partners = [1, 0, None]
    counts = [ClassCounts(1, 1, 1, 0), ClassCounts(1, 1, 0, 1), ClassCounts(4, 0, 0, 0)]
    assert summarise(counts, partners) == {"forward": pytest.approx(100 / 3), "reversed": 50.0, "order_free": 50.0}
    assert format_table(counts, partners, ["a", "b", "c"]).splitlines()[4] == "| c | - | 4 | 0 | - | - |"
