"""Annotation parsers: every format, and every error names the file and the line."""
import os

import pytest

from slowfast.datasets import annotations as A
from tests.datasets.dataset_helpers import write_lines


def test_path_label_list_variants_prefix_and_blank_lines(tmp_path):
    two = write_lines(tmp_path / "two.csv", ["a/x.mp4 3", "", "b/y.mp4 4"])
    three = write_lines(tmp_path / "three.csv", ["a/x.mp4 120 3", "b/y.mp4 90 4"])
    one = write_lines(tmp_path / "one.csv", ["a/x.mp4", "b/y.mp4"])
    expected = [("/videos/a/x.mp4", 3), ("/videos/b/y.mp4", 4)]
    assert [(r.path, r.label) for r in A.parse_path_label_list(two, " ", "/videos")] == expected  # path label
    assert [(r.path, r.label) for r in A.parse_path_label_list(three, " ", "/videos")] == expected  # SlowFast
    # unlabelled (a test list, the demo): every line one field, all class 0
    assert [(r.path, r.label) for r in A.parse_path_label_list(one, " ", "/videos")] == [
        ("/videos/a/x.mp4", 0), ("/videos/b/y.mp4", 0)]
    assert A.parse_path_label_list(two, " ")[1].source == f"{two}:3"  # blank line 2 skipped, numbering kept


@pytest.mark.parametrize("lines, bad_line, message", [
    # a one-field line inside a labelled list is an error, not a video of class 0
    (["a.mp4 3", "b.mp4 4", "c.mp4"], 3, r"1 field \(path without a label: 'c.mp4'\), but the list's first line .*:1 has 2"),
    (["a.mp4", "b.mp4 4"], 2, r"2 fields \(path label: 'b.mp4 4'\), but .*:1 has 1 \(path without a label\)"),
    (["a.mp4 120 3", "b.mp4 4"], 2, r"2 fields .* has 3 \(path num_frames label\); a list must not mix formats"),
])
def test_path_label_list_that_mixes_formats_is_an_error(tmp_path, lines, bad_line, message):
    path = write_lines(tmp_path / "train.csv", lines)
    with pytest.raises(A.AnnotationError, match=f"{path}:{bad_line}: {message}"):
        A.parse_path_label_list(path, " ")


def test_mixed_formats_are_all_reported_when_collecting(tmp_path):
    """The first well-formed line fixes the format; a malformed first line does not."""
    path = write_lines(tmp_path / "train.csv", ["a.mp4 1 2 3", "b.mp4 1", "c.mp4", "d.mp4 2", "e.mp4 5 6"])
    errors = []
    records = A.parse_path_label_list(path, " ", on_error=errors.append)
    assert [(r.path, r.label) for r in records] == [("b.mp4", 1), ("d.mp4", 2)]
    assert [str(e).split(": ")[0] for e in errors] == [f"{path}:1", f"{path}:3", f"{path}:5"]
    assert "got 4 fields" in str(errors[0]) and "must not mix formats" in str(errors[1])


def test_path_label_list_custom_separator_and_tabs(tmp_path):
    path = write_lines(tmp_path / "l.csv", ["my clip.mp4,5"])
    assert [(r.path, r.label) for r in A.parse_path_label_list(path, ",")] == [("my clip.mp4", 5)]
    tabbed = write_lines(tmp_path / "t.csv", ["x.mp4\t  2"])
    assert A.parse_path_label_list(tabbed, " ")[0].label == 2  # any whitespace run


@pytest.mark.parametrize("line, message", [
    ("a.mp4 1 2 3", "got 4 fields"),
    ("a.mp4 one", "label 'one' is not an integer"),
])
def test_path_label_list_errors_name_file_and_line(tmp_path, line, message):
    path = write_lines(tmp_path / "train.csv", ["ok.mp4 0", line])
    with pytest.raises(A.AnnotationError, match=f"{path}:2: .*{message}"):
        A.parse_path_label_list(path, " ")


