"""The functions that never read an image keep numpy, Pillow and ONNX Runtime off their cold start."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("numpy", "PIL", "onnxruntime", "torch")


def loaded_after_import(function: str) -> list[str]:
    code = (
        f"import json, sys; sys.path.insert(0, {str(ROOT / 'functions' / function)!r}); import index; "
        f"print(json.dumps([m for m in {list(HEAVY)!r} if m in sys.modules]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    return list(json.loads(out.stdout))


def test_history_function_imports_no_image_or_model_code() -> None:
    assert loaded_after_import("history") == []


def test_predict_function_never_imports_torch() -> None:
    assert "torch" not in loaded_after_import("predict")
