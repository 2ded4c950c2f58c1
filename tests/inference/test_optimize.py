"""BatchNorm folding and the optimised inference path."""
import pytest
import torch
from torch import nn

from slowfast.inference.optimize import (
    find_conv_bn_pairs,
    fold_batchnorm,
    fold_conv_bn,
    inference_channels_last,
    optimize_for_inference,
    prefers_channels_last,
    prepare_inputs,
)
from tests.deploy.conftest import clip_inputs, perturb


class ToyTwoPathway(nn.Module):
    """Conv/BN patterns a folder must get right, on ``[slow, fast]`` inputs.

    c1 -> b1: foldable (Sequential-free, plain attributes).
    c2 -> b2, with c2's output also added after b2: NOT foldable (the conv output has two users).
    c3 -> in-place ReLU -> b3: NOT foldable (b3 normalises the ReLU's output).
    fast: Sequential(conv, bn, relu): foldable; a BN before any conv (b0): NOT foldable.
    """

    def __init__(self):
        super().__init__()
        self.b0 = nn.BatchNorm3d(3)
        self.c1, self.b1 = nn.Conv3d(3, 8, 3, padding=1, bias=False), nn.BatchNorm3d(8)
        self.c2, self.b2 = nn.Conv3d(8, 8, 1), nn.BatchNorm3d(8)
        self.c3, self.relu, self.b3 = nn.Conv3d(8, 8, 1), nn.ReLU(inplace=True), nn.BatchNorm3d(8)
        self.fast = nn.Sequential(nn.Conv3d(3, 4, (3, 1, 1), padding=(1, 0, 0), groups=1), nn.BatchNorm3d(4), nn.ReLU())
        self.fc = nn.Linear(12, 3)

    def forward(self, x):
        slow = self.b1(self.c1(self.b0(x[0])))
        y = self.c2(slow)
        slow = self.b2(y) + y
        slow = self.b3(self.relu(self.c3(slow)))
        fast = self.fast(x[1])
        return self.fc(torch.cat([slow.mean((2, 3, 4)), fast.mean((2, 3, 4))], dim=1))


def toy_inputs(batch_size=2):
    generator = torch.Generator().manual_seed(1)
    return [torch.randn(batch_size, 3, 2, 8, 8, generator=generator),
            torch.randn(batch_size, 3, 8, 8, 8, generator=generator)]


def test_fold_conv_bn_matches_conv_then_bn():
    torch.manual_seed(0)
    conv = nn.Conv3d(4, 6, 3, padding=1, groups=2, bias=True)
    bn = perturb(nn.Sequential(nn.BatchNorm3d(6)))[0]
    x = torch.randn(2, 4, 3, 5, 5)
    with torch.no_grad():
        expected = bn(conv(x))
        fused = fold_conv_bn(conv, bn)
        assert fused.bias is not None and fused.groups == 2
        torch.testing.assert_close(fused(x), expected, atol=1e-5, rtol=0)


def test_only_provably_foldable_pairs_are_found():
    model = perturb(ToyTwoPathway())
    assert sorted(find_conv_bn_pairs(model, toy_inputs(1))) == [("c1", "b1"), ("fast.0", "fast.1")]


def test_fold_batchnorm_preserves_outputs_and_removes_folded_bns():
    model = perturb(ToyTwoPathway())
    folded = fold_batchnorm(model, toy_inputs(1))
    assert isinstance(folded.b1, nn.Identity) and isinstance(folded.fast[1], nn.Identity)
    for kept in (folded.b0, folded.b2, folded.b3):
        assert isinstance(kept, nn.BatchNorm3d)
    assert isinstance(model.b1, nn.BatchNorm3d), "the input model must be left unchanged"
    with torch.no_grad():
        torch.testing.assert_close(folded(toy_inputs()), model(toy_inputs()), atol=1e-5, rtol=0)


def test_optimize_for_inference_layouts_agree():
    model = perturb(ToyTwoPathway())
    inputs = toy_inputs()
    with torch.no_grad():
        expected = model(inputs)
    for channels_last in (False, True):
        layout = "channels_last" if channels_last else "contiguous"
        optimized = optimize_for_inference(model, toy_inputs(1), layout=layout)
        assert optimized.channels_last is channels_last and not optimized.training
        assert not any(p.requires_grad for p in optimized.parameters())
        prepared = prepare_inputs(optimized, inputs)
        assert prepared[0].is_contiguous(memory_format=torch.channels_last_3d) is channels_last
        with torch.inference_mode():
            torch.testing.assert_close(optimized(prepared), expected, atol=1e-5, rtol=0)
    assert isinstance(prefers_channels_last(model, toy_inputs(1), repeats=1), bool)
    assert isinstance(optimize_for_inference(model, toy_inputs(1), layout="probe").channels_last, bool)


def test_auto_layout_is_a_rule_not_a_measurement(monkeypatch):
    """The default layout depends only on the model and its device: the same model gets the same
    layout every time, and nothing is timed (the probe is never called)."""
    import slowfast.inference.optimize as optimize

    def no_timing(*args, **kwargs):
        raise AssertionError("layout='auto' must not time the model")

    monkeypatch.setattr(optimize, "prefers_channels_last", no_timing)
    model = perturb(ToyTwoPathway())
    choices = {optimize_for_inference(model, toy_inputs(1)).channels_last for _ in range(3)}
    assert choices == {True}  # a CPU model with Conv3d: channels_last_3d

    class NoConv3d(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(3, 2)

        def forward(self, x):
            return self.fc(x[0].mean((2, 3, 4)))

    assert inference_channels_last(NoConv3d()) is False
    assert optimize_for_inference(NoConv3d(), toy_inputs(1)).channels_last is False


def test_unknown_layout_is_refused():
    with pytest.raises(ValueError, match="inference layout 'fastest' is unknown"):
        optimize_for_inference(perturb(ToyTwoPathway()), toy_inputs(1), layout="fastest")


def test_optimize_inside_inference_mode_still_folds():
    model = perturb(ToyTwoPathway())
    with torch.inference_mode():
        optimized = optimize_for_inference(model, toy_inputs(1), layout="contiguous")
    assert isinstance(optimized.b1, nn.Identity)


def test_efficient_model_folding(efficient_model):
    """Every conv->BN of the real models folds; only BNs that follow no conv (CMDA's) remain."""
    cfg, model = efficient_model
    inputs = clip_inputs(cfg, batch_size=2)
    optimized = optimize_for_inference(model, clip_inputs(cfg), layout="channels_last")
    bns_before = sum(isinstance(m, nn.BatchNorm3d) for m in model.modules())
    bns_after = sum(isinstance(m, nn.BatchNorm3d) for m in optimized.modules())
    assert bns_after <= 8 < bns_before  # CMDA: one BN per direction after each of its (<= 4) fuses
    with torch.inference_mode():
        torch.testing.assert_close(optimized(prepare_inputs(optimized, inputs)), model(inputs), atol=1e-5, rtol=1e-5)


def test_conv_output_that_is_also_a_model_output_is_not_folded():
    class TwoOutputs(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv, self.bn = nn.Conv3d(3, 4, 1), nn.BatchNorm3d(4)

        def forward(self, x):
            features = self.conv(x[0])
            return self.bn(features), features

    assert find_conv_bn_pairs(perturb(TwoOutputs()), toy_inputs(1)[:1]) == []
