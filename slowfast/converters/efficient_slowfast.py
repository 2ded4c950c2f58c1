"""Released Efficient-SlowFast ``.pyth`` (weidafeng/Efficient-SlowFast) -> our two-pathway models.

The release is a PySlowFast fork; its ``model_state`` names follow its own module tree, which
differs from ours in four places, each renamed by a rule of this file:

* **Stages** ``s{k}.pathway{p}_channel_{C}.features.{i}.<block module>`` (``C``: the stage's output
  width, so names differ per width; ``features.i``: the i-th block of that pathway)
  -> ``s{k}.pathway{p}_{unit|block}{i}.<our block module>`` through the family's block table
  (ShuffleNet, ShuffleNetV2 and MobileNetV2 blocks are Efficient-3DCNNs' modules, tables imported
  from ``efficient_3dcnns.py``; GhostNet's bottleneck table is below). Stage names ``s{k}`` are the
  same on both sides, including MobileNetV2's ``s2, s4..s8`` and GhostNet's ``s0`` stem.
* **Stems** ``s{0|1}.pathway{p}_stem.{0,1}`` (``Sequential(conv, bn, relu[, pool])``; MobileNetV2:
  ``.features.{0,1}``) -> ``.conv`` / ``.bn``. The dual-attention R50 stems already match.
* **Fusions** ``s{k}_fuse`` (``FuseFastAndSlow``, the CMDA of every family) -> our ``CMDA``
  children: ``attention_channel_f2s`` -> ``f2s_eca``, ``bn_f2s`` -> ``f2s_bn``,
  ``downsample_c_of_slow`` -> ``s2f_conv``, ``attention_spatial_s2f`` -> ``s2f_attention``,
  ``bn_s2f`` -> ``s2f_bn``.
* **Heads** ``head.classifier.1`` -> ``head.projection`` (same Linear shape); the per-pathway convs
  ``head.pathway{p}_conv1x1x1`` (ShuffleNetV2, MobileNetV2) and GhostNet's
  ``head.stage5_conv_{slow,fast}`` -> ``head.pathway{p}_conv``; GhostNet's
  ``head.conv_head_{slow,fast}`` -> ``head.pathway{p}_conv_head.0``.

The dual-attention ResNet-50 (``SlowFastDualAttention``) keeps public SlowFast's ResNet names
(ours too); only its fusions are renamed.

``describe(state)`` reads the configuration a file needs from its names and shapes (our model name,
classes, width, groups; depth and width per group for the R50), e.g. ``{"MODEL.MODEL_NAME":
"SlowFastShuffleNetV2", "MODEL.NUM_CLASSES": 400, "SLOWFAST.WIDTH_MULTI": 1.0}``.
"""
import re
from typing import Dict, Optional

from slowfast.converters import LAYOUT_REGISTRY, Converted, strip_data_parallel
from slowfast.converters.efficient_3dcnns import (
    CONV_BN,
    MOBILENETV2_EXPANDS,
    SHUFFLENET_UNIT,
    SHUFFLENETV2_UNIT,
    mobilenetv2_block,
)
from slowfast.converters.name_rules import RuleTable, convert_by_family, require_family, sub_table
from slowfast.models.efficient_slowfast import SHUFFLENET_WIDTHS, SHUFFLENETV2_WIDTHS
from slowfast.models.resnet_slowfast import STAGE_DEPTHS

# The release's ``FuseFastAndSlow`` children -> our ``CMDA`` children (DANet's query/key/value
# convs and ``gamma`` keep their names under the renamed attention module).
CMDA = {
    "attention_channel_f2s": "f2s_eca",
    "bn_f2s": "f2s_bn",
    "downsample_c_of_slow": "s2f_conv",
    "attention_spatial_s2f": "s2f_attention",
    "bn_s2f": "s2f_bn",
}

# GhostNet ``GhostBottleneck``: each ``GhostModule`` holds ``primary_conv`` and ``cheap_operation``
# as ``Sequential(conv, bn, act)``; the strided block's ``conv_dw``/``bn_dw`` pair is our
# ``depthwise``; the projection shortcut is ``Sequential(dw conv, bn, 1x1x1 conv, bn)``; the SE
# module's ``conv_reduce``/``conv_expand`` keep their names.
GHOST_BOTTLENECK = {
    **{
        f"{ghost}.{part}.{index}": f"{ghost}.{part}.{ours}"
        for ghost in ("ghost1", "ghost2")
        for part in ("primary_conv", "cheap_operation")
        for index, ours in CONV_BN.items()
    },
    "conv_dw": "depthwise.conv",
    "bn_dw": "depthwise.bn",
    "se": "se",
    "shortcut.0": "shortcut.depthwise.conv",
    "shortcut.1": "shortcut.depthwise.bn",
    "shortcut.2": "shortcut.pointwise.conv",
    "shortcut.3": "shortcut.pointwise.bn",
}

