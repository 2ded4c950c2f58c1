"""Video reader: real clips, frame-exact seeking on index-encoding videos, damaged files."""
import os
import shutil
from fractions import Fraction

import av
import numpy as np
import pytest
from PIL import Image

from slowfast.config.defaults import get_cfg
from slowfast.datasets import video_reader
from slowfast.datasets.video_reader import (
    FrameFolderReader,
    PyAVReader,
    VideoDecodeError,
    open_video,
    open_video_from_cfg,
    torchcodec_available,
)
from tests.datasets.video_fixtures import (
    DAMAGE_KINDS,
    decode_index,
    index_frame,
    write_audio_only,
    write_two_stream_video,
)

# (file, frames, fps, height, width); counts agree across ffprobe, torchcodec, decord and OpenCV.
REAL_CLIPS = [
    ("demo.mp4", 280, 28.0, 256, 340),
    ("part_0.mp4", 32, 30.0, 256, 340),
    ("test.avi", 164, 25.0, 240, 320),          # XviD with packed B-frames and MP3 audio
    ("bigbuckbunny.mp4", 132, 25.0, 720, 1280),  # with AAC audio
]

# Index lists that start in the middle, straddle keyframes (every 10 frames), go backwards and repeat.
INDEX_LISTS = [[0], [59], [10], [9], [11], [19, 20, 21], [37, 35, 36, 37], [59, 0, 30],
               list(range(25, 35)), list(range(0, 60, 2)), list(range(60))]


@pytest.mark.parametrize("name, frames, fps, height, width", REAL_CLIPS)
def test_real_clip_metadata_and_clip_shape(real_clips_dir, name, frames, fps, height, width):
    with open_video(os.path.join(real_clips_dir, name)) as reader:
        assert (reader.num_frames, reader.fps, reader.height, reader.width) == (frames, fps, height, width)
        clip = reader.read(np.arange(frames - 16, frames))
    assert clip.shape == (16, height, width, 3) and clip.dtype == np.uint8


def test_scrambled_decoder_timestamps_fall_back_to_counting(real_clips_dir):
    """test.avi's decoder output carries timestamps 1, 2, 4, 3, ... (packed B-frames). Even
    when the container is not known for it, the reader notices and counts frames instead."""
    path = os.path.join(real_clips_dir, "test.avi")
    with av.open(path) as container:
        expected = [frame.to_ndarray(format="rgb24") for _, frame in zip(range(12), container.decode(video=0))]
    with open_video(path) as reader:
        reader._timestamps_reliable = True  # as if it were an MP4
        np.testing.assert_array_equal(reader.read([2, 3, 11]), np.stack([expected[i] for i in (2, 3, 11)]))
        assert reader._timestamps_reliable is False


