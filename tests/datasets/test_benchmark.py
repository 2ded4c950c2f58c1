"""Data-loading benchmark logic: reference decoder, clip decoding rows and the loader split."""
import time

import numpy as np
import pytest

from slowfast.datasets.benchmark import (
    benchmark_clip_decoding,
    benchmark_data,
    format_clip_rows,
    format_data_result,
    raw_decode,
    reference_decode_clip,
)
from tests.datasets.dataset_helpers import copy_file, real_clip, tiny_cfg, write_split_files
from tests.datasets.video_fixtures import index_frame


def test_reference_decoder_and_raw_decode(make_index_video):
    path = make_index_video("index.mp4", 30)
    np.testing.assert_array_equal(reference_decode_clip(path, [29, 3, 3]),
                                  np.stack([index_frame(29), index_frame(3), index_frame(3)]))
    assert raw_decode(path) == 30


def test_raw_decode_of_a_frame_folder():
    assert raw_decode(real_clip("imgs"), backend="frames") == 10


@pytest.mark.parametrize("clock", [time.perf_counter, time.process_time])
def test_clip_decoding_rows(make_index_video, clock):
    paths = [make_index_video("a.mp4", 40), make_index_video("b.avi", 25, codec="mpeg4")]
    rows = benchmark_clip_decoding(paths, clip_shapes=((8, 2), (4, 1)), clips_per_file=2, clock=clock)
    assert [(row["file"], row["clip"], row["frames"]) for row in rows] == [
        (paths[0], "8x2", 40), (paths[0], "4x1", 40), (paths[1], "8x2", 25), (paths[1], "4x1", 25)]
    for row in rows:
        assert row["ours_open_s"] > 0 and row["ours_decode_s"] > 0 and row["whole_video_raw_s"] > 0
        assert row["ours_clips_per_s"] == pytest.approx(1 / (row["ours_open_s"] + row["ours_decode_s"]))
        assert row["speedup"] == pytest.approx(row["ours_clips_per_s"] / row["reference_clips_per_s"])
    table = format_clip_rows(rows)
    assert len(table.splitlines()) == 5 and "speedup" in table.splitlines()[0]


def test_benchmark_data_on_a_tiny_kinetics_list(tmp_path):
    videos = [copy_file(real_clip("part_0.mp4"), tmp_path / "v" / "a.mp4"),
              copy_file(real_clip("test.avi"), tmp_path / "v" / "b.avi")]
    write_split_files(tmp_path, [f"{videos[0]} 1", f"{videos[1]} 2", f"{videos[0]} 3", f"{videos[1]} 0"])
    cfg = tiny_cfg(tmp_path)
    cfg.TRAIN.DATASET = cfg.TEST.DATASET = "kinetics"
    cfg.TEST.NUM_ENSEMBLE_VIEWS, cfg.TEST.NUM_SPATIAL_CROPS = 1, 1
    cfg.BENCHMARK.LOG_PERIOD = 1
    results = benchmark_data(cfg, max_batches=2, items_for_split=2)
    assert set(results) == {"train", "test"}
    train, test = results["train"], results["test"]
    assert train["loader"]["epochs"][0]["batches"] == 2  # batch 1 warms up, batch 2 is timed
    assert train["loader"]["clips"] == 2 and test["loader"]["clips"] == 1  # test batches: 3, then 1
    for result in (train, test):
        per_clip = result["per_clip"]
        assert per_clip["items"] == 2
        assert per_clip["open_s"] > 0 and per_clip["decode_s"] > 0 and per_clip["transform_s"] > 0
        assert per_clip["total_s"] == pytest.approx(per_clip["open_s"] + per_clip["decode_s"] + per_clip["transform_s"])
        assert per_clip["raw_decode_frames_per_s"] > 0
    assert "seek+decode" in format_data_result("train", train)
