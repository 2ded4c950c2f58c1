"""Fixtures shared by the dataset tests: real clips, index-encoding videos, damaged files.

The writers live in ``tests/datasets/video_fixtures.py`` (plain functions, importable too).
"""
import os

import pytest

from tests.datasets.video_fixtures import damage_video, write_index_video

REAL_CLIPS_DIR = os.path.join(os.path.dirname(os.path.dirname(__file__)), "data", "real_clips")


@pytest.fixture
def real_clips_dir() -> str:
    """``tests/data/real_clips`` (see its README for the origin and licence of each file)."""
    return REAL_CLIPS_DIR


@pytest.fixture
def make_index_video(tmp_path):
    """``make_index_video(name="index.mp4", num_frames=60, **kwargs)`` writes a video whose frame
    ``i`` is ``video_fixtures.index_frame(i)`` into ``tmp_path`` (kwargs: fps, codec, with_audio)."""
    def make(name: str = "index.mp4", num_frames: int = 60, **kwargs) -> str:
        return write_index_video(str(tmp_path / name), num_frames, **kwargs)
    return make


@pytest.fixture
def make_damaged_video(tmp_path):
    """``make_damaged_video(kind, source=None)``: a damaged copy (``video_fixtures.DAMAGE_KINDS``)
    of ``source`` (default: a fresh 30-frame index video) in ``tmp_path``."""
    def make(kind: str, source: str = None) -> str:
        if source is None:
            source = write_index_video(str(tmp_path / "intact.mp4"), 30)
        extension = os.path.splitext(source)[1]
        return damage_video(source, str(tmp_path / f"damaged_{kind}{extension}"), kind)
    return make
