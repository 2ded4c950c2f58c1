"""Parsers of the AVA (v2.1 / v2.2) and Charades annotation formats, as SlowFast users keep them.

Every malformed line raises :class:`AnnotationError` naming ``file:line`` (before training starts):

* frame lists (AVA ``frame_lists/{train,val}.csv`` and Charades ``{train,val}.csv``): a header
  ``original_vido_id video_idx frame_idx path labels`` (Charades: ``... video_id frame_id ...``),
  then one space-separated line per frame; ``labels`` is ``""`` or comma-separated integers
  (``"1,4,7"``, quotes optional) - :func:`parse_frame_lists`;
* box CSVs (``ava_{train,val}_v2.2.csv``: ``video_id, timestamp, x1, y1, x2, y2, action_id,
  person_id``; predicted boxes ``ava_{train,val}_predicted_boxes.csv`` /
  ``person_box_67091280_iou90`` files: ``..., action_id (may be empty), score``; boxes normalised to
  [0, 1]) - :func:`parse_box_csv`;
* the label map pbtxt (``item { name: "..." id: N }`` or v2.1's ``label { name: "..." label_id: N
  label_type: ... }``) - :func:`parse_label_map`;
* the excluded timestamps file (``video_id,timestamp``) - :func:`parse_exclusions`.

Keys of keyframes are ``"video_id,%04d" % timestamp``, as in the official evaluation code.
"""
import csv
import os
import re
from dataclasses import dataclass, field
from typing import Dict, List, NamedTuple, Optional, Sequence, Set, Tuple

from slowfast.datasets.annotations import AnnotationError, read_lines

__all__ = [
    "AnnotationError", "BoxRow", "FrameListVideo", "frame_key", "parse_box_csv", "parse_exclusions",
    "parse_frame_lists", "parse_label_map", "parse_labels_field",
]


def frame_key(video_id: str, timestamp: int) -> str:
    """The official key of a keyframe: ``"video_id,%04d" % timestamp``."""
    return "%s,%04d" % (video_id, int(timestamp))


# ---------------------------------------------------------------------------------------------
# Frame lists
# ---------------------------------------------------------------------------------------------
_NUMBERED_FILE = re.compile(r"^(.*?)(\d+)(\.[A-Za-z0-9]+)$")


@dataclass
class FrameListVideo:
    """One video of a frame list.

    Attributes:
        video_id: the ``original_vido_id`` column.
        folder: directory of the frames (``prefix`` joined with the listed paths' folder).
        frame_template: ``str.format`` template of a frame file name (``<id>_{:06d}.jpg``).
        start_index: number of the first listed frame file.
        frame_labels: per listed frame, the tuple of its labels (empty when unlabelled).
        source: ``file:line`` of the video's first frame line.
    """

    video_id: str
    folder: str
    frame_template: str
    start_index: int
    frame_labels: List[Tuple[int, ...]] = field(default_factory=list)
    source: str = ""

    @property
    def num_frames(self) -> int:
        return len(self.frame_labels)

    @property
    def labels(self) -> Tuple[int, ...]:
        """Video-level labels: the sorted union of the frames' labels."""
        return tuple(sorted({label for labels in self.frame_labels for label in labels}))


def parse_labels_field(value: str, source: str) -> Tuple[int, ...]:
    """``""`` / ``"1,4,7"`` (quotes optional) -> ``(1, 4, 7)``; a bad value names ``source``."""
    text = value.strip().strip('"').strip()
    if not text:
        return ()
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError:
        raise AnnotationError(f"{source}: labels {value!r} are not comma-separated integers") from None


def _numbered_name(name: str, source: str) -> Tuple[str, int]:
    """``"vid_000012.jpg"`` -> (``"vid_{:06d}.jpg"``, 12)."""
    match = _NUMBERED_FILE.match(name)
    if match is None:
        raise AnnotationError(f"{source}: frame file '{name}' does not end in a frame number (e.g. vid_000001.jpg)")
    stem, digits, extension = match.groups()
    template = stem.replace("{", "{{").replace("}", "}}") + "{:0%dd}" % len(digits) + extension
    return template, int(digits)