PATHWAY = {"slow": "0", "fast": "1"}
# GhostNet's head ``ConvBnAct`` (``conv``, ``bn1``, ``act1``) -> our ConvNormAct.
CONV_BN_ACT = {"conv": "conv", "bn1": "bn"}


def _fuse(match: re.Match) -> Optional[str]:
    inner = sub_table(CMDA, match.group("inner"))
    return f"{match.group('fuse')}.{inner}" if inner else None


def _table_block(table: Dict[str, str]):
    """Block rename through a literal table (ShuffleNet, ShuffleNetV2, GhostNet)."""
    return lambda stage, index, inner: sub_table(table, inner)


def _mobilenetv2_block(stage: str, index: int, inner: str) -> Optional[str]:
    expands = MOBILENETV2_EXPANDS.get(stage)
    if expands is None or index >= len(expands):
        return None
    return mobilenetv2_block(inner, expands[index])


def _stage_rule(prefix: str, block):
    """``s{k}.pathway{p}_channel_{C}.features.{i}.<inner>`` -> ``s{k}.pathway{p}_{prefix}{i}.<block(inner)>``."""

    def target(match: re.Match) -> Optional[str]:
        stage, index = match.group("stage"), int(match.group("i"))
        inner = block(stage, index, match.group("inner"))
        return f"{stage}.pathway{match.group('p')}_{prefix}{index}.{inner}" if inner else None

    return r"(?P<stage>s\d+)\.pathway(?P<p>[01])_channel_\d+\.features\.(?P<i>\d+)\.(?P<inner>.+)", target


def _stem_rule(inner_pattern: str):
    """``s{0|1}.pathway{p}_stem.<inner>`` -> ``.conv``/``.bn``; ``inner_pattern`` has a group ``i``
    capturing the Sequential index (0 conv, 1 bn)."""
    return (
        rf"(?P<stage>s[01])\.pathway(?P<p>[01])_stem\.{inner_pattern}",
        lambda m: f"{m.group('stage')}.pathway{m.group('p')}_stem.{CONV_BN[m.group('i')]}",
    )


FUSE = (r"(?P<fuse>s\d+_fuse)\.(?P<inner>.+)", _fuse)
CLASSIFIER = (r"head\.classifier\.1", "head.projection")
STEM = _stem_rule(r"(?P<i>[01])")

# The rules of each released model, by its registered name.
FAMILIES = {
    "SlowFastShuffleNetV2": RuleTable([
        STEM, FUSE, _stage_rule("unit", _table_block(SHUFFLENETV2_UNIT)),
        # ``pathway{p}_conv1x1x1`` wraps its Sequential(conv, bn, relu) in one more Sequential.
        (r"head\.pathway(?P<p>[01])_conv1x1x1\.0\.(?P<i>[01])",
         lambda m: f"head.pathway{m.group('p')}_conv.{CONV_BN[m.group('i')]}"),
        CLASSIFIER,
    ]),
    "SlowFastShuffleNet": RuleTable([
        STEM, FUSE, _stage_rule("unit", _table_block(SHUFFLENET_UNIT)), CLASSIFIER,
    ]),
    "SlowFastMoibleNetV2": RuleTable([
        _stem_rule(r"features\.(?P<i>[01])"), FUSE, _stage_rule("block", _mobilenetv2_block),
        (r"head\.pathway(?P<p>[01])_conv1x1x1\.(?P<i>[01])",
         lambda m: f"head.pathway{m.group('p')}_conv.{CONV_BN[m.group('i')]}"),
        CLASSIFIER,
    ]),
    "SlowFastGhostNet": RuleTable([
        STEM, FUSE, _stage_rule("block", _table_block(GHOST_BOTTLENECK)),
        (r"head\.stage5_conv_(?P<path>slow|fast)\.(?P<m>conv|bn1)",
         lambda m: f"head.pathway{PATHWAY[m.group('path')]}_conv.{CONV_BN_ACT[m.group('m')]}"),
        (r"head\.conv_head_(?P<path>slow|fast)", lambda m: f"head.pathway{PATHWAY[m.group('path')]}_conv_head.0"),
        CLASSIFIER,
    ]),
    "SlowFastDualAttention": RuleTable([
        FUSE,
        # Public SlowFast's ResNet names, the same as ours.
        (r"s\d\.pathway[01]_(stem|res\d+)(\..+)?", r"\g<0>"),
        (r"head\.projection", "head.projection"),
    ]),
}

# A name only that family writes (the first match wins; ``_channel_`` and ``attention_channel_f2s``
# never occur in our, public SlowFast's or Caffe2 names).
FAMILY_MARKERS = (
    ("SlowFastShuffleNetV2", r"s2\.pathway0_channel_\d+\.features\.0\.banch1\.0\.weight"),
    ("SlowFastShuffleNet", r"s2\.pathway0_channel_\d+\.features\.0\.conv1\.weight"),
    ("SlowFastMoibleNetV2", r"s2\.pathway0_channel_\d+\.features\.0\.conv\.0\.weight"),
    ("SlowFastGhostNet", r"s1\.pathway0_channel_\d+\.features\.0\.ghost1\.primary_conv\.0\.weight"),
    ("SlowFastDualAttention", r"s1_fuse\.attention_channel_f2s\.conv\.weight"),
)


