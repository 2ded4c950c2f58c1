"""CMDA never materialises the L×L position-attention matrix (L = T·H·W slow positions), in
training (forward and backward) or evaluation: every ATen op's outputs are inspected under a
TorchDispatchMode, which fails on any tensor whose two trailing dims both equal an L of a CMDA
fusion. The materialised reference formulation trips the same check, so the check can see one."""
import os

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves

from slowfast.config.loader import load_config
from slowfast.models.blocks.attention import materialised_attention
from slowfast.models.build import build_model
from slowfast.models.fusion import CMDA

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class SquareAllocations(TorchDispatchMode):
    """Records every op that returns a tensor of shape ``(..., L, L)`` for an ``L`` in ``sizes``.

    ``sizes`` may grow while the mode is active (``watch`` adds the L of each CMDA call)."""

    def __init__(self, sizes=()):
        super().__init__()
        self.sizes = set(sizes)
        self.hits = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in tree_leaves(out):
            if isinstance(t, torch.Tensor) and t.dim() >= 2 and t.shape[-1] == t.shape[-2] in self.sizes:
                self.hits.append(f"{func}: {tuple(t.shape)}")
        return out

    def watch(self, model: torch.nn.Module) -> int:
        """Add ``L = T·H·W`` of each CMDA's slow input to ``sizes`` when it runs; returns the count."""
        fusions = [m for m in model.modules() if isinstance(m, CMDA)]
        for fusion in fusions:
            fusion.register_forward_pre_hook(lambda _, args: self.sizes.add(args[0][0][0, 0].numel()))
        return len(fusions)


def run(model, inputs, train: bool) -> SquareAllocations:
    """One training step's forward and backward, or one evaluation forward, under the check."""
    model.train(train)
    with SquareAllocations() as mode:
        assert mode.watch(model) > 0
        if train:
            out = model(inputs)
            sum(o.float().square().sum() for o in (out if isinstance(out, (list, tuple)) else [out])).backward()
        else:
            with torch.no_grad():
                model(inputs)
    assert mode.sizes, "no CMDA ran"
    return mode


def cmda(attention_fn=None, beta_inv=2):
    kwargs = {"attention_fn": attention_fn} if attention_fn else {}
    module = CMDA(16, 4, alpha=4, beta_inv=beta_inv, **kwargs)
    torch.nn.init.constant_(module.s2f_attention.gamma, 0.5)  # the attention branch counts
    return module


def cmda_inputs():
    # L = 2·12·10 = 240: no other tensor of the block has two trailing dims of 240.
    return [torch.randn(2, 16, 2, 12, 10), torch.randn(2, 4, 8, 12, 10)]


@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("beta_inv", [2, 16], ids=["C'=8", "C'=1"])
def test_cmda_never_materialises_the_attention_matrix(train, beta_inv):
    """C' = 1 too: its (N, 1, L, 1) views count as contiguous with a last-dim stride of L, which
    sent SDPA down the math path until memory_efficient_attention asked for unit stride."""
    mode = run(cmda(beta_inv=beta_inv), cmda_inputs(), train)
    assert mode.sizes == {240} and mode.hits == []


@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
def test_the_check_sees_a_materialised_matrix(train):
    mode = run(cmda(materialised_attention), cmda_inputs(), train)
    assert any("(2, 240, 240)" in hit for hit in mode.hits), mode.hits
    if train:  # the backward pass runs under the mode too: its L×L gradient is seen
        assert any(hit.startswith("aten._softmax_backward_data") for hit in mode.hits), mode.hits


# Non-square crops: a feature map's (H, W) is never square, so only an L×L matrix can match.
MODELS = [
    ("configs/Synthetic/SLOWFAST_SHUFFLENETV2_tiny.yaml", ["SLOWFAST.FUSION", "cmda", "SLOWFAST.BETA_INV", "8"]),
    ("configs/Kinetics/SLOWFAST_DUAL_8x8_R50_stepwise_multigrid.yaml", ["RESNET.WIDTH_DIVISOR", "8"]),
]


@pytest.mark.parametrize("config,opts", MODELS, ids=lambda v: os.path.basename(v) if isinstance(v, str) else "")
@pytest.mark.parametrize("mode", ["train", "eval", "eval_channels_last"])
def test_cmda_models_never_materialise_the_attention_matrix(config, opts, mode):
    cfg = load_config(path_to_config=os.path.join(REPO, config),
                      opts=["NUM_GPUS", "0", "MODEL.NUM_CLASSES", "5", "MULTIGRID.SHORT_CYCLE", "False",
                            "MULTIGRID.LONG_CYCLE", "False", *opts])
    torch.manual_seed(0)
    model = build_model(cfg, device=torch.device("cpu"))
    for module in model.modules():
        if isinstance(module, CMDA):
            torch.nn.init.constant_(module.s2f_attention.gamma, 0.5)
    inputs = [torch.randn(1, 3, t, 64, 96) for t in (2, 2 * cfg.SLOWFAST.ALPHA)]
    if mode == "eval_channels_last":  # the layout of the optimised inference path
        model = model.to(memory_format=torch.channels_last_3d)
        inputs = [x.contiguous(memory_format=torch.channels_last_3d) for x in inputs]
    result = run(model, inputs, train=mode == "train")
    assert len(result.sizes) >= 2 and result.hits == []
