"""``caffe2``: the SlowFast model zoo's Caffe2 ``.pkl`` files (``{"blobs": {blob name: array}}``).

Blob names encode stage, block, branch and pathway (a ``t_`` prefix = the fast pathway, ``t`` for
the time-strided stream of the original Caffe2 code). The declared table below renames them to this
framework's SlowFast/ResNet modules; a blob no rule covers is reported as unused, and the caller
checks every shape. Each row: (regex over the blob name, our name template).

    conv1_w                               s1.pathway0_stem.conv.weight
    res_conv1_bn_{s,b,rm,riv}             s1.pathway0_stem.bn.{weight,bias,running_mean,running_var}
    t_pool1_subsample_w / _bn_*           s1_fuse.conv_f2s.weight / s1_fuse.bn.*
    t_res{S}_{B}_branch2c_bn_subsample_w  s{S}_fuse.conv_f2s.weight  (the fast->slow lateral after stage S)
    res{S}_{B}_branch1_w / _bn_*          s{S}.pathway0_res{B}.branch1.weight / .branch1_bn.*
    res{S}_{B}_branch2{a,b,c}_w / _bn_*   s{S}.pathway0_res{B}.branch2.{a,b,c}.weight / .{a,b,c}_bn.*
    pred_w / pred_b                       head.projection.weight / .bias

``riv`` is stored as the running variance (SlowFast's own loader copies it unchanged). A blob of
fewer dimensions than our tensor (a 1x1 fully-connected layer stored 2-D where we use a 3-D
convolution) is padded with trailing 1s, as SlowFast's loader does. Training state the files carry
(``*_momentum``, ``lr``, ``model_iter``) is reported as ignored.
"""
import re
from typing import Dict, Optional

import torch

from slowfast.converters import LAYOUT_REGISTRY, Converted

_BN_LEAVES = {"s": "weight", "b": "bias", "rm": "running_mean", "riv": "running_var"}
_PARAM_LEAVES = {"w": "weight", "b": "bias"}
_TRAINING_STATE = re.compile(r"(.*_momentum|lr|model_iter)")

# (blob regex without the trailing leaf, our module template); ``p`` is the pathway, from ``t_``.
_MODULE_RULES = [
    (r"(?P<t>t_)?res_conv1_bn", "s1.pathway{p}_stem.bn"),
    (r"(?P<t>t_)?conv1", "s1.pathway{p}_stem.conv"),
    (r"t_pool1_subsample_bn", "s1_fuse.bn"),
    (r"t_pool1_subsample", "s1_fuse.conv_f2s"),
    (r"t_res(?P<s>\d+)_\d+_branch2c_bn_subsample_bn", "s{s}_fuse.bn"),
    (r"t_res(?P<s>\d+)_\d+_branch2c_bn_subsample", "s{s}_fuse.conv_f2s"),
    (r"(?P<t>t_)?res(?P<s>\d+)_(?P<b>\d+)_branch1_bn", "s{s}.pathway{p}_res{b}.branch1_bn"),
    (r"(?P<t>t_)?res(?P<s>\d+)_(?P<b>\d+)_branch1", "s{s}.pathway{p}_res{b}.branch1"),
    (r"(?P<t>t_)?res(?P<s>\d+)_(?P<b>\d+)_branch2(?P<c>[abc])_bn", "s{s}.pathway{p}_res{b}.branch2.{c}_bn"),
    (r"(?P<t>t_)?res(?P<s>\d+)_(?P<b>\d+)_branch2(?P<c>[abc])", "s{s}.pathway{p}_res{b}.branch2.{c}"),
    (r"pred", "head.projection"),
]
_COMPILED = [(re.compile(pattern), template) for pattern, template in _MODULE_RULES]


def blob_to_name(blob: str) -> Optional[str]:
    """Our tensor name for a Caffe2 blob name, or None when no rule covers it."""
    module, _, leaf = blob.rpartition("_")
    if not module:
        return None
    is_bn = module.endswith("_bn") or module.endswith("bn_subsample_bn")
    leaves = _BN_LEAVES if is_bn else _PARAM_LEAVES
    if leaf not in leaves:
        return None
    for pattern, template in _COMPILED:
        match = pattern.fullmatch(module)
        if match is not None:
            groups = match.groupdict()
            fields = {key: value for key, value in groups.items() if key != "t" and value is not None}
            return template.format(p=1 if groups.get("t") else 0, **fields) + "." + leaves[leaf]
    return None


@LAYOUT_REGISTRY.register()
class Caffe2Layout:
    """Blob names of the SlowFast model zoo's Caffe2 checkpoints (SlowFast, Slow, C2D, I3D ResNets)."""

    NAME = "caffe2"

    @staticmethod
    def matches(state: Dict[str, torch.Tensor]) -> bool:
        # Blob names have no dots; the stem or the classifier is always there.
        return bool(state) and all("." not in name for name in state) and (
            "conv1_w" in state or "pred_w" in state
        )

    @staticmethod
    def convert(state: Dict[str, torch.Tensor], model, cfg) -> Converted:
        converted = Converted()
        ours = model.state_dict() if model is not None else {}
        for blob, value in state.items():
            if _TRAINING_STATE.fullmatch(blob):
                converted.ignored.append(blob)
                continue
            name = blob_to_name(blob)
            if name is None:
                converted.unused.append(blob)
                continue
            target = ours.get(name)
            if target is not None and value.dim() < target.dim():
                value = value.reshape(tuple(value.shape) + (1,) * (target.dim() - value.dim()))
            converted.state[name] = value
        return converted
