"""LR policies (with warm-up), parameter groups, optimisers and clipping."""
import math

import pytest
import torch

from slowfast.config import get_cfg
from slowfast.engine import optim


def solver_cfg(**solver):
    cfg = get_cfg()
    cfg.SOLVER.BASE_LR = 0.1
    cfg.SOLVER.MAX_EPOCH = 100
    cfg.SOLVER.WARMUP_EPOCHS = 0.0
    for key, value in solver.items():
        cfg.SOLVER[key] = value
    return cfg


@pytest.mark.parametrize("epoch,expected", [(0.0, 0.1), (25.0, 0.1 * (1 + math.cos(math.pi / 4)) / 2), (50.0, 0.05), (100.0, 0.0)])
def test_cosine(epoch, expected):
    assert optim.get_lr_at_epoch(solver_cfg(LR_POLICY="cosine"), epoch) == pytest.approx(expected, abs=1e-12)


def test_cosine_end_lr():
    cfg = solver_cfg(LR_POLICY="cosine", COSINE_END_LR=0.01)
    assert optim.get_lr_at_epoch(cfg, 50.0) == pytest.approx(0.055)
    assert optim.get_lr_at_epoch(cfg, 100.0) == pytest.approx(0.01)


@pytest.mark.parametrize(
    "epoch,expected",
    [(0.0, 0.1), (93.99, 0.1), (94.0, 0.01), (153.5, 0.01), (154.0, 0.001), (196.0, 0.0001), (238.9, 0.0001)],
)
def test_steps_with_relative_lrs(epoch, expected):
    cfg = solver_cfg(LR_POLICY="steps_with_relative_lrs", STEPS=[0, 94, 154, 196], LRS=[1, 0.1, 0.01, 0.001, 0.0001], MAX_EPOCH=239)
    assert optim.get_lr_at_epoch(cfg, epoch) == pytest.approx(expected)


def test_constant():
    assert optim.get_lr_at_epoch(solver_cfg(LR_POLICY="constant"), 73.2) == 0.1


@pytest.mark.parametrize("epoch,expected", [(0.0, 0.01), (2.5, 0.0325), (5.0, 0.055)])
def test_linear_warmup_reaches_the_policy_value(epoch, expected):
    # cosine at epoch 5 of 10 from 0.1 to 0.01 is 0.055; the ramp starts at 0.01.
    cfg = solver_cfg(LR_POLICY="cosine", MAX_EPOCH=10, COSINE_END_LR=0.01, WARMUP_EPOCHS=5.0, WARMUP_START_LR=0.01)
    assert optim.get_lr_at_epoch(cfg, epoch) == pytest.approx(expected)


def test_warmup_then_steps_and_shard_scaling():
    cfg = solver_cfg(LR_POLICY="steps_with_relative_lrs", STEPS=[0, 10], LRS=[1, 0.1], MAX_EPOCH=20,
                     WARMUP_EPOCHS=4.0, WARMUP_START_LR=0.02)
    assert optim.get_lr_at_epoch(cfg, 1.0) == pytest.approx(0.04)
    assert optim.get_lr_at_epoch(cfg, 12.0) == pytest.approx(0.01)
    cfg.SOLVER.BASE_LR_SCALE_NUM_SHARDS = True
    cfg.NUM_SHARDS = 4
    assert optim.get_lr_at_epoch(cfg, 12.0) == pytest.approx(0.04)


def test_unknown_policy():
    with pytest.raises(ValueError, match="SOLVER.LR_POLICY 'exp'"):
        optim.get_lr_at_epoch(solver_cfg(LR_POLICY="exp"), 1.0)


