"""Released Efficient-SlowFast ``.pyth`` layout: recognition, complete mapping of every released
configuration (name manifests, 400 classes) and logit parity with the released code (parity cases,
Jester 27-class heads and the dual-attention R50)."""
import glob
import os

import pytest
import torch

from slowfast.converters import LAYOUT_REGISTRY
from slowfast.converters.efficient_slowfast import efficient_slowfast, family_of
from tests.converters.foreign_weights import CASES_DIR, NAMES_DIR, foreign_state, load_case
from tests.converters.layout_checks import (
    PARITY_TOLERANCE,
    as_opts,
    assert_maps_completely,
    build,
    meta_state,
    parity_error,
)

CONFIGS = os.path.join(os.path.dirname(__file__), "..", "..", "configs", "Kinetics")
PARITY_CASES = sorted(glob.glob(os.path.join(CASES_DIR, "sf_*.json")))
MANIFESTS = sorted(glob.glob(os.path.join(NAMES_DIR, "sf_*.json")))
FAMILIES = {"SlowFastShuffleNet", "SlowFastShuffleNetV2", "SlowFastMoibleNetV2", "SlowFastGhostNet",
            "SlowFastDualAttention"}


def case_model(case, device="cpu"):
    """Our model for a case: our config of the release's file name with the case's overrides;
    the release's ``DATA.CROP_SIZE`` is our train and test crop."""
    opts = []
    for key, value in zip(case["opts"][::2], case["opts"][1::2]):
        keys = ["DATA.TRAIN_CROP_SIZE", "DATA.TEST_CROP_SIZE"] if key == "DATA.CROP_SIZE" else [key]
        for ours in keys:
            opts += [ours, value]
    return build(os.path.join(CONFIGS, case["source"]), opts, device)


def test_cases_and_manifests_present():
    assert {load_case(path)["model"] for path in PARITY_CASES} == FAMILIES
    assert {load_case(path)["model"] for path in MANIFESTS} == FAMILIES
    assert len(MANIFESTS) == 17


@pytest.mark.parametrize("path", PARITY_CASES, ids=os.path.basename)
def test_parity(path):
    case = load_case(path)
    error = parity_error(case, lambda state: efficient_slowfast.convert(state), case_model(case))
    assert error < PARITY_TOLERANCE


def case_options(case):
    """The case's overrides as a dict with our keys."""
    return {key: value for key, value in zip(case["opts"][::2], case["opts"][1::2])}


@pytest.mark.parametrize("path", MANIFESTS + PARITY_CASES, ids=os.path.basename)
def test_manifest_maps_completely(path):
    """Every released configuration: recognised, described (model, classes, width, groups read
    from the tensors agree with the case), and the model that description builds is filled."""
    case = load_case(path)
    state = meta_state(case)
    assert efficient_slowfast.matches(state)
    assert family_of(state) == case["model"]
    described = efficient_slowfast.describe(state)
    given = case_options(case)
    for key, value in described.items():
        if key in given:
            assert float(given[key]) == value, key
    assert set(given) & {"MODEL.NUM_CLASSES", "SLOWFAST.WIDTH_MULTI", "SLOWFAST.GROUPS"} <= set(described)
    model = build(os.path.join(CONFIGS, case["source"]), ["NUM_GPUS", "0"] + as_opts(described), "meta")
    converted = efficient_slowfast.convert(state, model, None)
    assert converted.ignored == []
    assert_maps_completely(converted, model)
    # Every released tensor lands on its own model tensor: a bijection.
    assert len(converted.state) == len(case["manifest"])


def test_registered_and_tolerates_data_parallel_prefix():
    assert LAYOUT_REGISTRY.get("efficient_slowfast") is efficient_slowfast
    state = meta_state(load_case("sf_shufflenet_w1.0_g1_27.json"))
    prefixed = {f"module.{name}": tensor for name, tensor in state.items()}
    assert efficient_slowfast.matches(prefixed)
    assert sorted(efficient_slowfast.convert(prefixed).state) == sorted(efficient_slowfast.convert(state).state)


def test_does_not_claim_other_layouts():
    for path in PARITY_CASES:  # our own names, one model per family
        case = load_case(path)
        assert not efficient_slowfast.matches(case_model(case, device="meta").state_dict()), case["model"]
    for other in ("e3d_shufflenetv2_0.5_27.json", "e3d_mobilenetv2_0.45_27.json", "caffe2_slowfast_8x8_r50_w8_10.json"):
        assert not efficient_slowfast.matches(meta_state(load_case(other)))


def test_fusion_rename_is_structural():
    """The CMDA parts land where our CMDA computes the same thing (not just the same shape)."""
    state = meta_state(load_case("sf_dual_r50_w8_10.json"))
    renamed = efficient_slowfast.convert(state).state
    for ours in ("s3_fuse.f2s_eca.conv.weight", "s3_fuse.f2s_bn.running_var", "s3_fuse.s2f_conv.weight",
                 "s3_fuse.s2f_attention.gamma", "s3_fuse.s2f_attention.value_conv.bias", "s3_fuse.s2f_bn.weight"):
        assert ours in renamed


def test_same_shape_swap_is_caught_by_parity():
    """SF-ShuffleNet (groups 1): a strided unit's ``conv1`` and its 1x1x1 shortcut conv have one
    shape; the module table keeps them apart and parity notices a swap."""
    case = load_case("sf_shufflenet_w1.0_g1_27.json")
    prefix = "s4.pathway0_channel_567.features.0"
    first, second = f"{prefix}.conv1.weight", f"{prefix}.shortcut.0.weight"
    shapes = {name: shape for name, shape, _ in case["manifest"]}
    assert shapes[first] == shapes[second]

    def swapped(state):
        state = dict(state)
        state[first], state[second] = state[second], state[first]
        return efficient_slowfast.convert(state)

    assert parity_error(case, swapped, case_model(case)) > 10 * PARITY_TOLERANCE


def test_unknown_names_are_reported_unused():
    state = foreign_state(load_case("sf_shufflenetv2_w0.5_27.json"))
    state["s2.pathway0_channel_48.features.0.banch2.9.weight"] = torch.zeros(1)
    state["head.extra.weight"] = torch.zeros(1)
    converted = efficient_slowfast.convert(state)
    assert sorted(converted.unused) == ["head.extra.weight", "s2.pathway0_channel_48.features.0.banch2.9.weight"]


def test_describe_a_truncated_file_says_what_it_can():
    state = meta_state(load_case("sf_ghostnet_w1.0_27.json"))
    del state["head.conv_head_slow.weight"]
    assert efficient_slowfast.describe(state) == {"MODEL.MODEL_NAME": "SlowFastGhostNet", "MODEL.NUM_CLASSES": 27}
