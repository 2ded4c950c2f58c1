"""AVA / Charades annotation formats, written to their column specs; bad lines named by file and line."""
import pytest

from slowfast.datasets.annotations import AnnotationError
from slowfast.datasets.ava_annotations import (
    frame_key, parse_box_csv, parse_exclusions, parse_frame_lists, parse_label_map, parse_labels_field,
)

AVA_FRAME_LIST = (
    "original_vido_id video_idx frame_idx path labels\n"
    '-5KQ66BBWC4 0 0 -5KQ66BBWC4/-5KQ66BBWC4_000001.jpg ""\n'
    '-5KQ66BBWC4 0 1 -5KQ66BBWC4/-5KQ66BBWC4_000002.jpg ""\n'
    '-5KQ66BBWC4 0 2 -5KQ66BBWC4/-5KQ66BBWC4_000003.jpg ""\n'
    '1j20qq1JyX4 1 0 1j20qq1JyX4/1j20qq1JyX4_000001.jpg ""\n'
)
CHARADES_FRAME_LIST = (
    "original_vido_id video_id frame_id path labels\n"
    "46GP8 0 0 46GP8/46GP8-000001.jpg 1,4\n"
    "46GP8 0 1 46GP8/46GP8-000002.jpg 4,7\n"
    '46GP8 0 2 46GP8/46GP8-000003.jpg ""\n'
)


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_ava_frame_list(tmp_path):
    videos = parse_frame_lists([write(tmp_path, "train.csv", AVA_FRAME_LIST)], prefix="/frames")
    assert [v.video_id for v in videos] == ["-5KQ66BBWC4", "1j20qq1JyX4"]
    first = videos[0]
    assert (first.folder, first.frame_template, first.start_index, first.num_frames) == (
        "/frames/-5KQ66BBWC4", "-5KQ66BBWC4_{:06d}.jpg", 1, 3)
    assert first.frame_template.format(2) == "-5KQ66BBWC4_000002.jpg"
    assert first.labels == () and first.source.endswith("train.csv:2")


def test_charades_frame_list_multi_labels(tmp_path):
    (video,) = parse_frame_lists([write(tmp_path, "val.csv", CHARADES_FRAME_LIST)])
    assert video.frame_labels == [(1, 4), (4, 7), ()]
    assert video.labels == (1, 4, 7)
    assert video.frame_template == "46GP8-{:06d}.jpg" and video.folder == "46GP8"


@pytest.mark.parametrize("text, line, message", [
    ("vid 0 0 vid/vid_000001.jpg\n", 1, "header"),
    (AVA_FRAME_LIST + "x 2 0\n", 6, "5 space-separated fields"),
    (AVA_FRAME_LIST + '1j20qq1JyX4 1 one 1j20qq1JyX4/1j20qq1JyX4_000002.jpg ""\n', 6, "frame_idx 'one'"),
    (AVA_FRAME_LIST + '1j20qq1JyX4 1 1 1j20qq1JyX4/1j20qq1JyX4_000005.jpg ""\n', 6, "consecutive files"),
    (AVA_FRAME_LIST + "1j20qq1JyX4 1 1 1j20qq1JyX4/1j20qq1JyX4_000002.jpg 1,x\n", 6, "comma-separated integers"),
    (AVA_FRAME_LIST + '1j20qq1JyX4 1 1 1j20qq1JyX4/frame.jpg ""\n', 6, "frame number"),
])
def test_bad_frame_list_lines_name_file_and_line(tmp_path, text, line, message):
    path = write(tmp_path, "train.csv", text)
    with pytest.raises(AnnotationError, match=rf"train\.csv:{line}: .*{message}"):
        parse_frame_lists([path])


def test_labels_field():
    assert parse_labels_field('"1,4,7"', "f:1") == (1, 4, 7)
    assert parse_labels_field('""', "f:1") == () == parse_labels_field("", "f:1")


