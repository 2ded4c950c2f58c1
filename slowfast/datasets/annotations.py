"""Parsers of the annotation formats the datasets read; each returns a list of ``VideoRecord``.

Every problem is reported by file and line (``AnnotationError``) when the dataset is built,
that is before training starts, never halfway through an epoch:

* Kinetics / SlowFast lists: ``path label`` (``DATA.PATH_LABEL_SEPARATOR``), SlowFast's
  three-field ``path num_frames label`` and one-field ``path`` (unlabelled, label 0).
  One list holds one of these formats: a line whose field count differs from the list's first
  line is an error (a one-field line in a labelled list would otherwise train as class 0); an
  all-one-field list is valid, for testing and the demo.
* Jester-v1 official CSVs: ``id;Label Name`` with ``jester-v1-labels.csv`` (one name per line).
* Efficient-SlowFast Jester lists: ``<id> <label>``.
* mmaction2 frame lists: ``frame_dir total_frames label`` and ``frame_dir offset total_frames label``.
* UCF101 / HMDB51 official splits: ``classInd.txt`` (``1 ApplyEyeMakeup``), ``trainlistNN.txt``
  (``Class/v_Class_g08_c01.avi 1``), ``testlistNN.txt`` (``Class/v_Class_g01_c01.avi``).

Labels must lie in ``[0, NUM_CLASSES)``. A list whose labels run 1..K is rejected with a hint to
set ``DATA.ONE_BASED_LABELS True``, which converts them to 0..K-1.
"""
import os
from dataclasses import dataclass, replace
from typing import Callable, Dict, Iterator, List, Optional, Sequence, Tuple

from slowfast.utils.errors import DataError


class AnnotationError(DataError):
    """A malformed annotation line or an unusable annotation file."""


# Optional handler of malformed lines: None raises at the first one (the default), a callable
# receives each error and the line is left out (``tools/validate_data.py`` reports them all).
OnError = Optional[Callable[[AnnotationError], None]]


@dataclass(frozen=True, slots=True)  # slots: a 240k-video list stays small and fast to build
class VideoRecord:
    """One video of an annotation list.

    Attributes:
        path: video file, or frame folder for frame datasets (``DATA.PATH_PREFIX`` applied).
        label: class id (0-based once ``check_labels`` has run).
        source: ``"file:line"`` of the annotation, for error messages.
        num_frames: frame count given by the list (frame lists), else None (the reader counts).
        start_index: index of the first frame file (frame folders with an offset), else None.
    """

    path: str
    label: int
    source: str
    num_frames: Optional[int] = None
    start_index: Optional[int] = None


def find_annotation_file(data_dir: str, candidates: Sequence[str]) -> str:
    """The first of ``candidates`` that exists in ``data_dir``; a clear error otherwise."""
    for name in candidates:
        path = os.path.join(data_dir, name)
        if os.path.isfile(path):
            return path
    tried = ", ".join(os.path.join(data_dir, name) for name in candidates)
    raise FileNotFoundError(f"annotation file not found (DATA.PATH_TO_DATA_DIR='{data_dir}'); looked for: {tried}")


