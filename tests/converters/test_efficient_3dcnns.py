"""Efficient-3DCNNs ``.pth`` layout: recognition, complete mapping of every released configuration
(name manifests) and logit parity with the foreign code (parity cases)."""
import glob
import os

import pytest
import torch

from slowfast.converters import LAYOUT_REGISTRY
from slowfast.converters.efficient_3dcnns import efficient_3dcnns, family_of
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
# Efficient-3DCNNs module -> our config of that family (width and groups come from the case).
FAMILY_CONFIG = {
    "models.shufflenet": "SHUFFLENET_3D_W1.0.yaml",
    "models.shufflenetv2": "SHUFFLENETV2_3D_W1.0.yaml",
    "models.mobilenet": "MOBILENET_3D_W1.0.yaml",
    "models.mobilenetv2": "MOBILENETV2_3D_W1.0.yaml",
}
# ``get_model`` keyword -> our key (``sample_size`` is the crop, both train and test).
OPTION_KEYS = {
    "width_mult": ["SLOWFAST.WIDTH_MULTI"],
    "groups": ["SLOWFAST.GROUPS"],
    "num_classes": ["MODEL.NUM_CLASSES"],
    "sample_size": ["DATA.TRAIN_CROP_SIZE", "DATA.TEST_CROP_SIZE"],
}
PARITY_CASES = sorted(glob.glob(os.path.join(CASES_DIR, "e3d_*.json")))
MANIFESTS = sorted(glob.glob(os.path.join(NAMES_DIR, "e3d_*.json")))


def case_model(case, device="cpu"):
    """Our model for a case: the family's config with the case's ``name=value`` options."""
    opts = ["NUM_GPUS", "0"]
    for option in case["opts"]:
        key, value = option.split("=")
        for ours in OPTION_KEYS[key]:
            opts += [ours, value]
    return build(os.path.join(CONFIGS, FAMILY_CONFIG[case["model"]]), opts, device)


def test_cases_and_manifests_present():
    families = {load_case(path)["model"] for path in PARITY_CASES}
    assert families == set(FAMILY_CONFIG)
    assert len(MANIFESTS) == 21


@pytest.mark.parametrize("path", PARITY_CASES, ids=os.path.basename)
def test_parity(path):
    case = load_case(path)
    error = parity_error(case, lambda state: efficient_3dcnns.convert(state), case_model(case))
    assert error < PARITY_TOLERANCE


@pytest.mark.parametrize("path", MANIFESTS + PARITY_CASES, ids=os.path.basename)
def test_manifest_maps_completely(path):
    """Every released configuration: recognised, described (model, classes, width, groups read
    from the tensors agree with the case), and the model that description builds is filled."""
    case = load_case(path)
    state = {f"module.{name}": tensor for name, tensor in meta_state(case).items()}  # as the .pth holds them
    assert efficient_3dcnns.matches(state)
    described = efficient_3dcnns.describe(state)
    for option in case["opts"]:
        key, value = option.split("=")
        if key != "sample_size":
            assert described[OPTION_KEYS[key][0]] == float(value), key
    config = os.path.join(CONFIGS, FAMILY_CONFIG[case["model"]])
    model = build(config, ["NUM_GPUS", "0"] + as_opts(described), "meta")
    assert type(model).__name__ == described["MODEL.MODEL_NAME"]
    converted = efficient_3dcnns.convert(state, model, None)
    assert converted.ignored == []
    assert_maps_completely(converted, model)
    # Every weight is used exactly once: the mapping is a bijection onto the model's tensors.
    assert len(converted.state) == len(case["manifest"])


def test_registered_and_recognised_by_names_only():
    assert LAYOUT_REGISTRY.get("efficient_3dcnns") is efficient_3dcnns
    expected = {"models.shufflenet": "shufflenet", "models.shufflenetv2": "shufflenetv2",
                "models.mobilenet": "mobilenet", "models.mobilenetv2": "mobilenetv2"}
    for path in MANIFESTS:
        case = load_case(path)
        assert family_of(meta_state(case)) == expected[case["model"]]


def test_does_not_claim_other_layouts():
    ours = case_model(load_case(MANIFESTS[0]), device="meta").state_dict()
    assert not efficient_3dcnns.matches(ours)
    for other in ("sf_shufflenetv2_w0.5_27.json", "sf_dual_r50_w8_10.json", "caffe2_slowfast_8x8_r50_w8_10.json"):
        assert not efficient_3dcnns.matches(meta_state(load_case(other)))


def test_same_shape_swap_is_caught_by_parity():
    """ShuffleNetV2's two pointwise convs of a stride-1 unit have one shape: only the module
    structure tells them apart, and parity notices a swap."""
    case = load_case("e3d_shufflenetv2_0.5_27.json")
    first, last = "features.15.banch2.0.weight", "features.15.banch2.5.weight"  # the last unit
    shapes = {name: shape for name, shape, _ in case["manifest"]}
    assert shapes[first] == shapes[last]

    def swapped(state):
        state = dict(state)
        state[first], state[last] = state[last], state[first]
        return efficient_3dcnns.convert(state)

    assert parity_error(case, swapped, case_model(case)) > 100 * PARITY_TOLERANCE


def test_unknown_names_are_reported_unused():
    case = load_case("e3d_mobilenet_0.5_27.json")
    state = foreign_state(case)
    state["features.99.conv1.weight"] = torch.zeros(1)
    state["classifier.2.weight"] = torch.zeros(1)
    converted = efficient_3dcnns.convert(state)
    assert sorted(converted.unused) == ["classifier.2.weight", "features.99.conv1.weight"]