def test_ground_truth_and_predicted_box_csvs(tmp_path):
    gt = write(tmp_path, "ava_val_v2.2.csv",
               "-5KQ66BBWC4,0902,0.077,0.151,0.283,0.811,80,1\n"
               "-5KQ66BBWC4,0902,0.077,0.151,0.283,0.811,12,1\n\n"
               "-5KQ66BBWC4,903,0.332,0.194,0.481,0.891,17,0\n")
    rows = parse_box_csv(gt, has_score=False)
    assert [(r.key, r.action_id, r.score) for r in rows] == [
        ("-5KQ66BBWC4,0902", 80, 1.0), ("-5KQ66BBWC4,0902", 12, 1.0), ("-5KQ66BBWC4,0903", 17, 1.0)]
    assert rows[0].box == pytest.approx((0.077, 0.151, 0.283, 0.811))
    assert rows[2].source.endswith("ava_val_v2.2.csv:4")
    predicted = write(tmp_path, "ava_val_predicted_boxes.csv",
                      "1j20qq1JyX4,0902,0.002,0.213,0.275,0.993,,0.996\n"
                      "1j20qq1JyX4,0902,0.3,0.2,0.6,0.9,12,0.5\n")
    rows = parse_box_csv(predicted, has_score=True)
    assert [(r.action_id, r.score) for r in rows] == [(-1, pytest.approx(0.996)), (12, pytest.approx(0.5))]
    assert frame_key("v", 7) == "v,0007"


@pytest.mark.parametrize("line, has_score, message", [
    ("v,0902,0.1,0.1,0.2,0.2\n", False, "expected 7 or 8"),
    ("v,0902,0.1,0.1,0.2,0.2,1\n", True, "expected 8"),
    ("v,abc,0.1,0.1,0.2,0.2,1,0\n", False, "timestamp 'abc'"),
    ("v,0902,0.1,x,0.2,0.2,1,0\n", False, "y1 'x' is not a number"),
    ("v,0902,0.5,0.1,0.2,0.2,1,0\n", False, "x1 <= x2"),
    ("v,0902,0.1,0.1,0.2,1.7,1,0\n", False, "normalised"),
    ("v,0902,0.1,0.1,0.2,0.2,run,0\n", False, "action_id 'run'"),
    ("v,0902,0.1,0.1,0.2,0.2,1,high\n", True, "score 'high'"),
])
def test_bad_box_lines_name_file_and_line(tmp_path, line, has_score, message):
    path = write(tmp_path, "boxes.csv", "v,0902,0.1,0.1,0.2,0.2,1,0.5\n" + line)
    with pytest.raises(AnnotationError, match=rf"boxes\.csv:2: .*{message}"):
        parse_box_csv(path, has_score=has_score)


def test_label_map_v22_and_v21_styles(tmp_path):
    v22 = write(tmp_path, "ava_action_list_v2.2_for_activitynet_2019.pbtxt",
                'item {\n  name: "bend/bow (at the waist)"\n  id: 1\n}\nitem {\n  name: "crouch/kneel"\n  id: 3\n}\n')
    categories, ids = parse_label_map(v22)
    assert categories == [{"id": 1, "name": "bend/bow (at the waist)"}, {"id": 3, "name": "crouch/kneel"}]
    assert ids == {1, 3}
    v21 = write(tmp_path, "ava_action_list_v2.1.pbtxt",
                'label {\n  name: "dance"\n  label_id: 4\n  label_type: PERSON_MOVEMENT\n}\n')
    assert parse_label_map(v21) == ([{"id": 4, "name": "dance"}], {4})


@pytest.mark.parametrize("text, line, message", [
    ('item {\n  name: "a"\n  id: 1\n}\nitem {\n  name: "b"\n  id: 1\n}\n', 5, "class id 1 repeats"),
    ('item {\n  name: "a"\n}\n', 1, "without id"),
    ('item {\n  name: "a"\n  id: x\n}\n', 3, "id 'x' is not an integer"),
    ('thing {\n', 1, "expected 'item"),
    ('item {\n  name: a\n  id: 1\n}\n', 2, "quoted string"),
    ('item {\n  name: "a"\n  id: 1\n', 1, "not closed"),
])
def test_bad_label_maps_name_file_and_line(tmp_path, text, line, message):
    path = write(tmp_path, "map.pbtxt", text)
    with pytest.raises(AnnotationError, match=rf"map\.pbtxt:{line}: .*{message}"):
        parse_label_map(path)


def test_exclusions(tmp_path):
    path = write(tmp_path, "ava_val_excluded_timestamps_v2.2.csv", "-IELREHX_js,1563\nAN-GXLhaWh0,0902\n")
    assert parse_exclusions(path) == {"-IELREHX_js,1563", "AN-GXLhaWh0,0902"}
    bad = write(tmp_path, "excl.csv", "a,0902\nb,0903,1\n")
    with pytest.raises(AnnotationError, match=r"excl\.csv:2: expected 'video_id,timestamp'"):
        parse_exclusions(bad)