def parse_frame_lists(paths: Sequence[str], prefix: str = "") -> List[FrameListVideo]:
    """Read AVA / Charades frame lists into videos, in order of first appearance.

    Each file starts with the header line (``original_vido_id ...``); then ``original_vido_id
    video_idx frame_idx path labels`` with ``frame_idx`` 0, 1, 2, ... per video and ``path``
    relative to ``prefix``. A video's frames must be consecutive files of one folder (what the
    frame reader opens), listed in order. (AVA's train list has ~6 M lines: a line of a known
    video is checked against the expected path by one string comparison.)
    """
    videos: Dict[str, FrameListVideo] = {}
    expected_path: Dict[str, Tuple[str, str, int]] = {}  # video -> (path stem, extension, digits)
    for path in paths:
        if not os.path.isfile(path):
            raise FileNotFoundError(f"annotation file not found: {path}")
        with open(path, "r", encoding="utf-8-sig") as f:
            header = f.readline()
            if not header.strip():
                raise AnnotationError(f"{path}: the frame list is empty")
            if not header.startswith("original_vido_id"):
                raise AnnotationError(f"{path}:1: expected the header 'original_vido_id video_idx frame_idx path labels', "
                                      f"got {header.strip()!r}")
            for line_number, text in enumerate(f, start=2):
                fields = text.split()
                if not fields:
                    continue
                if len(fields) == 4:  # an unlabelled frame whose labels column was left out entirely
                    fields.append("")
                if len(fields) != 5:
                    raise AnnotationError(f"{path}:{line_number}: expected 'original_vido_id video_idx frame_idx path labels' "
                                          f"(5 space-separated fields), got {len(fields)}: {text.strip()!r}")
                video_id, _, frame_idx, frame_path, labels = fields
                video = videos.get(video_id)
                if video is None:
                    video = _first_frame(video_id, frame_path, prefix, f"{path}:{line_number}")
                    videos[video_id] = video
                    match = _NUMBERED_FILE.match(frame_path)
                    expected_path[video_id] = (match.group(1), match.group(3), len(match.group(2)))
                stem, extension, digits = expected_path[video_id]
                count = len(video.frame_labels)
                if frame_idx != str(count) or frame_path != f"{stem}{video.start_index + count:0{digits}d}{extension}":
                    _frame_line_error(f"{path}:{line_number}", video, frame_idx, frame_path)
                video.frame_labels.append(() if labels in ('""', "") else parse_labels_field(labels, f"{path}:{line_number}"))
    return list(videos.values())


def _first_frame(video_id: str, frame_path: str, prefix: str, source: str) -> FrameListVideo:
    """The video of a frame list whose first frame line names ``frame_path``."""
    folder, name = os.path.split(os.path.join(prefix, frame_path) if prefix else frame_path)
    template, number = _numbered_name(name, source)
    return FrameListVideo(video_id, folder, template, number, source=source)


def _frame_line_error(source: str, video: FrameListVideo, frame_idx: str, frame_path: str) -> None:
    try:
        int(frame_idx)
    except ValueError:
        raise AnnotationError(f"{source}: frame_idx '{frame_idx}' is not an integer") from None
    _numbered_name(os.path.basename(frame_path), source)  # names a file without a frame number
    expected = video.start_index + video.num_frames
    raise AnnotationError(
        f"{source}: frame {frame_idx} of '{video.video_id}' is '{frame_path}'; the frames of a video must be "
        f"listed in order as consecutive files of one folder (expected frame_idx {video.num_frames}, "
        f"file {os.path.join(video.folder, video.frame_template.format(expected))})"
    )


# ---------------------------------------------------------------------------------------------
# Box CSVs
# ---------------------------------------------------------------------------------------------
class BoxRow(NamedTuple):
    """One line of an AVA box CSV.

    ``box`` is ``(x1, y1, x2, y2)`` normalised to [0, 1]; ``action_id`` is -1 when the column is
    empty (predicted boxes without labels); ``score`` is the detection score (1.0 for ground
    truth, whose 8th column is the person id). (A named tuple: AVA's files have ~10^6 rows.)
    """

    video_id: str
    timestamp: int
    box: Tuple[float, float, float, float]
    action_id: int
    score: float
    path: str
    line: int

    @property
    def source(self) -> str:
        return f"{self.path}:{self.line}"

    @property
    def key(self) -> str:
        return frame_key(self.video_id, self.timestamp)


def _number(value: str, what: str, source: str, kind=float):
    try:
        return kind(value)
    except ValueError:
        raise AnnotationError(f"{source}: {what} '{value}' is not {'an integer' if kind is int else 'a number'}") from None


def _parse_box_fields(fields: List[str], has_score: Optional[bool], source: str):
    """(timestamp, box, action_id, score) of one row; AnnotationError naming ``source``."""
    if len(fields) not in (7, 8) or (has_score and len(fields) != 8):
        expected = "8 (..., action_id, score)" if has_score else "7 or 8 (..., action_id[, person_id])"
        raise AnnotationError(f"{source}: expected {expected} comma-separated columns "
                              f"'video_id,timestamp,x1,y1,x2,y2,...', got {len(fields)}: {','.join(fields)!r}")
    try:
        timestamp = int(float(fields[1]))
    except ValueError:
        raise AnnotationError(f"{source}: timestamp '{fields[1]}' is not a number of seconds") from None
    box = tuple(_number(v, name, source) for v, name in zip(fields[2:6], ("x1", "y1", "x2", "y2")))
    if not all(-1e-3 <= v <= 1 + 1e-3 for v in box) or box[2] < box[0] or box[3] < box[1]:
        raise AnnotationError(f"{source}: box {box} must be x1,y1,x2,y2 normalised to [0, 1] with x1 <= x2, y1 <= y2")
    action = fields[6].strip()
    action_id = _number(action, "action_id", source, int) if action else -1
    if has_score is not False and len(fields) == 8:
        score = _number(fields[7], "score" if has_score else "8th column", source)
    else:
        score = 1.0
    return timestamp, box, action_id, score