def test_missing_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.csv"):
        A.parse_path_label_list(str(tmp_path / "nope.csv"))
    with pytest.raises(FileNotFoundError, match=r"DATA.PATH_TO_DATA_DIR.*val.csv.*val.txt"):
        A.find_annotation_file(str(tmp_path), ["val.csv", "val.txt"])


def test_jester_official_csv(tmp_path):
    labels = write_lines(tmp_path / "jester-v1-labels.csv", ["Swiping Left", "Swiping Right", "No gesture"])
    class_ids = A.parse_label_names(labels)
    assert class_ids == {"Swiping Left": 0, "Swiping Right": 1, "No gesture": 2}
    path = write_lines(tmp_path / "jester-v1-train.csv", ["34870;Swiping Right", "56557;No gesture"])
    records = A.parse_jester_csv(path, class_ids, "/frames")
    assert [(r.path, r.label) for r in records] == [("/frames/34870", 1), ("/frames/56557", 2)]
    bad = write_lines(tmp_path / "bad.csv", ["1;Swiping Left", "2;Waving"])
    with pytest.raises(A.AnnotationError, match=f"{bad}:2: label 'Waving'"):
        A.parse_jester_csv(bad, class_ids)
    malformed = write_lines(tmp_path / "malformed.csv", ["1 Swiping Left"])
    with pytest.raises(A.AnnotationError, match=f"{malformed}:1: expected 'id;Label Name'"):
        A.parse_jester_csv(malformed, class_ids)
    repeated = write_lines(tmp_path / "labels2.csv", ["A", "B", "A"])
    with pytest.raises(A.AnnotationError, match=f"{repeated}:3: class name 'A' repeats line 1"):
        A.parse_label_names(repeated)


def test_id_label_list(tmp_path):
    path = write_lines(tmp_path / "trainlist.txt", ["100 0", "101 26"])
    records = A.parse_id_label_list(path, " ", "/root", lambda vid: os.path.join(vid, vid + ".mp4"))
    assert [(r.path, r.label) for r in records] == [("/root/100/100.mp4", 0), ("/root/101/101.mp4", 26)]
    bad = write_lines(tmp_path / "bad.txt", ["100"])
    with pytest.raises(A.AnnotationError, match=f"{bad}:1"):
        A.parse_id_label_list(bad)


def test_frame_list_with_and_without_offset(tmp_path):
    plain_list = write_lines(tmp_path / "plain.txt", ["imgs 5 127"])
    offset_list = write_lines(tmp_path / "offset.txt", ["imgs 2 5 3"])
    (plain,), (offset,) = A.parse_frame_list(plain_list, "/data", start_index=1), A.parse_frame_list(offset_list, "/data")
    assert (plain.path, plain.num_frames, plain.label, plain.start_index) == ("/data/imgs", 5, 127, 1)
    assert (offset.path, offset.num_frames, offset.label, offset.start_index) == ("/data/imgs", 5, 3, 3)
    for line, message in [("imgs 5", "expected 'frame_dir"), ("imgs x 1", "total_frames 'x'"), ("imgs 0 1", "positive")]:
        bad = write_lines(tmp_path / "bad.txt", [line])
        with pytest.raises(A.AnnotationError, match=f"{bad}:1: .*{message}"):
            A.parse_frame_list(bad)
    mixed = write_lines(tmp_path / "mixed.txt", ["imgs 5 127", "imgs 2 5 3"])
    with pytest.raises(A.AnnotationError, match=f"{mixed}:2: 4 fields .*first line {mixed}:1 has 3 .*must not mix"):
        A.parse_frame_list(mixed)