class NetWithBN(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv3d(3, 4, 1)
        self.bn = torch.nn.BatchNorm3d(4)
        self.fc = torch.nn.Linear(4, 2)


def groups_by_decay(optimizer):
    return {group["weight_decay"]: sorted(id(p) for p in group["params"]) for group in optimizer.param_groups}


def test_bn_and_1d_params_get_their_own_weight_decay():
    net = NetWithBN()
    cfg = solver_cfg(WEIGHT_DECAY=1e-4, ZERO_WD_1D_PARAM=True)
    cfg.BN.WEIGHT_DECAY = 5e-5
    groups = groups_by_decay(optim.construct_optimizer(net, cfg))
    assert groups[1e-4] == sorted([id(net.conv.weight), id(net.fc.weight)])
    assert groups[5e-5] == sorted([id(net.bn.weight), id(net.bn.bias)])
    assert groups[0.0] == sorted([id(net.conv.bias), id(net.fc.bias)])

    cfg.SOLVER.ZERO_WD_1D_PARAM = False
    groups = groups_by_decay(optim.construct_optimizer(net, cfg))
    assert set(groups) == {1e-4, 5e-5} and len(groups[1e-4]) == 4


def test_sgd_nesterov_and_adamw():
    net = NetWithBN()
    sgd = optim.construct_optimizer(net, solver_cfg(OPTIMIZING_METHOD="sgd", MOMENTUM=0.9, NESTEROV=True))
    assert isinstance(sgd, torch.optim.SGD) and sgd.defaults["nesterov"] and sgd.defaults["momentum"] == 0.9
    adamw = optim.construct_optimizer(net, solver_cfg(OPTIMIZING_METHOD="adamw", BETAS=(0.8, 0.99)))
    assert isinstance(adamw, torch.optim.AdamW) and adamw.defaults["betas"] == (0.8, 0.99)
    optim.set_lr(adamw, 0.123)
    assert all(group["lr"] == 0.123 for group in adamw.param_groups)


@pytest.mark.parametrize("method,solver", [
    ("sgd", dict(MOMENTUM=0.9, NESTEROV=True, WEIGHT_DECAY=1e-2)),
    ("adamw", dict(BETAS=(0.8, 0.99), WEIGHT_DECAY=5e-2)),
])
def test_fused_kernel_on_cpu_takes_the_same_steps_as_the_per_tensor_loop(method, solver):
    torch.manual_seed(0)
    fused_net, loop_net = NetWithBN(), NetWithBN()
    loop_net.load_state_dict(fused_net.state_dict())
    cfg = solver_cfg(OPTIMIZING_METHOD=method, **solver)
    fused = optim.construct_optimizer(fused_net, cfg)
    loop = optim.construct_optimizer(loop_net, cfg)
    assert all(group["fused"] for group in fused.param_groups)
    optim.use_per_tensor_loop(loop)
    assert not any(group["fused"] or group["foreach"] for group in loop.param_groups)
    for _ in range(3):
        grads = [torch.randn_like(p) for p in fused_net.parameters()]
        for net, optimizer in ((fused_net, fused), (loop_net, loop)):
            for param, grad in zip(net.parameters(), grads):
                param.grad = grad.clone()
            optimizer.step()
    for (name, a), b in zip(fused_net.named_parameters(), loop_net.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6, msg=name)


def test_fused_kernel_only_for_floating_parameters_on_one_supported_device():
    cpu = torch.nn.Parameter(torch.zeros(2))
    assert optim.use_fused_kernel([{"params": [cpu]}, {"params": [torch.nn.Parameter(torch.zeros(3, 3))]}])
    assert not optim.use_fused_kernel([{"params": [torch.nn.Parameter(torch.zeros(2, device="meta"))]}])
    assert not optim.use_fused_kernel([{"params": [cpu, torch.nn.Parameter(torch.zeros(2, device="meta"))]}])
    assert not optim.use_fused_kernel([{"params": [cpu, torch.nn.Parameter(torch.zeros(2, dtype=torch.complex64))]}])


def test_optimizer_state_of_the_per_tensor_loop_resumes_in_the_fused_kernel():
    """Checkpoints written before the fused kernel (or on another device) still resume."""
    torch.manual_seed(0)
    net = NetWithBN()
    cfg = solver_cfg(OPTIMIZING_METHOD="adamw")
    loop = torch.optim.AdamW(optim.param_groups(net, cfg), lr=0.1)
    for param in net.parameters():
        param.grad = torch.ones_like(param)
    loop.step()
    fused = optim.construct_optimizer(net, cfg)
    optim.load_optimizer_state(fused, loop.state_dict())
    assert all(group["fused"] and group["lr"] == 0.1 for group in fused.param_groups)
    fused.step()
    assert all(float(state["step"]) == 2.0 for state in fused.state.values())


def test_gradient_clipping_by_value_and_norm():
    weight = torch.nn.Parameter(torch.zeros(4))
    weight.grad = torch.tensor([3.0, -4.0, 0.5, 0.0])
    optim.clip_gradients([weight], solver_cfg(CLIP_GRAD_VAL=1.0))
    assert torch.equal(weight.grad, torch.tensor([1.0, -1.0, 0.5, 0.0]))
    weight.grad = torch.tensor([3.0, -4.0, 0.0, 0.0])
    optim.clip_gradients([weight], solver_cfg(CLIP_GRAD_L2NORM=1.0))
    assert torch.allclose(weight.grad, torch.tensor([0.6, -0.8, 0.0, 0.0]), atol=1e-5)
