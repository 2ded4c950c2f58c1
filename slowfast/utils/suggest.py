"""Near matches for a mistyped name ("did you mean ...?"): config keys, config files, checkpoints.

Shared by the config loader, the validation and the checkpoint reader so every typo is answered
the same way (``difflib``'s ratio, the same cut-off everywhere).
"""
import difflib
import os
from typing import Iterable, List, Optional, Sequence

# Below this similarity ratio a "match" is noise; 0.6 is difflib's default and keeps
# SOLVER.MAX_EPOCHS -> SOLVER.MAX_EPOCH while refusing unrelated keys.
CUTOFF = 0.6
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# Folders whose YAML files a --cfg may name.
CONFIG_FOLDERS = ("configs", "demo")


def nearest(name: str, candidates: Iterable[str], n: int = 3) -> List[str]:
    """Up to ``n`` candidates closest to ``name`` (best first; case-insensitive)."""
    by_lower = {}
    for candidate in candidates:
        by_lower.setdefault(candidate.lower(), candidate)
    return [by_lower[m] for m in difflib.get_close_matches(name.lower(), list(by_lower), n=n, cutoff=CUTOFF)]


def did_you_mean(name: str, candidates: Iterable[str], n: int = 3) -> Optional[str]:
    """``"did you mean A (or B, C)?"`` for the nearest candidates, or None when nothing is close."""
    matches = nearest(name, candidates, n)
    if not matches:
        return None
    others = f" (or {', '.join(matches[1:])})" if len(matches) > 1 else ""
    return f"did you mean {matches[0]}{others}?"


def config_files(root: str = REPO_ROOT, folders: Sequence[str] = CONFIG_FOLDERS) -> List[str]:
    """Every ``*.yaml`` under ``root/<folder>`` as a path relative to ``root``, sorted."""
    found = []
    for folder in folders:
        for dirpath, _, filenames in os.walk(os.path.join(root, folder)):
            found += [os.path.relpath(os.path.join(dirpath, f), root) for f in filenames if f.endswith(".yaml")]
    return sorted(found)


def nearest_config_file(path: str, root: str = REPO_ROOT) -> Optional[str]:
    """The shipped config whose file name is closest to ``path``'s, or None; as a path that works
    from the current directory (relative inside the checkout, absolute outside it)."""
    files = config_files(root)
    by_name = {}
    for relative in files:
        by_name.setdefault(os.path.basename(relative), relative)
    matches = nearest(os.path.basename(path), by_name, n=1)
    if not matches:
        return None
    # Prefer the same dataset folder when the name exists in several (Kinetics and Jester).
    same_folder = os.path.join(os.path.basename(os.path.dirname(os.path.abspath(path))), matches[0])
    found = os.path.join(root, next((f for f in files if f.endswith(os.sep + same_folder)), by_name[matches[0]]))
    relative = os.path.relpath(found)
    return found if relative.startswith(os.pardir) else relative


def files_in(folder: str, suffixes: Sequence[str]) -> List[str]:
    """Names of the files in ``folder`` ending in one of ``suffixes`` (sorted; [] if no folder)."""
    if not os.path.isdir(folder):
        return []
    return sorted(f for f in os.listdir(folder) if f.endswith(tuple(suffixes)))


CHECKPOINT_SUFFIXES = (".pyth", ".pth", ".pt", ".pkl", ".ckpt")


def missing_checkpoint(path: str, key: str = "") -> "CheckpointNotFoundError":
    """The error for a checkpoint file that does not exist: the checkpoints that do exist in its
    folder (nearest name first), else where trained checkpoints are written."""
    from slowfast.utils.errors import CheckpointNotFoundError

    folder = os.path.dirname(path) or "."
    existing = files_in(folder, CHECKPOINT_SUFFIXES)
    subject = f"{key}: checkpoint not found: {path}" if key else f"checkpoint not found: {path}"
    if existing:
        ordered = nearest(os.path.basename(path), existing, n=1)
        ordered += [name for name in reversed(existing) if name not in ordered]  # newest epoch first
        return CheckpointNotFoundError(subject, f"{len(existing)} checkpoint(s) in {folder}; did you mean {os.path.join(folder, ordered[0])}?",
                               [os.path.join(folder, name) for name in ordered])
    return CheckpointNotFoundError(subject, f"no checkpoints in {folder}; training writes them to OUTPUT_DIR/checkpoints/")