def read_lines(path: str) -> Iterator[Tuple[str, str]]:
    """Yield ``("file:line", stripped text)`` for every non-blank line of ``path``."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"annotation file not found: {path}")
    with open(path, "r", encoding="utf-8-sig") as f:  # -sig: tolerate a BOM from spreadsheet exports
        for line_number, line in enumerate(f, start=1):
            text = line.strip()
            if text:
                yield f"{path}:{line_number}", text


def split_fields(text: str, separator: str) -> List[str]:
    """Split on ``separator``; a whitespace separator accepts any run of spaces/tabs."""
    return text.split() if separator.isspace() else [field.strip() for field in text.split(separator)]


def parse_int(value: str, what: str, source: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise AnnotationError(f"{source}: {what} '{value}' is not an integer") from None


def join_prefix(prefix: str, path: str) -> str:
    """``os.path.join(prefix, path)`` for two parts, 4x faster (it runs once per annotation line)."""
    if not prefix or path.startswith(os.sep):
        return path
    return prefix + path if prefix.endswith(os.sep) else prefix + os.sep + path


def parse_lines(path: str, parse_line: Callable[[str, str], Optional[VideoRecord]],
                on_error: OnError = None) -> List[VideoRecord]:
    """Apply ``parse_line(source, text)`` to every line of ``path`` (a None result skips the line).

    A malformed line raises its ``AnnotationError``, or, when ``on_error`` is given, is passed to
    it and left out, so that a check can report every bad line of a file at once.
    """
    records = []
    for source, text in read_lines(path):
        try:
            record = parse_line(source, text)
        except AnnotationError as error:
            if on_error is None:
                raise
            on_error(error)
            continue
        if record is not None:
            records.append(record)
    return records


class FieldCount:
    """One list, one format: the first well-formed line fixes the field count, and a later line
    with another count raises ``AnnotationError`` naming both lines."""

    def __init__(self, formats: Dict[int, str]):
        self.formats = formats  # field count -> format name, e.g. {2: "path label"}
        self.first: Optional[Tuple[int, str]] = None

    def check(self, fields: Sequence[str], source: str, text: str) -> None:
        count = len(fields)
        if self.first is None:
            self.first = (count, source)
            return
        expected, first_source = self.first
        if count != expected:
            raise AnnotationError(
                f"{source}: {count} field{'s' if count != 1 else ''} ({self.formats[count]}: {text!r}), but the "
                f"list's first line {first_source} has {expected} ({self.formats[expected]}); a list must not mix "
                f"formats"
            )


def parse_path_label_list(path: str, separator: str = " ", prefix: str = "", on_error: OnError = None) -> List[VideoRecord]:
    """Kinetics-style ``path label`` lines (plus SlowFast's 3-field and 1-field variants).

    Every line of the list has the same number of fields (see ``FieldCount``): a one-field line
    in a labelled list is an error, not a video of class 0.
    """
    field_count = FieldCount({1: "path without a label", 2: "path label", 3: "path num_frames label"})

    def parse_line(source: str, text: str) -> VideoRecord:
        fields = split_fields(text, separator)
        if 1 <= len(fields) <= 3:
            field_count.check(fields, source, text)
        if len(fields) == 2:
            video, label = fields
        elif len(fields) == 3:  # SlowFast: path, number of frames (unused), label
            video, _, label = fields
        elif len(fields) == 1:  # unlabelled list (e.g. a test set without labels)
            video, label = fields[0], "0"
        else:
            raise AnnotationError(
                f"{source}: expected 'path{separator}label' (1 to 3 fields separated by "
                f"DATA.PATH_LABEL_SEPARATOR={separator!r}), got {len(fields)} fields: {text!r}"
            )
        return VideoRecord(join_prefix(prefix, video), parse_int(label, "label", source), source)

    return parse_lines(path, parse_line, on_error)


def parse_id_label_list(path: str, separator: str = " ", prefix: str = "",
                        video_path: Callable[[str], str] = lambda vid: vid, on_error: OnError = None) -> List[VideoRecord]:
    """Efficient-SlowFast ``<id> <label>`` lines; ``video_path(id)`` gives the file inside ``prefix``."""

    def parse_line(source: str, text: str) -> VideoRecord:
        fields = split_fields(text, separator)
        if len(fields) != 2:
            raise AnnotationError(f"{source}: expected '<id>{separator}<label>', got {text!r}")
        video_id, label = fields
        return VideoRecord(join_prefix(prefix, video_path(video_id)), parse_int(label, "label", source), source)

    return parse_lines(path, parse_line, on_error)


def parse_label_names(path: str) -> Dict[str, int]:
    """A label map of one class name per line (0-based line number = id) -> {name: id}."""
    names = {}
    for index, (source, name) in enumerate(read_lines(path)):
        if name in names:
            raise AnnotationError(f"{source}: class name '{name}' repeats line {names[name] + 1}")
        names[name] = index
    return names


def parse_jester_csv(path: str, class_ids: Dict[str, int], prefix: str = "",
                     video_path: Callable[[str], str] = lambda vid: vid, on_error: OnError = None) -> List[VideoRecord]:
    """Jester-v1 official ``id;Label Name`` lines, labels looked up in ``class_ids``."""

    def parse_line(source: str, text: str) -> VideoRecord:
        fields = text.split(";")
        if len(fields) != 2 or not fields[0].strip():
            raise AnnotationError(f"{source}: expected 'id;Label Name', got {text!r}")
        video_id, name = fields[0].strip(), fields[1].strip()
        if name not in class_ids:
            raise AnnotationError(f"{source}: label '{name}' is not in the label list ({len(class_ids)} names)")
        return VideoRecord(join_prefix(prefix, video_path(video_id)), class_ids[name], source)

    return parse_lines(path, parse_line, on_error)


def parse_frame_list(path: str, prefix: str = "", start_index: int = 1, on_error: OnError = None) -> List[VideoRecord]:
    """mmaction2 frame lists: ``frame_dir total_frames label`` or ``frame_dir offset total_frames label``.

    With an offset, the clip's first frame file is ``start_index + offset``. (Multi-label lists
    are not supported: a 4-field line is read as the offset variant.) One list uses one of the
    two formats: a line whose field count differs from the first line's is an error.
    """
    field_count = FieldCount({3: "frame_dir total_frames label", 4: "frame_dir offset total_frames label"})

    def parse_line(source: str, text: str) -> VideoRecord:
        fields = text.split()
        if len(fields) in (3, 4):
            field_count.check(fields, source, text)
        if len(fields) == 3:
            frame_dir, total, label = fields
            offset = "0"
        elif len(fields) == 4:
            frame_dir, offset, total, label = fields
        else:
            raise AnnotationError(
                f"{source}: expected 'frame_dir total_frames label' or 'frame_dir offset total_frames label', got {text!r}"
            )
        num_frames = parse_int(total, "total_frames", source)
        if num_frames < 1:
            raise AnnotationError(f"{source}: total_frames must be positive, got {num_frames}")
        return VideoRecord(join_prefix(prefix, frame_dir), parse_int(label, "label", source), source,
                           num_frames=num_frames, start_index=start_index + parse_int(offset, "offset", source))

    return parse_lines(path, parse_line, on_error)


def parse_class_index(path: str) -> Tuple[Dict[str, int], int]:
    """UCF101/HMDB51 ``classInd.txt`` (``1 ApplyEyeMakeup``) -> ({class name: 0-based id}, base).

    The official files count from 1 (base 1); a file counting from 0 is accepted (base 0).
    """
    entries = []
    for source, text in read_lines(path):
        fields = text.split()
        if len(fields) != 2:
            raise AnnotationError(f"{source}: expected '<id> <ClassName>', got {text!r}")
        entries.append((parse_int(fields[0], "class id", source), fields[1], source))
    if not entries:
        raise AnnotationError(f"{path}: no classes")
    base = min(class_id for class_id, _, _ in entries)
    if base not in (0, 1):
        raise AnnotationError(f"{path}: class ids must start at 1 (or 0), the smallest is {base}")
    class_ids = {}
    for class_id, name, source in entries:
        if name in class_ids:
            raise AnnotationError(f"{source}: class '{name}' listed twice")
        class_ids[name] = class_id - base
    return class_ids, base


def parse_ucf_split(path: str, class_ids: Dict[str, int], class_base: int, prefix: str = "",
                    on_error: OnError = None) -> List[VideoRecord]:
    """``trainlistNN.txt`` / ``testlistNN.txt`` lines; the class is the video's folder.

    A label column, when present, must agree with the folder's id in ``classInd.txt``.
    """

    def parse_line(source: str, text: str) -> VideoRecord:
        fields = text.split()
        if len(fields) not in (1, 2):
            raise AnnotationError(f"{source}: expected 'Class/video.avi [label]', got {text!r}")
        video = fields[0].replace("\\", "/")
        class_name = video.split("/")[0]
        if "/" not in video or class_name not in class_ids:
            raise AnnotationError(f"{source}: '{fields[0]}' does not start with a class folder listed in classInd.txt")
        label = class_ids[class_name]
        if len(fields) == 2 and parse_int(fields[1], "label", source) - class_base != label:
            raise AnnotationError(
                f"{source}: label {fields[1]} disagrees with classInd.txt, which gives '{class_name}' "
                f"id {label + class_base}"
            )
        return VideoRecord(join_prefix(prefix, video), label, source)

    return parse_lines(path, parse_line, on_error)


def check_labels(records: List[VideoRecord], num_classes: int, one_based: bool, path: str,
                 on_error: OnError = None) -> List[VideoRecord]:
    """Convert 1-based labels when ``one_based``, then require every label in ``[0, num_classes)``.

    Raises ``AnnotationError`` naming the file and line of the first bad label (with
    ``on_error``: reports each one and leaves those records out). A list whose labels look
    1-based (no 0, some label == NUM_CLASSES) gets the hint to set ONE_BASED_LABELS.
    """
    if not records:
        return _report(AnnotationError(f"{path}: the annotation list is empty (no usable lines)"), on_error, [])
    labels = [record.label for record in records]
    looks_one_based = not one_based and min(labels) >= 1 and max(labels) == num_classes
    checked = []
    for record in records:
        label = record.label - 1 if one_based else record.label
        if one_based and label < 0:
            message = (f"{record.source}: label {record.label} in a list read as 1-based (DATA.ONE_BASED_LABELS True); "
                       "set DATA.ONE_BASED_LABELS False if the labels start at 0")
        elif not 0 <= label < num_classes:
            message = f"{record.source}: label {record.label} is out of range [0, {num_classes})"
            message += (f": the labels of {path} run 1..{num_classes}, a 1-based list; set DATA.ONE_BASED_LABELS True "
                        "to convert them" if looks_one_based else " (MODEL.NUM_CLASSES)")
        else:
            checked.append(replace(record, label=label) if one_based else record)
            continue
        _report(AnnotationError(message), on_error, None)
    return checked


def _report(error: AnnotationError, on_error: OnError, result):
    """Raise ``error``, or hand it to ``on_error`` and return ``result``."""
    if on_error is None:
        raise error
    on_error(error)
    return result


def parse_hmdb_official_splits(data_dir: str, split_id: int, usage: int, prefix: str = "",
                               on_error: OnError = None) -> List[VideoRecord]:
    """HMDB51's own split files ``<action>_test_split<K>.txt`` (lines ``video.avi 1``).

    The mark is 1 for training, 2 for testing and 0 for unused; classes are the actions in
    alphabetical order (0-based), videos live in ``prefix/<action>/<video>``.
    """
    suffix = f"_test_split{split_id}.txt"
    files = sorted(name for name in os.listdir(data_dir) if name.endswith(suffix)) if os.path.isdir(data_dir) else []
    if not files:
        raise FileNotFoundError(f"no HMDB51 split files '*{suffix}' in DATA.PATH_TO_DATA_DIR='{data_dir}'")
    records = []
    for label, name in enumerate(files):
        action = name[: -len(suffix)]

        def parse_line(source: str, text: str, action=action, label=label) -> Optional[VideoRecord]:
            fields = text.split()
            if len(fields) != 2 or fields[1] not in ("0", "1", "2"):
                raise AnnotationError(f"{source}: expected '<video>.avi <0|1|2>', got {text!r}")
            if int(fields[1]) != usage:
                return None
            return VideoRecord(join_prefix(prefix, os.path.join(action, fields[0])), label, source)

        records.extend(parse_lines(os.path.join(data_dir, name), parse_line, on_error))
    return records