def test_ucf_class_index_and_splits(tmp_path):
    class_index = write_lines(tmp_path / "classInd.txt", ["1 ApplyEyeMakeup", "2 Archery"])
    class_ids, base = A.parse_class_index(class_index)
    assert class_ids == {"ApplyEyeMakeup": 0, "Archery": 1} and base == 1
    train = write_lines(tmp_path / "trainlist01.txt", ["Archery/v_Archery_g08_c01.avi 2"])
    test = write_lines(tmp_path / "testlist01.txt", ["ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi"])
    assert [(r.path, r.label) for r in A.parse_ucf_split(train, class_ids, base, "/ucf")] == [
        ("/ucf/Archery/v_Archery_g08_c01.avi", 1)]
    assert [r.label for r in A.parse_ucf_split(test, class_ids, base)] == [0]
    wrong = write_lines(tmp_path / "wrong.txt", ["Archery/v.avi 1"])
    with pytest.raises(A.AnnotationError, match=f"{wrong}:1: label 1 disagrees"):
        A.parse_ucf_split(wrong, class_ids, base)
    unknown = write_lines(tmp_path / "unknown.txt", ["Bowling/v.avi"])
    with pytest.raises(A.AnnotationError, match=f"{unknown}:1: .*classInd"):
        A.parse_ucf_split(unknown, class_ids, base)
    zero_based = write_lines(tmp_path / "classInd0.txt", ["0 A", "1 B"])
    assert A.parse_class_index(zero_based) == ({"A": 0, "B": 1}, 0)


def test_hmdb_official_split_files(tmp_path):
    write_lines(tmp_path / "wave_test_split1.txt", ["w1.avi 1", "w2.avi 2", "w3.avi 0"])
    write_lines(tmp_path / "brush_hair_test_split1.txt", ["b1.avi 2"])
    train = A.parse_hmdb_official_splits(str(tmp_path), 1, usage=1, prefix="/h")
    test = A.parse_hmdb_official_splits(str(tmp_path), 1, usage=2)
    assert [(r.path, r.label) for r in train] == [("/h/wave/w1.avi", 1)]
    assert [(r.path, r.label) for r in test] == [("brush_hair/b1.avi", 0), ("wave/w2.avi", 1)]
    with pytest.raises(FileNotFoundError, match="_test_split2.txt"):
        A.parse_hmdb_official_splits(str(tmp_path), 2, usage=1)


def records_with(labels):
    return [A.VideoRecord(f"v{i}.mp4", label, f"list.txt:{i + 1}") for i, label in enumerate(labels)]


def test_check_labels_accepts_zero_based_and_rejects_out_of_range():
    assert [r.label for r in A.check_labels(records_with([0, 2, 1]), 3, False, "list.txt")] == [0, 2, 1]
    with pytest.raises(A.AnnotationError, match=r"list.txt:2: label 5 is out of range \[0, 3\) \(MODEL.NUM_CLASSES\)"):
        A.check_labels(records_with([0, 5]), 3, False, "list.txt")
    with pytest.raises(A.AnnotationError, match="list.txt:2: label -1"):
        A.check_labels(records_with([0, -1]), 3, False, "list.txt")
    with pytest.raises(A.AnnotationError, match="empty"):
        A.check_labels([], 3, False, "list.txt")


def test_one_based_list_is_rejected_with_a_hint_then_converted():
    one_based = records_with([1, 3, 2, 3])
    with pytest.raises(A.AnnotationError, match=r"list.txt:2: .*1-based list; set DATA.ONE_BASED_LABELS True"):
        A.check_labels(one_based, 3, False, "list.txt")
    assert [r.label for r in A.check_labels(one_based, 3, True, "list.txt")] == [0, 2, 1, 2]
    with pytest.raises(A.AnnotationError, match=r"list.txt:1: label 0 in a list read as 1-based"):
        A.check_labels(records_with([0, 1]), 3, True, "list.txt")


def test_errors_can_be_collected_instead_of_raised(tmp_path):
    path = write_lines(tmp_path / "train.csv", ["a.mp4 1", "b.mp4 x", "c.mp4 1 2 3", "d.mp4 9"])
    errors = []
    records = A.parse_path_label_list(path, " ", on_error=errors.append)
    assert [r.path for r in records] == ["a.mp4", "d.mp4"]
    records = A.check_labels(records, 5, False, path, on_error=errors.append)
    assert [r.path for r in records] == ["a.mp4"]
    assert [str(e).split(": ")[0] for e in errors] == [f"{path}:2", f"{path}:3", f"{path}:4"]
