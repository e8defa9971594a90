"""Fixture generators for clipcv's Swift tests.

Every module in this package exposes `generate(repo_root: pathlib.Path)` and writes its fixtures under
`Tests/<Target>Tests/Fixtures/`; `scripts/make_fixtures.py` runs them. The helpers below are shared so that
every fixture writes numbers and version notes the same way.
"""

import json
import math
import pathlib

import numpy as np


def library_versions() -> dict:
    """Versions of the libraries a fixture was generated with (recorded in each fixture's README/notes)."""
    import importlib
    import platform

    versions = {"python": platform.python_version()}
    for name in ("torch", "transformers", "peft", "safetensors", "numpy", "sklearn", "PIL"):
        try:
            versions[name] = importlib.import_module(name).__version__
        except ImportError:
            pass
    return versions


def _float32_texts(values: np.ndarray) -> list:
    """Shortest decimal text for each float32 that reads back as exactly that value, both when parsed straight to
    Float and when parsed to Double and then rounded to Float (JSON readers do either). numpy's `str` of a float32
    is the shortest text that parses straight back (Dragon4); the Double route is checked and, where double
    rounding would bite, 9 or 17 significant digits are used instead."""
    flat = np.ascontiguousarray(values, dtype=np.float32).ravel()
    if not np.all(np.isfinite(flat)):
        raise ValueError("non-finite float32 values cannot go into JSON")
    texts = [str(v) for v in flat]
    back = np.array([float(t) for t in texts], dtype=np.float64).astype(np.float32)
    for i in np.flatnonzero(back.view(np.uint32) != flat.view(np.uint32)):
        nine = "%.9g" % flat[i]
        texts[i] = nine if np.float32(float(nine)) == flat[i] and "." in nine else repr(float(flat[i]))
    return texts


class _Float32Array:
    """Marks an array whose numbers are written as float32 (shortest exact text)."""

    def __init__(self, array):
        self.array = np.asarray(array, dtype=np.float32)


def f32(array) -> "_Float32Array":
    """Wrap a float32 tensor/array/scalar so `write_json` writes its exact float32 values compactly."""
    if hasattr(array, "detach"):
        array = array.detach().cpu().numpy()
    return _Float32Array(array)


def _encode(obj, out: list) -> None:
    if isinstance(obj, _Float32Array):
        _encode_f32(obj.array, out)
    elif isinstance(obj, dict):
        out.append("{")
        for i, (key, value) in enumerate(obj.items()):
            if i:
                out.append(",")
            out.append(json.dumps(str(key)))
            out.append(":")
            _encode(value, out)
        out.append("}")
    elif isinstance(obj, (list, tuple)):
        out.append("[")
        for i, value in enumerate(obj):
            if i:
                out.append(",")
            _encode(value, out)
        out.append("]")
    elif isinstance(obj, (bool, np.bool_)):
        out.append("true" if obj else "false")
    elif isinstance(obj, (int, np.integer)):
        out.append(str(int(obj)))
    elif isinstance(obj, (float, np.floating)):
        if not math.isfinite(float(obj)):
            raise ValueError(f"non-finite float {obj} cannot go into JSON")
        out.append(repr(float(obj)))
    elif obj is None:
        out.append("null")
    elif isinstance(obj, str):
        out.append(json.dumps(obj, ensure_ascii=False))
    else:
        raise TypeError(f"cannot write {type(obj).__name__} to JSON")


def _encode_f32(array: np.ndarray, out: list) -> None:
    texts = iter(_float32_texts(array))
    if array.ndim == 0:
        out.append(next(texts))
        return

    def nest(shape):
        if len(shape) == 1:
            out.append("[" + ",".join(next(texts) for _ in range(shape[0])) + "]")
            return
        out.append("[")
        for i in range(shape[0]):
            if i:
                out.append(",")
            nest(shape[1:])
        out.append("]")

    nest(array.shape)


def write_json(path: pathlib.Path, obj) -> None:
    """Compact JSON (one line, no spaces) with float32 arrays wrapped by `f32` written exactly and short.
    Plain Python floats (float64, e.g. learning rates) are written with Python's round-trip `repr`."""
    out: list = []
    _encode(obj, out)
    path.write_text("".join(out) + "\n", encoding="utf-8")
    # Guard the promise: the text parses back to the same float32 values.
    json.loads(path.read_text(encoding="utf-8"))
