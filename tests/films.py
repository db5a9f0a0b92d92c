"""Chest films for the tests: drawn ones (always here) and real ones (``../shared/data``, read in place).

The bundled pneumonia model reads real films, and real films may not be copied into the project. So a
test that needs the model to *accept* a film takes a real one with ``real()`` (skipped where shared/data
is absent); a test of the plumbing around a prediction (events, storage, history) takes a drawn one with
``drawn()`` and must not depend on whether the gate accepts it.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest

from model.pipeline import realsets
from model.pipeline.synthetic import make_chest_xray


def drawn(label: str = "normal", seed: int = 0, size: tuple[int, int] = (640, 560)) -> bytes:
    """A drawn chest film (the demo generator) as JPEG bytes."""
    buf = io.BytesIO()
    make_chest_xray(label, np.random.default_rng(seed), size=size).save(buf, "JPEG", quality=90)
    return buf.getvalue()


def real_path(index: int = 0, label: str = "NORMAL") -> Path:
    """A native-resolution Kermany film (``kermany-native/train/NORMAL`` or ``PNEUMONIA``)."""
    data = realsets.shared_data()
    if data is None:
        pytest.skip("needs a real chest film from ../shared/data (absent: a fresh clone)")
    files = realsets.images(data / "kermany-native" / "train" / label)
    return files[index % len(files)]


def real(index: int = 0, label: str = "NORMAL") -> bytes:
    return real_path(index, label).read_bytes()
