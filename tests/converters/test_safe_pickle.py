"""The restricted unpickler: numpy arrays and plain containers from Python 2 and 3 pickles, nothing else."""
import io
import os
import pickle
import struct

import numpy as np
import pytest

from slowfast.converters.safe_pickle import UnsafePickleError, load_weights_pickle


class Python2Pickler(pickle._Pickler):
    """Writes ``bytes`` as Python 2 ``str`` opcodes (what Caffe2-era files hold)."""

    dispatch = dict(pickle._Pickler.dispatch)

    def save_python2_str(self, obj):
        size = len(obj)
        if size < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([size]) + obj)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", size) + obj)
        self.memoize(obj)

    dispatch[bytes] = save_python2_str


def python2_pickle(obj) -> bytes:
    """A protocol-2 pickle as Python 2 wrote it: ``str`` buffers and ``numpy.core.multiarray`` names."""
    buffer = io.BytesIO()
    Python2Pickler(buffer, protocol=2).dump(obj)
    data = buffer.getvalue().replace(b"numpy._core.multiarray\n", b"numpy.core.multiarray\n")
    assert b"numpy.core.multiarray\n" in data and b"_codecs" not in data
    return data


def write(tmp_path, name: str, data: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def test_python2_pickle_of_arrays_is_read_with_latin1(tmp_path):
    blobs = {"conv1_w": np.random.RandomState(0).randn(4, 3, 1, 7, 7).astype(np.float32),
             "model_iter": np.array([1234], dtype=np.int64)}
    loaded = load_weights_pickle(write(tmp_path, "py2.pkl", python2_pickle({"blobs": blobs})))
    assert set(loaded["blobs"]) == {"conv1_w", "model_iter"}
    assert np.array_equal(loaded["blobs"]["conv1_w"], blobs["conv1_w"])  # every byte survives latin-1
    assert loaded["blobs"]["model_iter"].tolist() == [1234]


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_python3_numpy2_pickles_are_read(tmp_path, protocol):
    array = np.arange(12, dtype=np.float32).reshape(3, 4)
    data = pickle.dumps({"blobs": {"a": array, "b": [1, 2.5, "x"]}}, protocol=protocol)
    loaded = load_weights_pickle(write(tmp_path, f"p{protocol}.pkl", data))
    assert np.array_equal(loaded["blobs"]["a"], array) and loaded["blobs"]["b"] == [1, 2.5, "x"]


class RunsAShellCommand:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class RunsEval:
    def __reduce__(self):
        return (eval, ("__import__('os').getcwd()",))


@pytest.mark.parametrize("payload", ["system", "eval"])
def test_a_pickle_that_would_run_code_is_refused_and_nothing_runs(tmp_path, payload):
    marker = tmp_path / "pwned"
    bomb = RunsAShellCommand(marker) if payload == "system" else RunsEval()
    data = pickle.dumps({"blobs": {"conv1_w": np.zeros(3), "x": bomb}}, protocol=2)
    with pytest.raises(UnsafePickleError) as refused:
        load_weights_pickle(write(tmp_path, "bomb.pkl", data))
    assert refused.value.global_name in ("posix.system", "__builtin__.eval")
    assert not marker.exists()


def test_codecs_other_than_latin1_are_refused(tmp_path):
    # _codecs.encode is allowed for protocol-2 bytes only; a compressor codec is not data.
    data = (b"\x80\x02c_codecs\nencode\nq\x00X\x01\x00\x00\x00xX\x0a\x00\x00\x00zlib_codec\x86R.")
    with pytest.raises(UnsafePickleError, match="zlib_codec"):
        load_weights_pickle(write(tmp_path, "codec.pkl", data))