def parse_box_csv(path: str, has_score: Optional[bool] = None) -> List[BoxRow]:
    """Rows of an AVA box CSV (7 or 8 columns, no header).

    Args:
        has_score: True: the 8th column is a detection score and required (predicted boxes);
            False: it is the person id (ground truth), the score is 1.0; None (the official
            evaluation's reading): an 8th column is read as the score, 7 columns score 1.0.
    Raises:
        AnnotationError naming ``file:line`` for a wrong column count, a non-numeric field, a
        box outside [0, 1] or with x2 < x1 / y2 < y1.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"annotation file not found: {path}")
    rows = []
    append = rows.append
    with open(path, "r", encoding="utf-8-sig", newline="") as f:
        for line_number, fields in enumerate(csv.reader(f), start=1):
            if not fields or (len(fields) == 1 and not fields[0].strip()):
                continue
            # The common case in one try block; anything unusual is re-parsed for a precise message.
            try:
                if len(fields) not in (7, 8) or (has_score and len(fields) != 8):
                    raise ValueError
                timestamp = int(fields[1])
                box = (float(fields[2]), float(fields[3]), float(fields[4]), float(fields[5]))
                if not (0.0 <= box[0] <= box[2] <= 1.0 and 0.0 <= box[1] <= box[3] <= 1.0):
                    raise ValueError
                action_id = int(fields[6]) if fields[6] else -1
                score = float(fields[7]) if has_score is not False and len(fields) == 8 else 1.0
            except ValueError:
                timestamp, box, action_id, score = _parse_box_fields(fields, has_score, f"{path}:{line_number}")
            append(BoxRow(fields[0].strip(), timestamp, box, action_id, score, path, line_number))
    return rows


# ---------------------------------------------------------------------------------------------
# Label map and exclusions
# ---------------------------------------------------------------------------------------------
_PBTXT_FIELD = re.compile(r'^(\w+)\s*:\s*(.+?)\s*$')


def parse_label_map(path: str) -> Tuple[List[Dict], Set[int]]:
    """An AVA label map pbtxt -> (``[{"id": int, "name": str}, ...]`` in file order, set of ids).

    Accepts the v2.2 ``item { name: "..." id: N }`` blocks and the v2.1 ``label { name: "..."
    label_id: N label_type: ... }`` blocks; other fields are ignored.
    """
    categories: List[Dict] = []
    seen: Dict[int, str] = {}
    block: Optional[Dict] = None
    for source, text in read_lines(path):
        if text.startswith("#"):
            continue
        if block is None:
            if re.match(r"^(item|label)\s*\{$", text):
                block = {"source": source}
                continue
            raise AnnotationError(f"{source}: expected 'item {{' or 'label {{', got {text!r}")
        if text == "}":
            if "id" not in block or "name" not in block:
                raise AnnotationError(f"{block['source']}: label map entry without {'id' if 'id' not in block else 'name'}")
            if block["id"] in seen:
                raise AnnotationError(f"{block['source']}: class id {block['id']} repeats entry at {seen[block['id']]}")
            seen[block["id"]] = block["source"]
            categories.append({"id": block["id"], "name": block["name"]})
            block = None
            continue
        match = _PBTXT_FIELD.match(text)
        if match is None:
            raise AnnotationError(f"{source}: expected 'field: value' inside the entry, got {text!r}")
        key, value = match.groups()
        if key == "name":
            if len(value) < 2 or value[0] != '"' or value[-1] != '"':
                raise AnnotationError(f"{source}: name must be a quoted string, got {value}")
            block["name"] = value[1:-1]
        elif key in ("id", "label_id"):
            try:
                block["id"] = int(value)
            except ValueError:
                raise AnnotationError(f"{source}: {key} '{value}' is not an integer") from None
    if block is not None:
        raise AnnotationError(f"{block['source']}: label map entry is not closed with '}}'")
    if not categories:
        raise AnnotationError(f"{path}: the label map has no entries")
    return categories, set(seen)


def parse_exclusions(path: str) -> Set[str]:
    """The excluded timestamps file (``video_id,timestamp`` lines) -> set of keyframe keys."""
    excluded = set()
    for source, text in read_lines(path):
        fields = [value.strip() for value in text.split(",")]
        if len(fields) != 2 or not fields[0]:
            raise AnnotationError(f"{source}: expected 'video_id,timestamp', got {text!r}")
        try:
            timestamp = int(float(fields[1]))
        except ValueError:
            raise AnnotationError(f"{source}: timestamp '{fields[1]}' is not a number of seconds") from None
        excluded.add(frame_key(fields[0], timestamp))
    return excluded
