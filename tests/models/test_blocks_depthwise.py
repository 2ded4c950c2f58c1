"""DepthwiseConv3d: the same values and gradients as nn.Conv3d, in fp64, for every
padding, kernel and memory layout of a stride-1 conv, and ATen's path where the custom
backward does not apply."""
import pytest
import torch
from torch import nn

from slowfast.models.blocks.depthwise import DepthwiseConv3d, _DepthwiseConv3dFunction, with_aten_depthwise
from slowfast.models.heads import ConvNormAct

CASES = [
    # channels, (T, H, W), kernel, padding (stride 1: the custom backward's case)
    (4, (6, 9, 9), (3, 3, 3), (1, 1, 1)),
    (5, (4, 12, 12), (1, 3, 3), (0, 1, 1)),
    (3, (4, 13, 12), (1, 5, 5), (0, 2, 2)),
    (3, (5, 7, 8), (3, 3, 3), (1, 1, 1)),
    (2, (3, 6, 6), (3, 3, 3), (0, 0, 0)),
    (2, (4, 7, 7), (3, 3, 3), (2, 2, 2)),
]


def _pair(channels, kernel, padding):
    torch.manual_seed(0)
    fast = DepthwiseConv3d(channels, kernel, padding).double()
    reference = nn.Conv3d(channels, channels, kernel, 1, padding, groups=channels, bias=False).double()
    reference.load_state_dict(fast.state_dict())
    return fast, reference


@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last_3d])
@pytest.mark.parametrize("channels,size,kernel,padding", CASES)
def test_values_and_gradients_match_conv3d(channels, size, kernel, padding, layout):
    fast, reference = _pair(channels, kernel, padding)
    x = torch.randn(2, channels, *size, dtype=torch.double).to(memory_format=layout)
    x_fast, x_ref = x.clone().requires_grad_(), x.clone().requires_grad_()
    out_fast, out_ref = fast(x_fast), reference(x_ref)
    assert out_fast.grad_fn.name() == "_DepthwiseConv3dFunctionBackward"
    assert torch.equal(out_fast, out_ref)
    grad_out = torch.randn_like(out_ref)
    out_fast.backward(grad_out)
    out_ref.backward(grad_out)
    assert x_fast.grad.shape == x.shape
    torch.testing.assert_close(x_fast.grad, x_ref.grad, rtol=0, atol=1e-12)
    torch.testing.assert_close(fast.weight.grad, reference.weight.grad, rtol=0, atol=1e-12)


def test_gradcheck():
    fast, _ = _pair(2, (3, 3, 3), (1, 1, 1))
    x = torch.randn(1, 2, 3, 5, 6, dtype=torch.double, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda inp, weight: _DepthwiseConv3dFunction.apply(inp, weight, fast.padding),
        (x, fast.weight.detach().clone().requires_grad_()),
    )


@pytest.mark.filterwarnings("ignore:`torch.jit.trace")
def test_aten_path_without_grad_with_bias_or_when_traced():
    fast, reference = _pair(3, (3, 3, 3), (1, 1, 1))
    x = torch.randn(1, 3, 4, 6, 6, dtype=torch.double)
    with torch.no_grad():
        assert torch.equal(fast(x), reference(x))
    fast.bias = nn.Parameter(torch.ones(3, dtype=torch.double))  # what conv-BN folding does
    assert fast(x.requires_grad_()).grad_fn.name() != "_DepthwiseConv3dFunctionBackward"
    fast.bias = None
    traced = torch.jit.trace(fast, x, check_trace=False)
    assert "DepthwiseConv3dFunction" not in str(traced.graph)
    torch.testing.assert_close(traced(x), reference(x))


def test_conv_norm_act_uses_it_for_depthwise_convs_only():
    assert type(ConvNormAct(8, 8, 3, 1, 1, groups=8).conv) is DepthwiseConv3d
    assert type(ConvNormAct(8, 8, 1).conv) is nn.Conv3d
    assert type(ConvNormAct(8, 16, 3, 1, 1, groups=8).conv) is nn.Conv3d
    assert type(ConvNormAct(8, 8, 1, groups=2).conv) is nn.Conv3d
    # Same parameters and keys as the plain conv: checkpoints load either way.
    assert list(ConvNormAct(8, 8, 3, 1, 1, groups=8).state_dict()) == ["conv.weight", "bn.weight", "bn.bias",
                                                                         "bn.running_mean", "bn.running_var",
                                                                         "bn.num_batches_tracked"]


def test_with_aten_depthwise_gives_the_same_model_with_plain_convs():
    torch.manual_seed(0)
    model = nn.Sequential(ConvNormAct(4, 4, 3, 1, 1, groups=4), ConvNormAct(4, 6, 1)).double()
    plain = with_aten_depthwise(model)
    assert type(plain[0].conv) is nn.Conv3d and type(model[0].conv) is DepthwiseConv3d  # a copy
    x = torch.randn(2, 4, 3, 6, 6, dtype=torch.double)
    torch.testing.assert_close(plain(x), model(x), rtol=0, atol=1e-12)
    assert list(plain.state_dict()) == list(model.state_dict())


@pytest.mark.parametrize("stride", [2, (1, 2, 2), (2, 2, 2)])
def test_strided_depthwise_convs_stay_aten_convs(stride):
    block = ConvNormAct(3, 3, 3, stride, 1, groups=3)
    assert type(block.conv) is nn.Conv3d
    x = torch.randn(2, 3, 5, 8, 7, requires_grad=True)
    assert block.conv(x).grad_fn.name() != "_DepthwiseConv3dFunctionBackward"


def test_padding_beyond_the_kernel_is_refused():
    with pytest.raises(ValueError, match="padding"):
        DepthwiseConv3d(3, (1, 3, 3), padding=(1, 1, 1))


def test_cpu_autocast_takes_the_aten_path():
    fast, _ = _pair(3, (3, 3, 3), (1, 1, 1))
    fast = fast.float()
    x = torch.randn(1, 3, 4, 6, 6, requires_grad=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = fast(x)
    assert out.dtype == torch.bfloat16 and out.grad_fn.name() != "_DepthwiseConv3dFunctionBackward"
    out.float().sum().backward()
    assert x.grad.shape == x.shape and fast.weight.grad.dtype == torch.float32
