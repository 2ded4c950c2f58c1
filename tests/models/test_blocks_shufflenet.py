"""ShuffleNet blocks: channel shuffle, the V1 unit (both shortcut kinds) and the V2 unit."""
import pytest
import torch

from slowfast.models.blocks.shufflenet import (
    ShuffleNetUnit,
    ShuffleNetV2Unit,
    channel_shuffle,
    concat_shuffle,
    round_to_groups,
    shortcut_avg_pool,
    shufflenet_stage,
    shufflenetv2_stage,
)


def _channel_ids(num_channels):
    """(1, C, 1, 2, 2) tensor whose channel c holds the value c everywhere."""
    return torch.arange(num_channels, dtype=torch.float32).view(1, -1, 1, 1, 1).expand(1, num_channels, 1, 2, 2)


@pytest.mark.parametrize(
    "groups, expected",
    [(1, [0, 1, 2, 3, 4, 5]), (2, [0, 3, 1, 4, 2, 5]), (3, [0, 2, 4, 1, 3, 5])],
)
def test_channel_shuffle_interleaves_groups(groups, expected):
    out = channel_shuffle(_channel_ids(6).contiguous(), groups)
    assert out[0, :, 0, 0, 0].tolist() == expected


def test_channel_shuffle_accepts_channels_last_inputs_and_keeps_their_layout():
    x = torch.randn(2, 6, 3, 4, 5)
    out = channel_shuffle(x.to(memory_format=torch.channels_last_3d), 3)
    assert torch.equal(out, channel_shuffle(x, 3))
    assert out.is_contiguous(memory_format=torch.channels_last_3d)


@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last_3d])
def test_concat_shuffle_is_shuffle_of_concat_in_the_input_layout(layout):
    whole = torch.randn(2, 8, 3, 4, 5).contiguous(memory_format=layout)
    first, second = whole[:, :4], torch.randn(2, 4, 3, 4, 5).contiguous(memory_format=layout)
    out = concat_shuffle(first, second)
    assert torch.equal(out, channel_shuffle(torch.cat([first, second], dim=1).contiguous(), 2))
    assert out.is_contiguous(memory_format=layout)


@pytest.mark.parametrize("stride", [(1, 2, 2), (2, 2, 2)])
def test_shortcut_pool_gives_the_same_values_channels_last(stride):
    """Channels-last inputs take a depthwise-convolution kernel: same values (to rounding), same
    layout out, same module names (pad, pool) as the plain pad + AvgPool3d."""
    pool = shortcut_avg_pool(stride)
    assert [name for name, _ in pool.named_children()] == ["pad", "pool"]
    for shape in [(2, 6, 4, 8, 8), (2, 6, 4, 7, 9), (2, 6, 2, 2, 2)]:
        x = torch.randn(*shape)
        out = pool(x.contiguous(memory_format=torch.channels_last_3d))
        torch.testing.assert_close(out, pool(x), rtol=0, atol=1e-6)
        assert out.is_contiguous(memory_format=torch.channels_last_3d)


@pytest.mark.parametrize("stride", [(1, 2, 2), (2, 2, 2)])
def test_stem_max_pool_is_exact_channels_last(stride):
    from slowfast.models.blocks.mobilenet import StemMaxPool3d

    pool = StemMaxPool3d(kernel_size=3, stride=stride, padding=1)
    for shape in [(2, 3, 5, 9, 8), (2, 6, 4, 2, 2), (2, 5, 1, 1, 2)]:
        x = torch.randn(*shape)
        out = pool(x.contiguous(memory_format=torch.channels_last_3d))
        assert torch.equal(out, torch.nn.functional.max_pool3d(x, 3, stride, 1))
        assert out.is_contiguous(memory_format=torch.channels_last_3d)
        trained = x.contiguous(memory_format=torch.channels_last_3d).requires_grad_(True)
        pool(trained).sum().backward()  # the training path is differentiable
        assert trained.grad.shape == x.shape


def test_channel_shuffle_rejects_indivisible_width():
    with pytest.raises(ValueError, match="7 channels do not split into 3 groups"):
        channel_shuffle(torch.zeros(1, 7, 1, 1, 1), 3)


@pytest.mark.parametrize("value, groups, expected", [(7, 3, 6), (11, 3, 12), (22, 3, 21), (1, 3, 3), (30, 1, 30)])
def test_round_to_groups(value, groups, expected):
    assert round_to_groups(value, groups) == expected


