"""Read pickled weight files (the SlowFast model zoo's Caffe2 ``.pkl``) without running their code.

``pickle.load`` calls whatever callable a file names, so a crafted ``.pkl`` runs arbitrary code the
moment it is opened. :class:`WeightsUnpickler` resolves only the globals needed to rebuild numpy
arrays inside plain containers (dict, list, tuple, str, numbers); any other global is refused with
:class:`UnsafePickleError` *before* it is called, so nothing in a refused file runs.

Allowed globals:

* ``numpy.core.multiarray`` names (what Python 2 era and numpy 1 files reference) and the
  ``numpy._core.multiarray`` names numpy 2 writes: ``_reconstruct`` and ``scalar``;
  ``numpy._core.numeric._frombuffer`` (numpy's protocol-5 arrays); ``numpy.ndarray``, ``numpy.dtype``;
* ``_codecs.encode`` with the latin-1 codec only (how Python 3 writes ``bytes`` at protocol 2);
* ``collections.OrderedDict``.

Python 2 ``str`` objects (the raw array buffers of old files) are decoded as latin-1, which maps
every byte to one code point, so numpy gets the original bytes back.
"""
import importlib
import pickle
from typing import Any, Callable, Dict, Tuple

_NUMPY_CORE = ("numpy.core", "numpy._core")
_LATIN1 = ("latin1", "latin-1", "iso-8859-1", "iso8859-1", "l1")


class UnsafePickleError(pickle.UnpicklingError):
    """The pickle references a global outside the allowed set (it would run code)."""

    def __init__(self, module: str, name: str):
        super().__init__(f"{module}.{name}")
        self.global_name = f"{module}.{name}"


def _numpy_core_attr(submodule: str, name: str) -> Callable:
    """``numpy._core.<submodule>.<name>`` on numpy 2, ``numpy.core...`` on numpy 1."""
    for package in ("numpy._core", "numpy.core"):
        try:
            return getattr(importlib.import_module(f"{package}.{submodule}"), name)
        except (ImportError, AttributeError):
            continue
    raise UnsafePickleError(f"numpy.core.{submodule}", name)


def _latin1_encode(text: str, encoding: str = "utf-8", errors: str = "strict") -> bytes:
    """``_codecs.encode`` restricted to latin-1 (other codecs are not data, e.g. compressors)."""
    if encoding.lower() not in _LATIN1:
        raise UnsafePickleError("_codecs", f"encode(..., {encoding!r})")
    return text.encode("latin-1", errors)


def _allowed_globals() -> Dict[Tuple[str, str], Callable[[], Any]]:
    import collections

    import numpy

    table: Dict[Tuple[str, str], Callable[[], Any]] = {
        ("numpy", "ndarray"): lambda: numpy.ndarray,
        ("numpy", "dtype"): lambda: numpy.dtype,
        ("_codecs", "encode"): lambda: _latin1_encode,
        ("collections", "OrderedDict"): lambda: collections.OrderedDict,
    }
    for core in _NUMPY_CORE:
        table[(f"{core}.multiarray", "_reconstruct")] = lambda: _numpy_core_attr("multiarray", "_reconstruct")
        table[(f"{core}.multiarray", "scalar")] = lambda: _numpy_core_attr("multiarray", "scalar")
        table[(f"{core}.numeric", "_frombuffer")] = lambda: _numpy_core_attr("numeric", "_frombuffer")
    return table


class WeightsUnpickler(pickle.Unpickler):
    """An unpickler that rebuilds numpy arrays and plain containers and refuses everything else."""

    _ALLOWED = None

    def find_class(self, module: str, name: str):
        if WeightsUnpickler._ALLOWED is None:
            WeightsUnpickler._ALLOWED = _allowed_globals()
        resolve = WeightsUnpickler._ALLOWED.get((module, name))
        if resolve is None:
            raise UnsafePickleError(module, name)
        return resolve()

    def persistent_load(self, pid):
        raise pickle.UnpicklingError(f"persistent id {pid!r} (references to external objects are not allowed)")


def load_weights_pickle(path: str) -> Any:
    """Unpickle ``path`` with :class:`WeightsUnpickler` (latin-1 for Python 2 strings).

    Raises:
        UnsafePickleError: the file references a global outside the allowed set; nothing was run.
    """
    with open(path, "rb") as pickle_file:
        return WeightsUnpickler(pickle_file, encoding="latin1").load()
