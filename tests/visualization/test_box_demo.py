"""The detection demo: precomputed boxes (SlowFast's demo CSV) parsed, each box drawn with its top
actions on the frames of its second, the output video as long as the input."""
import numpy as np
import pytest
import torch

from slowfast.models.build import build_model
from slowfast.utils.errors import DataError
from slowfast.visualization.box_demo import draw_boxes, read_preds_boxes, run_box_demo
from slowfast.visualization.sources import IterableSource
from tests.engine.toy_ava import toy_ava_cfg


def test_preds_boxes_parsed_thresholded_and_bad_lines_named(tmp_path):
    path = tmp_path / "boxes.csv"
    path.write_text("clip,1,0.1,0.2,0.5,0.9,,0.95\nclip,1,0.6,0.1,0.9,0.5,,0.5\nclip,0002,0.0,0.0,1.0,1.0,,0.81\n")
    boxes = read_preds_boxes(str(path), score_thresh=0.8)
    assert sorted(boxes) == [1, 2]
    np.testing.assert_allclose(boxes[1], [[0.1, 0.2, 0.5, 0.9]])
    path.write_text("clip,1,0.1,0.2,0.5,0.9,,0.95\nclip,x,0.1\n")
    with pytest.raises(DataError, match="boxes.csv:2"):
        read_preds_boxes(str(path), 0.8)


def test_box_drawn_on_its_pixels_only():
    frame = np.zeros((120, 160, 3), np.uint8)
    drawn = draw_boxes(frame, np.array([[40.0, 50.0, 100.0, 110.0]]), [["walk 0.90"]])
    assert tuple(drawn[80, 40]) == (230, 25, 75)  # left edge in the first box colour
    assert tuple(drawn[80, 100]) == (230, 25, 75)  # right edge
    assert drawn[80, 70].sum() == 0  # inside untouched
    assert drawn[115:, :].sum() == 0  # below the box untouched


def test_demo_draws_boxes_of_each_second(tmp_path):
    torch.manual_seed(0)
    cfg = toy_ava_cfg(tmp_path)
    cfg.DEMO.ENABLE = True
    cfg.DEMO.PREDS_BOXES = str(tmp_path / "boxes.csv")
    cfg.DEMO.OUTPUT_FILE = str(tmp_path / "out.mp4")
    cfg.DEMO.TOPK = 2
    cfg.AVA.DETECTION_SCORE_THRESH = 0.5
    # 3 s at 10 fps of a grey 64x96 video; boxes at seconds 1 (two people) and 2.
    (tmp_path / "boxes.csv").write_text("v,1,0.1,0.1,0.4,0.9,,0.9\nv,1,0.5,0.2,0.9,0.8,,0.7\nv,2,0.2,0.2,0.6,0.6,,0.99\n")
    frames = [np.full((64, 96, 3), 128, np.uint8) for _ in range(30)]
    model = build_model(cfg)
    stats = run_box_demo(cfg, model=model, source=IterableSource(frames, fps=10))
    assert stats == {"num_frames": 30, "num_seconds": 2, "num_drawn_frames": 20}  # frames 5..24

    import av

    with av.open(cfg.DEMO.OUTPUT_FILE) as container:
        decoded = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert len(decoded) == 30
    plain, boxed = decoded[2].astype(int), decoded[10].astype(int)
    assert np.abs(plain - 128).max() < 12  # no box before second 1 (codec noise only)
    x1 = int(round(0.1 * 96))
    # The first box's 1-pixel left edge in its red colour (H.264's chroma subsampling blurs it).
    red, green, _ = boxed[32, x1]
    assert red - green > 60 and abs(int(plain[32, x1][0]) - int(plain[32, x1][1])) < 12