def test_v1_stride1_unit_adds_the_residual():
    unit = ShuffleNetUnit(12, 12, mid_channels=3, groups=3).eval()
    x = torch.randn(2, 12, 2, 4, 4)
    # With the last norm zeroed the main branch outputs 0: the unit is relu(x).
    torch.nn.init.zeros_(unit.conv3.bn.weight)
    torch.testing.assert_close(unit(x), torch.relu(x))
    assert unit.conv1.conv.groups == 3 and unit.conv2.conv.groups == 3 and unit.conv3.conv.groups == 3


def test_v1_pool_shortcut_strides_time_and_concatenates_the_input():
    unit = ShuffleNetUnit(24, 240, mid_channels=60, groups=3, stride=2, first_groups=1).eval()
    x = torch.randn(1, 24, 4, 8, 8)
    out = unit(x)
    assert out.shape == (1, 240, 2, 4, 4)
    assert unit.conv3.conv.out_channels == 240 - 24
    assert unit.conv1.conv.groups == 1
    # The last 24 channels are relu(avgpool(x)).
    pooled = torch.nn.functional.avg_pool3d(x, (2, 3, 3), (2, 2, 2), (0, 1, 1))
    torch.testing.assert_close(out[:, 216:], torch.relu(pooled))


def test_v1_conv_pool_shortcut_keeps_time():
    unit = ShuffleNetUnit(27, 240, mid_channels=120, groups=3, stride=(1, 2, 2), shortcut="conv_pool",
                          split_channels=120)
    out = unit(torch.randn(2, 27, 4, 8, 8))
    assert out.shape == (2, 240, 4, 4, 4)
    assert unit.shortcut.conv.out_channels == 120 and unit.conv3.conv.out_channels == 120


def test_v1_rejects_unknown_shortcut_and_bad_widths():
    with pytest.raises(ValueError, match="unknown ShuffleNet shortcut 'max'"):
        ShuffleNetUnit(8, 16, 4, 1, stride=2, shortcut="max")
    with pytest.raises(ValueError, match="dim_in == dim_out"):
        ShuffleNetUnit(8, 16, 4, 1)


def test_v1_stage_rounds_fast_widths_to_the_groups():
    # SF-ShuffleNet W1.5 g3 fast pathway: out 45 -> split 21 (not 22), stride-1 mid 12 (not 11).
    units = shufflenet_stage(8, 45, 4, groups=3, stride=(1, 2, 2), shortcut="conv_pool", first_groups=1)
    assert [type(u).__name__ for u in units] == ["ShuffleNetUnit"] * 4
    assert units[0].shortcut.conv.out_channels == 21 and units[0].conv3.conv.out_channels == 24
    assert units[1].conv2.conv.out_channels == 12
    x = torch.randn(1, 8, 2, 8, 8)
    for unit in units:
        x = unit(x)
    assert x.shape == (1, 45, 2, 4, 4)


def test_v2_strided_unit_takes_odd_fused_widths():
    unit = ShuffleNetV2Unit(27, 116, stride=(1, 2, 2))
    assert unit(torch.randn(2, 27, 4, 8, 8)).shape == (2, 116, 4, 4, 4)
    assert unit.branch1.depthwise.conv.groups == 27 and unit.branch2.depthwise.conv.groups == 58


def test_v2_stride1_unit_passes_the_first_half_through_shuffled():
    unit = ShuffleNetV2Unit(8, 8).eval()
    x = torch.randn(1, 8, 2, 4, 4)
    out = unit(x)
    # After the shuffle with 2 groups the untouched half sits at the even channels.
    torch.testing.assert_close(out[:, 0::2], x[:, :4])
    assert unit.branch2.expand.conv.in_channels == 4


def test_v2_stage_shapes_and_channels_last():
    units = torch.nn.Sequential(*shufflenetv2_stage(24, 116, 4, stride=2)).eval()
    x = torch.randn(2, 24, 4, 8, 8)
    out = units(x)
    assert out.shape == (2, 116, 2, 4, 4)
    out_cl = units(x.to(memory_format=torch.channels_last_3d))
    torch.testing.assert_close(out_cl, out, rtol=1e-4, atol=1e-5)


def test_v2_rejects_odd_output_width():
    with pytest.raises(ValueError, match="even output width"):
        ShuffleNetV2Unit(8, 7, stride=2)
