"""Efficient-3DCNNs ``.pth`` (okankop/Efficient-3DCNNs) -> the single-stream models of ``single_stream.py``.

The files are ``{"epoch", "arch", "state_dict": {"module." + name: tensor}, "optimizer"}``; the
loader hands the ``state_dict`` here (``module.`` prefix tolerated). Four families, every width and
groups, any number of classes, are renamed by module-structure rules:

=================  ===============================  ==============================================
foreign model      foreign modules                  ours (``ShuffleNet3D`` ... ``MobileNetV23D``)
=================  ===============================  ==============================================
every family       ``conv1`` / ``features.0``       ``s1.pathway0_stem`` (``[conv, bn, relu]``)
                   ``classifier.1`` (Linear)        ``head.projection`` (Linear, same shape)
shufflenet         ``layer{L}.{i}`` Bottleneck      ``s{L+1}.pathway0_unit{i}`` (SHUFFLENET_UNIT)
shufflenetv2       ``features.{n}`` (flat, 4+8+4)   ``s{2..4}.pathway0_unit{i}`` (SHUFFLENETV2_UNIT)
                   ``conv_last``                    ``head.pathway0_conv``
mobilenet          ``features.{n}`` (flat, n >= 1)  ``s{2..6}.pathway0_block{i}`` (MOBILENET_BLOCK)
mobilenetv2        ``features.{n}`` (flat, n >= 1)  ``s2, s4..s8 .pathway0_block{i}`` (conv.{3k+j})
                   ``features.{last}``              ``head.pathway0_conv``
=================  ===============================  ==============================================

The block tables below are also the ones the released Efficient-SlowFast uses: its ShuffleNet,
ShuffleNetV2 and MobileNetV2 blocks are these modules (``efficient_slowfast.py`` imports them).

``describe(state)`` reads the configuration a file needs from its names and shapes, e.g.
``{"MODEL.MODEL_NAME": "ShuffleNet3D", "MODEL.NUM_CLASSES": 600, "SLOWFAST.WIDTH_MULTI": 2.0,
"SLOWFAST.GROUPS": 3}``.
"""
import re
from typing import Dict, Optional

from slowfast.converters import LAYOUT_REGISTRY, Converted, strip_data_parallel
from slowfast.converters.name_rules import RuleTable, convert_by_family, flat_index, require_family, sub_table
from slowfast.models.efficient_slowfast import MOBILENETV2_STAGES, SHUFFLENET_STAGE_UNITS, SHUFFLENET_WIDTHS
from slowfast.models.single_stream import MOBILENET_ROWS, SHUFFLENETV2_3D_WIDTHS

# ``nn.Sequential(conv, bn, act)`` (stems, ``conv_last``, MobileNetV2's last 1x1x1) -> ConvNormAct.
CONV_BN = {"0": "conv", "1": "bn"}

# ShuffleNet (V1) ``Bottleneck`` (grouped 1x1 conv1 -> shuffle -> depthwise conv2 -> grouped 1x1
# conv3) -> ShuffleNetUnit. ``shortcut.0`` exists in the release only (its strided shortcut is a
# 1x1x1 conv then a pool; here it is a bare pool). conv1 and shortcut.0 of the release have the same
# shape, so the table (not shapes) keeps them apart.
SHUFFLENET_UNIT = {
    "conv1": "conv1.conv",
    "bn1": "conv1.bn",
    "conv2": "conv2.conv",
    "bn2": "conv2.bn",
    "conv3": "conv3.conv",
    "bn3": "conv3.bn",
    "shortcut.0": "shortcut.conv",
}

# ShuffleNetV2 ``InvertedResidual``: ``banch1 = [dw conv, bn, pw conv, bn, relu]`` (strided units)
# and ``banch2 = [pw conv, bn, relu, dw conv, bn, pw conv, bn, relu]``. banch2's two pointwise
# convs have the same shape in stride-1 units: the first (index 0) is our ``expand``, the last
# (index 5) our ``project``.
SHUFFLENETV2_UNIT = {
    "banch1.0": "branch1.depthwise.conv",
    "banch1.1": "branch1.depthwise.bn",
    "banch1.2": "branch1.pointwise.conv",
    "banch1.3": "branch1.pointwise.bn",
    "banch2.0": "branch2.expand.conv",
    "banch2.1": "branch2.expand.bn",
    "banch2.3": "branch2.depthwise.conv",
    "banch2.4": "branch2.depthwise.bn",
    "banch2.5": "branch2.project.conv",
    "banch2.6": "branch2.project.bn",
}