@pytest.mark.parametrize("name", ["demo.mp4", "part_0.mp4", "test.avi"])
def test_real_clip_seeking_matches_front_to_back_decoding(real_clips_dir, name):
    """Reads that seek (demo.mp4 has keyframes at 187, 230, 268) return the same pixels as one
    front-to-back decode; part_0's last timestamp jumps and test.avi reports scrambled pts."""
    path = os.path.join(real_clips_dir, name)
    with av.open(path) as container:
        everything = np.stack([frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)])
    with open_video(path) as reader:
        n = reader.num_frames
        assert n == len(everything)
        for indices in ([n - 1], [n // 2, n // 2 + 1], [186, 187, 188], [229, 231, 270, 279], [n - 2, 3]):
            indices = [i for i in indices if i < n]
            np.testing.assert_array_equal(reader.read(indices), everything[indices])


def test_frame_folder_real_images(real_clips_dir):
    folder = os.path.join(real_clips_dir, "imgs")
    with open_video(folder, backend="frames", fps=12) as reader:
        assert (reader.num_frames, reader.fps, reader.height, reader.width) == (10, 12.0, 240, 320)
        clip = reader.read([9, 0, 0])
    assert clip.shape == (3, 240, 320, 3) and clip.dtype == np.uint8
    np.testing.assert_array_equal(clip[1], clip[2])
    reference = np.asarray(Image.open(os.path.join(folder, "img_00010.jpg")).convert("RGB")).astype(int)
    assert np.abs(clip[0].astype(int) - reference).mean() < 2  # RGB order; decoders may differ by rounding


def _keyframes_and_reordering(path):
    with av.open(path) as container:
        packets = [p for p in container.demux(video=0) if p.size]
        pts = [p.pts for p in packets]
        return [i for i, p in enumerate(packets) if p.is_keyframe], pts != sorted(pts)


def test_fixtures_exercise_seeking_and_reordering(make_index_video):
    """The fixtures below are only meaningful if they have mid-file keyframes and B-frames."""
    assert _keyframes_and_reordering(make_index_video("index.mp4", 60)) == ([0, 10, 20, 30, 40, 50], False)
    keyframes, reordered = _keyframes_and_reordering(make_index_video("index.avi", 60, codec="mpeg4"))
    assert len(keyframes) >= 5 and reordered


@pytest.mark.parametrize("name, codec", [("index.mp4", "libx264rgb"), ("index.avi", "libx264rgb"),
                                         ("index.mkv", "ffv1"), ("index.avi", "ffv1")])
def test_lossless_video_returns_exact_frames(make_index_video, name, codec):
    path = make_index_video(name, 60, codec=codec)
    with open_video(path) as reader:
        assert reader.num_frames == 60
        for indices in INDEX_LISTS:
            expected = np.stack([index_frame(i) for i in indices])
            np.testing.assert_array_equal(reader.read(indices), expected, err_msg=f"{name} {indices}")


@pytest.mark.parametrize("name", ["bframes.avi", "bframes.mp4"])
def test_lossy_video_with_b_frames_returns_asked_frames(make_index_video, name):
    """MPEG-4 Part 2 with B-frames: decode order differs from presentation order."""
    path = make_index_video(name, 60, codec="mpeg4", with_audio=name.endswith(".mp4"))
    with open_video(path) as reader:
        for indices in INDEX_LISTS:
            assert [decode_index(frame) for frame in reader.read(indices)] == indices


@pytest.mark.parametrize("codec", ["libx264rgb", "mpeg4"])
def test_threaded_decoding_gives_the_same_frames(make_index_video, codec):
    """Frame threading delays the decoder's output and copies ``skip_frame`` per packet."""
    path = make_index_video("index.mp4", 40, codec=codec)
    indices = [5, 17, 18, 39, 12, 21, 23]
    with open_video(path, threads=1) as single:
        expected = single.read(indices)
    for thread_type in ("AUTO", "FRAME", "SLICE"):
        with open_video(path, threads=2, thread_type=thread_type) as threaded:
            np.testing.assert_array_equal(threaded.read(indices), expected, err_msg=thread_type)
    assert [decode_index(frame) for frame in expected] == indices


def test_non_integer_frame_rate(make_index_video):
    path = make_index_video("ntsc.mp4", 30, fps=Fraction(30000, 1001))
    with open_video(path) as reader:
        assert reader.fps == pytest.approx(30000 / 1001, abs=1e-9)
        assert reader.num_frames == 30


def test_timestamp_gaps_and_average_frame_rate(make_index_video):
    """Frames at 0, 40, 80, 160, ... ms: a naive ``pts * fps`` mapping would call the frame at
    160 ms frame 4; it is frame 3. avg_frame_rate (10 frames in 0.52 s) differs from
    r_frame_rate (25) and is the one reported."""
    times = [0, 40, 80, 160, 200, 240, 320, 360, 400, 480]
    path = make_index_video("gaps.mp4", 10, fps=25, frame_times_ms=times)
    with av.open(path) as container:
        assert container.streams.video[0].guessed_rate == 25
    with open_video(path) as reader:
        assert reader.num_frames == 10
        assert reader.fps == pytest.approx(250 / 13)
        for indices in ([3], [9, 4, 3], list(range(10))):
            np.testing.assert_array_equal(reader.read(indices), np.stack([index_frame(i) for i in indices]))


def test_first_video_stream_is_picked_and_others_on_request(tmp_path):
    path = write_two_stream_video(str(tmp_path / "two.mkv"), num_frames=12)
    with open_video(path) as first:
        assert (first.height, first.width) == (32, 48)
        np.testing.assert_array_equal(first.read([3, 7]), np.stack([index_frame(3), index_frame(7)]))
    with open_video(path, stream_index=1) as second:
        assert (second.height, second.width) == (64, 24)
        assert decode_index(second.read([3])[0]) == 1003
    with pytest.raises(VideoDecodeError, match="video stream 2 requested, the file has 2"):
        open_video(path, stream_index=2)


@pytest.mark.parametrize("kind", DAMAGE_KINDS)
def test_damaged_video_raises_naming_the_path(make_damaged_video, kind):
    path = make_damaged_video(kind)
    with pytest.raises(VideoDecodeError, match=f"^{path}: "):
        open_video(path)


def test_audio_only_file_reports_its_streams(tmp_path):
    path = write_audio_only(str(tmp_path / "tone.m4a"))
    with pytest.raises(VideoDecodeError, match="no video stream \\(streams: audio\\)"):
        open_video(path)


def test_truncated_file_with_index_at_front_raises(tmp_path, make_damaged_video):
    """A faststart MP4 (index first) opens after truncation; the missing frames must not be
    silently dropped."""
    source = str(tmp_path / "faststart.mp4")
    with av.open(source, "w", options={"movflags": "faststart"}) as container:
        stream = container.add_stream("libx264rgb", rate=30, options={"qp": "0", "g": "10"})
        stream.width, stream.height, stream.pix_fmt = 48, 32, "rgb24"
        for i in range(60):
            container.mux(stream.encode(av.VideoFrame.from_ndarray(index_frame(i), format="rgb24")))
        container.mux(stream.encode())
    path = make_damaged_video("truncated", source)
    with pytest.raises(VideoDecodeError, match=f"^{path}: truncated"):
        open_video(path)


def test_frames_cut_by_an_mp4_edit_list_are_not_counted(tmp_path, make_index_video):
    """A stream copy cut at frame 13 (``ffmpeg -ss ... -c copy``) keeps frames 10..12 for
    decoding and an edit list that hides them: the video starts at frame 13 and is not truncated."""
    source = make_index_video("index.mp4", 60)
    path = str(tmp_path / "cut.mp4")
    with av.open(source) as src, av.open(path, "w") as dst:
        stream = dst.add_stream_from_template(src.streams.video[0])
        for packet in src.demux(video=0):
            if packet.dts is not None:
                packet.pts, packet.dts, packet.stream = packet.pts - 13 * 512, packet.dts - 13 * 512, stream
                dst.mux(packet)
    with open_video(path) as reader:
        assert reader.num_frames == 47
        assert [decode_index(frame) for frame in reader.read([0, 1, 46, 20])] == [13, 14, 59, 33]


def test_truncated_avi_raises(tmp_path, real_clips_dir, make_damaged_video):
    """AVI is read sequentially, so a cut file ends silently; the header's count reveals it."""
    path = make_damaged_video("truncated", shutil.copy(os.path.join(real_clips_dir, "test.avi"), tmp_path))
    with pytest.raises(VideoDecodeError, match="truncated: the header promises about 164 frames, only 49 can be read"):
        open_video(path)


def test_frame_folder_errors_name_the_file(tmp_path, real_clips_dir):
    folder = tmp_path / "clip"
    shutil.copytree(os.path.join(real_clips_dir, "imgs"), folder)
    (folder / "img_00004.jpg").unlink()
    with pytest.raises(VideoDecodeError, match="img_00004.jpg: missing frame 3"):
        open_video(str(folder), backend="frames")
    (folder / "img_00004.jpg").write_bytes(b"not a jpeg")
    with open_video(str(folder), backend="frames") as reader:
        assert reader.num_frames == 10
        with pytest.raises(VideoDecodeError, match="img_00004.jpg: missing or unreadable frame 3"):
            reader.read([2, 3])
    with pytest.raises(VideoDecodeError, match="no frame"):
        open_video(str(folder), backend="frames", start_index=0)
    with pytest.raises(VideoDecodeError, match="frame folder not found"):
        open_video(str(tmp_path / "absent"), backend="frames")


def test_bad_indices_and_empty_reads(make_index_video):
    with open_video(make_index_video("index.mp4", 20)) as reader:
        assert reader.read([]).shape == (0, 32, 48, 3)
        with pytest.raises(IndexError, match="outside \\[0, 20\\)"):
            reader.read([3, 20])
        with pytest.raises(IndexError):
            reader.read([-1])
        with pytest.raises(TypeError):
            reader.read([1.5])


def test_backend_selection(make_index_video, real_clips_dir):
    cfg = get_cfg()
    cfg.DATA.DECODING_BACKEND = "frames"
    cfg.DATA.FRAME_TEMPLATE = "img_{:05d}.jpg"
    assert isinstance(open_video_from_cfg(cfg, os.path.join(real_clips_dir, "imgs")), FrameFolderReader)
    assert isinstance(open_video(make_index_video("index.mp4", 5)), PyAVReader)
    with pytest.raises(ValueError, match="DATA.DECODING_BACKEND: unknown back end 'decord'"):
        open_video("x.mp4", backend="decord")


def test_torchcodec_backend_agrees_with_pyav(make_index_video):
    if not torchcodec_available():
        pytest.skip("torchcodec is not installed (optional back end)")
    path = make_index_video("index.mp4", 40)
    indices = [0, 13, 12, 39, 39]
    with open_video(path, backend="torchcodec") as fast, open_video(path) as reference:
        assert (fast.num_frames, fast.height, fast.width) == (40, 32, 48)
        np.testing.assert_array_equal(fast.read(indices), reference.read(indices))


def test_torchcodec_backend_unavailable_message(monkeypatch):
    monkeypatch.setattr(video_reader, "_TorchCodecDecoder", None)
    with pytest.raises(ImportError, match="pip install torchcodec"):
        open_video("x.mp4", backend="torchcodec")
