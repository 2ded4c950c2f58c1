"""Rebuild the weights and inputs of a foreign-checkpoint parity case (tests/data/foreign_checkpoints).

The recipe is the one in ``tests/data/foreign_checkpoints/README.md``: every tensor is drawn from a
generator seeded with ``zlib.crc32`` of its own name, so a case needs no stored weights.
"""
import json
import os
import zlib
from math import prod
from typing import Dict, List

import torch

CASES_DIR = os.path.join(os.path.dirname(os.path.dirname(__file__)), "data", "foreign_checkpoints")
NAMES_DIR = os.path.join(CASES_DIR, "names")


def load_case(file_name: str) -> Dict:
    """A parity case (``*.json`` in ``CASES_DIR``) or a name manifest (``names/*.json``)."""
    path = file_name if os.path.isabs(file_name) else os.path.join(CASES_DIR, file_name)
    with open(path) as case_file:
        return json.load(case_file)


def _dtype(name: str) -> torch.dtype:
    return getattr(torch, name.split(".")[-1])


def foreign_tensor(name: str, shape: List[int], dtype: str) -> torch.Tensor:
    """The tensor the recipe gives ``name`` (generator seeded with the name's CRC-32)."""
    dtype = _dtype(dtype)
    if not dtype.is_floating_point:
        return torch.zeros(shape, dtype=dtype)
    generator = torch.Generator().manual_seed(zlib.crc32(name.encode()))
    last = name.split(".")[-1]
    if last == "running_mean" or last == "bias":
        value = torch.randn(shape, generator=generator) * 0.1
    elif last == "running_var":
        value = torch.rand(shape, generator=generator) * 0.5 + 0.75
    elif last == "gamma":
        value = torch.rand(shape, generator=generator) * 0.5 + 0.5
    elif len(shape) <= 1:
        value = torch.rand(shape, generator=generator) * 0.5 + 0.75
    else:
        fan_in = prod(shape[1:])
        value = torch.randn(shape, generator=generator) * (1.0 / fan_in) ** 0.5
    return value.to(dtype)


def foreign_state(case: Dict) -> Dict[str, torch.Tensor]:
    """Every tensor of the case's manifest, in manifest order, under the foreign names."""
    return {name: foreign_tensor(name, shape, dtype) for name, shape, dtype in case["manifest"]}


def case_inputs(case: Dict) -> List[torch.Tensor]:
    """The parity inputs: one ``(1, 3, T, H, W)`` tensor per pathway (slow first)."""
    generator = torch.Generator().manual_seed(case["input_seed"])
    return [torch.randn(shape, generator=generator) for shape in case["input_shapes"]]


def relative_error(ours: torch.Tensor, reference) -> float:
    """``max|ours - ref| / max(1, max|ref|)``, the README's parity measure."""
    reference = torch.as_tensor(reference, dtype=torch.float64).reshape(ours.shape)
    ours = ours.detach().double()
    return float((ours - reference).abs().max() / max(1.0, float(reference.abs().max())))