def _slow_stage_width(state, stage: str) -> int:
    """``C`` of the slow pathway's ``{stage}.pathway0_channel_{C}`` names (its output width)."""
    pattern = re.compile(rf"{stage}\.pathway0_channel_(\d+)\.")
    return next(int(match.group(1)) for match in map(pattern.match, state) if match)


def _shufflenet_options(state) -> Dict[str, object]:
    width = _slow_stage_width(state, "s2")
    # A stride-1 unit's grouped conv1 sees width / groups input channels per group.
    groups = width // state[f"s2.pathway0_channel_{width}.features.1.conv1.weight"].shape[1]
    return {"SLOWFAST.WIDTH_MULTI": round(width / SHUFFLENET_WIDTHS[groups][0], 4), "SLOWFAST.GROUPS": groups}


def _shufflenetv2_options(state) -> Dict[str, object]:
    width = _slow_stage_width(state, "s2")
    return {"SLOWFAST.WIDTH_MULTI": next(w for w, row in SHUFFLENETV2_WIDTHS.items() if row[1] == width)}


def _dual_options(state) -> Dict[str, object]:
    blocks = {match.group(1) for match in map(re.compile(r"s4\.pathway0_res(\d+)\.").match, state) if match}
    depth = next(depth for depth, stages in STAGE_DEPTHS.items() if stages[2] == len(blocks))
    return {"RESNET.DEPTH": depth, "RESNET.WIDTH_PER_GROUP": state["s1.pathway0_stem.conv.weight"].shape[0]}


# The configuration keys a released file's tensors determine, per family: widths read from shapes
# that scale exactly with the width (MobileNetV2's 320-wide last block, GhostNet's 1280-wide head).
OPTIONS = {
    "SlowFastShuffleNetV2": _shufflenetv2_options,
    "SlowFastShuffleNet": _shufflenet_options,
    "SlowFastMoibleNetV2": lambda state: {
        "SLOWFAST.WIDTH_MULTI": round(state["head.pathway0_conv1x1x1.0.weight"].shape[1] / 320, 4)},
    "SlowFastGhostNet": lambda state: {
        "SLOWFAST.WIDTH_MULTI": round(state["head.conv_head_slow.weight"].shape[0] / 1280, 4)},
    "SlowFastDualAttention": _dual_options,
}
# Our registered name of each released model (the release misspells MobileNetV2).
MODEL_NAMES = {family: family for family in OPTIONS}
MODEL_NAMES["SlowFastMoibleNetV2"] = "SlowFastMobileNetV2"


def family_of(state) -> Optional[str]:
    """The released model that wrote ``state`` (its registered name; names only), or None."""
    names = list(strip_data_parallel(state))
    for family, marker in FAMILY_MARKERS:
        pattern = re.compile(marker)
        if any(pattern.fullmatch(name) for name in names):
            return family
    return None


LAYOUT = "released Efficient-SlowFast model_state"


@LAYOUT_REGISTRY.register()
class efficient_slowfast:  # noqa: N801  (registered under its CHECKPOINT_TYPE name)
    """Released Efficient-SlowFast ``model_state``: SF-ShuffleNet, SF-ShuffleNetV2,
    SF-MobileNetV2, SF-GhostNet and the dual-attention SlowFast R50, every width and groups."""

    @staticmethod
    def matches(state) -> bool:
        return family_of(state) is not None

    @staticmethod
    def convert(state, model=None, cfg=None) -> Converted:
        """Rename ``state`` (released names) to ours; ``model``/``cfg`` are not needed (the family
        is read from the names; the caller checks the result against the model)."""
        state = strip_data_parallel(state)
        return convert_by_family(state, family_of, FAMILIES, LAYOUT)

    @staticmethod
    def describe(state) -> Dict[str, object]:
        """The config overrides that build the model ``state`` fits: ``MODEL.MODEL_NAME``,
        ``MODEL.NUM_CLASSES`` and the family's width keys (``SLOWFAST.WIDTH_MULTI``,
        ``SLOWFAST.GROUPS``; ``RESNET.DEPTH``, ``RESNET.WIDTH_PER_GROUP``), read from names and shapes.
        A truncated file yields what its tensors still tell (error messages use this)."""
        state = strip_data_parallel(state)
        family = require_family(state, family_of, LAYOUT)
        head = "head.projection.weight" if family == "SlowFastDualAttention" else "head.classifier.1.weight"
        options = {"MODEL.MODEL_NAME": MODEL_NAMES[family]}
        if head in state:
            options["MODEL.NUM_CLASSES"] = state[head].shape[0]
        try:
            options.update(OPTIONS[family](state))
        except (KeyError, StopIteration):
            pass
        return options
