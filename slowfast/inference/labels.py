"""Class-name files shared by the demo, Grad-CAM and TensorBoard.

Two formats are accepted (``DEMO.LABEL_FILE_PATH``, ``TENSORBOARD.CLASS_NAMES_PATH``):

* one name per line, the 0-based line number is the class id (``label_map_k400.txt``,
  ``jester-v1-labels.csv``);
* an ``id,name`` CSV, e.g. ``0,abseiling`` (ids 0-based, any order, no gaps).

The format is chosen from the first non-empty line: ``<integer>,<text>`` means CSV.

Without a file, :func:`class_names_of` asks the training dataset for its own names (the synthetic
dataset's ``classes.txt``), so the demo, Grad-CAM and TensorBoard show names rather than numbers
wherever the dataset has them.
"""
import re
from typing import List, Optional

from slowfast.utils.errors import DataError

_CSV_LINE = re.compile(r"^\s*(\d+)\s*,\s*(.*?)\s*$")


def load_class_names(path: str, num_classes: Optional[int] = None) -> List[str]:
    """Read class names from ``path``; index ``i`` of the result is the name of class ``i``.

    Args:
        path: label file in one of the two formats above.
        num_classes: when given, the file must name exactly this many classes.
    Raises:
        FileNotFoundError, or DataError (a ValueError) naming the file and line of a malformed entry.
    """
    with open(path, encoding="utf-8-sig") as f:
        lines = [(number, line.strip()) for number, line in enumerate(f, start=1)]
    lines = [(number, line) for number, line in lines if line]
    if not lines:
        raise DataError(f"{path}: label file is empty")
    if _CSV_LINE.match(lines[0][1]):
        names = _parse_id_name_csv(path, lines)
    else:
        names = [line for _, line in lines]
    if num_classes is not None and len(names) != num_classes:
        raise DataError(
            f"{path}: names {len(names)} classes but MODEL.NUM_CLASSES is {num_classes}"
        )
    return names


def _parse_id_name_csv(path: str, lines) -> List[str]:
    """Parse ``id,name`` lines into a dense 0-based list of names."""
    by_id = {}
    for number, line in lines:
        match = _CSV_LINE.match(line)
        if match is None:
            raise DataError(f"{path}:{number}: expected 'id,name' like the first line, got {line!r}")
        class_id, name = int(match.group(1)), match.group(2)
        if class_id in by_id:
            raise DataError(f"{path}:{number}: class id {class_id} appears twice")
        by_id[class_id] = name
    missing = sorted(set(range(len(by_id))) - set(by_id))
    if missing:
        raise DataError(
            f"{path}: class ids must run 0..{len(by_id) - 1} without gaps; missing {missing[:10]}"
        )
    return [by_id[i] for i in range(len(by_id))]


def class_names_of(cfg, label_file: str = "") -> Optional[List[str]]:
    """The class names for a model config: ``label_file`` when given, else the names the training
    dataset (``TRAIN.DATASET``) knows by itself when it names exactly MODEL.NUM_CLASSES classes,
    else None (ids are shown)."""
    if label_file:
        return load_class_names(label_file, cfg.MODEL.NUM_CLASSES)
    from slowfast.datasets.build import get_dataset_class  # lazy: inference does not need the datasets

    try:
        dataset_class = get_dataset_class(cfg.TRAIN.DATASET)
    except KeyError:
        return None
    names_of = getattr(dataset_class, "class_names", None)
    names = names_of(cfg) if names_of is not None else None
    return list(names) if names and len(names) == cfg.MODEL.NUM_CLASSES else None


def class_name(names: Optional[List[str]], class_id: int) -> str:
    """The name of ``class_id``, or its number when no names are known."""
    if names is not None and 0 <= class_id < len(names):
        return names[class_id]
    return str(class_id)
