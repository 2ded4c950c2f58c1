"""build_model: registry lookup, device placement and memory format."""
import os

import pytest
import torch

from slowfast.config.loader import load_config
from slowfast.models.build import build_model, get_device, memory_format

TINY = os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "configs", "Synthetic", "SLOWFAST_R50_tiny.yaml"
)


def test_unknown_model_name_lists_the_registered_ones():
    cfg = load_config(None, TINY, opts=["MODEL.MODEL_NAME", "NoSuchNet"])
    with pytest.raises(KeyError, match="NoSuchNet.*SlowFastShuffleNetV2"):
        build_model(cfg)


def test_gpus_without_cuda_is_a_clear_error():
    if torch.cuda.is_available():
        pytest.skip("CUDA is present")
    cfg = load_config(None, TINY, opts=["NUM_GPUS", "1"])
    with pytest.raises(RuntimeError, match="NUM_GPUS is 1 but CUDA is not available"):
        get_device(cfg)


def test_channels_last_model_agrees_with_contiguous_logits():
    """channels_last_3d runs other convolution kernels (other summation orders): the logits agree
    to rtol 1e-4 / atol 1e-5, not bit for bit."""
    torch.manual_seed(0)
    contiguous = build_model(load_config(None, TINY, opts=["MODEL.CHANNELS_LAST", "False"])).eval()
    channels_last = build_model(load_config(None, TINY, opts=["MODEL.CHANNELS_LAST", "True"])).eval()
    channels_last.load_state_dict(contiguous.state_dict())
    conv = channels_last.s1.pathway0_stem.conv.weight
    assert conv.is_contiguous(memory_format=torch.channels_last_3d) and not conv.is_contiguous()
    assert memory_format(load_config(None, TINY)) == torch.channels_last_3d
    inputs = [torch.randn(2, 3, 4, 32, 32), torch.randn(2, 3, 16, 32, 32)]
    with torch.no_grad():
        expected = contiguous(inputs)
        actual = channels_last([x.contiguous(memory_format=torch.channels_last_3d) for x in inputs])
    torch.testing.assert_close(actual, expected, rtol=1e-4, atol=1e-5)