# MobileNet (V1) ``Block``: depthwise conv1/bn1, pointwise conv2/bn2 -> DepthwiseSeparable.
MOBILENET_BLOCK = {"conv1": "depthwise.conv", "bn1": "depthwise.bn", "conv2": "pointwise.conv", "bn2": "pointwise.bn"}


def mobilenetv2_block(path: str, expands: bool) -> Optional[str]:
    """MobileNetV2 ``InvertedResidual.conv`` (a flat Sequential of ``[conv, bn, relu6]`` triples,
    the last without relu6) -> ``conv.{expand, depthwise, project}.{conv, bn}``.

    ``conv.{3k}`` is the k-th conv and ``conv.{3k+1}`` its norm; the layers are ``expand,
    depthwise, project``, or ``depthwise, project`` for the expansion-1 block (no expand conv).
    """
    match = re.fullmatch(r"conv\.(\d+)", path)
    if match is None:
        return None
    k, j = divmod(int(match.group(1)), 3)
    layers = ("expand", "depthwise", "project") if expands else ("depthwise", "project")
    if k >= len(layers) or j > 1:
        return None
    return f"conv.{layers[k]}.{CONV_BN[str(j)]}"


# Per stage of our MobileNetV2 (s2, s4..s8; rows (t, c, n, strided)): whether each inverted
# residual has an expansion conv (t != 1; only the network's first block has none).
MOBILENETV2_EXPANDS = {
    name: [t != 1 for t, _, n, _ in rows for _ in range(n)] for name, rows, _ in MOBILENETV2_STAGES
}
# The same blocks in the order of the foreign flat ``features`` index: (stage, block, expands).
MOBILENETV2_BLOCKS = [
    (name, i, expands) for name, flags in MOBILENETV2_EXPANDS.items() for i, expands in enumerate(flags)
]


def _mobilenetv2_features(match: re.Match) -> Optional[str]:
    """3D-MobileNetV2 ``features.{n}``: 0 the stem, 1..17 the inverted residuals, 18 the last 1x1x1."""
    n, inner = int(match.group("n")), match.group("inner")
    if n == 0:
        return _stem(inner)
    if n <= len(MOBILENETV2_BLOCKS):
        stage, block, expands = MOBILENETV2_BLOCKS[n - 1]
        target = mobilenetv2_block(inner, expands)
        return f"{stage}.pathway0_block{block}.{target}" if target else None
    if n == len(MOBILENETV2_BLOCKS) + 1 and inner in CONV_BN:
        return f"head.pathway0_conv.{CONV_BN[inner]}"
    return None


def _stem(inner: str) -> Optional[str]:
    return f"s1.pathway0_stem.{CONV_BN[inner]}" if inner in CONV_BN else None


def _staged(counts, first_stage: int, prefix: str, table: Dict[str, str], offset: int = 0):
    """A rule target for a flat ``features.{n}`` index over stages of ``counts`` blocks named
    ``s{first_stage}``, ``s{first_stage + 1}``, ...; ``offset`` blocks (a stem) come first."""
    positions = flat_index(counts)

    def target(match: re.Match) -> Optional[str]:
        n, inner = int(match.group("n")) - offset, sub_table(table, match.group("inner"))
        if not 0 <= n < len(positions) or inner is None:
            return None
        stage, block = positions[n]
        return f"s{first_stage + stage}.pathway0_{prefix}{block}.{inner}"

    return target


def _shufflenet_layer(match: re.Match) -> Optional[str]:
    """3D-ShuffleNet ``layer{L}.{i}`` (L = 1..3) is our stage ``s{L+1}``, unit i."""
    inner = sub_table(SHUFFLENET_UNIT, match.group("inner"))
    return f"s{int(match.group('n')) + 1}.pathway0_unit{match.group('b')}.{inner}" if inner else None


STEM = (r"conv1\.(?P<i>[01])", lambda m: _stem(m.group("i")))
CLASSIFIER = (r"classifier\.1", "head.projection")

