"""Declarative renaming of foreign module paths, shared by the efficient-model layouts.

A foreign tensor name is ``<module path>.<leaf>`` (``leaf``: ``weight``, ``bias``,
``running_mean``, ``running_var``, ``num_batches_tracked``, or a bare parameter such as DANet's
``gamma``). A layout renames the *module path* only, with a :class:`RuleTable`: an ordered list of
``(regex, target)`` rules, the first whose regex matches the whole path wins. ``target`` is a
``re`` template (``r"s\\g<stage>.pathway\\g<p>_stem.conv"``) or a function of the match (for rules
that need arithmetic, such as a flat ``features.N`` index split into stages). Leaves are kept, so
one rule covers a conv's weight or a norm's weight, bias and running statistics alike.

Nothing here depends on tensor order or values: the same rules rename every width of a family.
"""
import re
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple, Union

import torch

from slowfast.converters import Converted

Target = Union[str, Callable[[re.Match], Optional[str]]]


class RuleTable:
    """Ordered ``(regex, target)`` rules over module paths; ``rename(path)`` -> our path or None.

    Args:
        rules: ``(pattern, target)`` pairs; ``pattern`` must match the whole module path; ``target``
            is a template for ``Match.expand`` or a function ``match -> path or None``.
    """

    def __init__(self, rules: Iterable[Tuple[str, Target]]):
        self.rules = [(re.compile(pattern), target) for pattern, target in rules]

    def rename(self, path: str) -> Optional[str]:
        for pattern, target in self.rules:
            match = pattern.fullmatch(path)
            if match is not None:
                return target(match) if callable(target) else match.expand(target)
        return None


def sub_table(table: Dict[str, str], path: str) -> Optional[str]:
    """``table[path]``, or for a path under a table key (``key.rest``) ``table[key] + ".rest"``.

    Block-internal tables are literal (one entry per foreign submodule); the prefix form lets one
    entry rename a whole submodule whose children keep their names (DANet's query/key/value convs).
    """
    if path in table:
        return table[path]
    head, dot, rest = path.partition(".")
    while dot:
        if head in table:
            return f"{table[head]}.{rest}"
        more, dot, rest = rest.partition(".")
        head = f"{head}.{more}"
    return None


def flat_index(counts: Sequence[int]) -> List[Tuple[int, int]]:
    """``(stage, block)`` of every position of a flat ``nn.Sequential`` built from stages of
    ``counts`` blocks: ``flat_index([2, 1]) == [(0, 0), (0, 1), (1, 0)]``."""
    return [(stage, block) for stage, count in enumerate(counts) for block in range(count)]


def rename_state(state: Dict[str, torch.Tensor], rename: Callable[[str], Optional[str]]) -> Converted:
    """Apply ``rename`` to the module path of every tensor of ``state`` (leaves kept).

    Names ``rename`` has no rule for are reported as ``unused``. Two foreign tensors landing on one
    of our names would mean a wrong rule, so that raises instead of silently keeping one.
    """
    converted = Converted()
    origin: Dict[str, str] = {}
    for name, tensor in state.items():
        module, _, leaf = name.rpartition(".")
        target = rename(module) if module else None
        if target is None:
            converted.unused.append(name)
            continue
        ours = f"{target}.{leaf}"
        if ours in origin:
            raise ValueError(f"'{origin[ours]}' and '{name}' both map to '{ours}': a renaming rule is wrong")
        origin[ours] = name
        converted.state[ours] = tensor
    return converted


def convert_by_family(state: Dict[str, torch.Tensor], family_of: Callable[[Dict], Optional[str]],
                      tables: Dict[str, "RuleTable"], layout: str) -> Converted:
    """Rename ``state`` with the rule table of the model family ``family_of`` recognises in it
    (the layouts made of several model families share this); ``layout`` names it in the error."""
    return rename_state(state, tables[require_family(state, family_of, layout)].rename)


def require_family(state: Dict, family_of: Callable[[Dict], Optional[str]], layout: str) -> str:
    """The family ``family_of`` recognises in ``state``; ValueError naming ``layout`` when none."""
    family = family_of(state)
    if family is None:
        raise ValueError(f"not a {layout} state dict")
    return family