# The rules of each foreign model, keyed by Efficient-3DCNNs' module name (``models.<name>``).
FAMILIES = {
    "shufflenet": RuleTable([
        STEM,
        (r"layer(?P<n>[123])\.(?P<b>\d+)\.(?P<inner>.+)", _shufflenet_layer),
        CLASSIFIER,
    ]),
    "shufflenetv2": RuleTable([
        STEM,
        (r"features\.(?P<n>\d+)\.(?P<inner>.+)", _staged(SHUFFLENET_STAGE_UNITS, 2, "unit", SHUFFLENETV2_UNIT)),
        (r"conv_last\.(?P<i>[01])", lambda m: f"head.pathway0_conv.{CONV_BN[m.group('i')]}"),
        CLASSIFIER,
    ]),
    "mobilenet": RuleTable([
        (r"features\.0\.(?P<i>[01])", lambda m: _stem(m.group("i"))),
        (r"features\.(?P<n>\d+)\.(?P<inner>.+)",
         _staged([n for _, n, _ in MOBILENET_ROWS], 2, "block", MOBILENET_BLOCK, offset=1)),
        CLASSIFIER,
    ]),
    "mobilenetv2": RuleTable([
        (r"features\.(?P<n>\d+)\.(?P<inner>.+)", _mobilenetv2_features),
        CLASSIFIER,
    ]),
}

# One name each family always writes and no other does (checked in this order).
FAMILY_MARKERS = (
    ("shufflenet", "layer1.0.conv1.weight"),
    ("shufflenetv2", "features.0.banch2.0.weight"),
    ("mobilenet", "features.1.conv1.weight"),
    ("mobilenetv2", "features.1.conv.0.weight"),
)


def _shufflenet_options(state) -> Dict[str, object]:
    width = state["layer1.1.bn3.weight"].shape[0]  # a stride-1 unit outputs the stage width
    # Its grouped conv1 sees width / groups input channels per group.
    groups = width // state["layer1.1.conv1.weight"].shape[1]
    return {"SLOWFAST.WIDTH_MULTI": round(width / SHUFFLENET_WIDTHS[groups][0], 4), "SLOWFAST.GROUPS": groups}


def _shufflenetv2_options(state) -> Dict[str, object]:
    width = 2 * state["features.1.banch2.0.weight"].shape[1]  # a stride-1 unit transforms half its input
    return {"SLOWFAST.WIDTH_MULTI": next(w for w, row in SHUFFLENETV2_3D_WIDTHS.items() if row[1] == width)}


# Our model and the configuration keys a file's tensors determine, per family (widths read from
# shapes that scale exactly: MobileNet's 1024-wide classifier input, MobileNetV2's 320-wide last block).
OPTIONS = {
    "shufflenet": ("ShuffleNet3D", _shufflenet_options),
    "shufflenetv2": ("ShuffleNetV23D", _shufflenetv2_options),
    "mobilenet": ("MobileNet3D", lambda state: {
        "SLOWFAST.WIDTH_MULTI": round(state["classifier.1.weight"].shape[1] / 1024, 4)}),
    "mobilenetv2": ("MobileNetV23D", lambda state: {
        "SLOWFAST.WIDTH_MULTI": round(state[f"features.{len(MOBILENETV2_BLOCKS) + 1}.0.weight"].shape[1] / 320, 4)}),
}


def family_of(state) -> Optional[str]:
    """The Efficient-3DCNNs model that wrote ``state`` (names only), or None."""
    names = set(strip_data_parallel(state))
    if "classifier.1.weight" not in names:
        return None
    return next((family for family, marker in FAMILY_MARKERS if marker in names), None)


LAYOUT = "Efficient-3DCNNs ShuffleNet/ShuffleNetV2/MobileNet/MobileNetV2"


@LAYOUT_REGISTRY.register()
class efficient_3dcnns:  # noqa: N801  (registered under its CHECKPOINT_TYPE name)
    """Efficient-3DCNNs ShuffleNet, ShuffleNetV2, MobileNet and MobileNetV2 ``.pth`` state dicts."""

    @staticmethod
    def matches(state) -> bool:
        return family_of(state) is not None

    @staticmethod
    def convert(state, model=None, cfg=None) -> Converted:
        """Rename ``state`` (foreign names) to ours; ``model``/``cfg`` are not needed (the rules
        follow the foreign module structure; the caller checks the result against the model)."""
        state = strip_data_parallel(state)
        return convert_by_family(state, family_of, FAMILIES, LAYOUT)

    @staticmethod
    def describe(state) -> Dict[str, object]:
        """The config overrides that build the model ``state`` fits (``MODEL.MODEL_NAME``,
        ``MODEL.NUM_CLASSES``, ``SLOWFAST.WIDTH_MULTI``, ShuffleNet's ``SLOWFAST.GROUPS``), read
        from names and shapes. A truncated file yields what its tensors still tell."""
        state = strip_data_parallel(state)
        model_name, options = OPTIONS[require_family(state, family_of, LAYOUT)]
        described = {"MODEL.MODEL_NAME": model_name, "MODEL.NUM_CLASSES": state["classifier.1.weight"].shape[0]}
        try:
            described.update(options(state))
        except (KeyError, StopIteration):
            pass
        return described
