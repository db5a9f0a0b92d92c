"""The ``xiaofei`` command as a user runs it: predict an image, refuse a photo of a person, invoke a
function with an event file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from PIL import Image

from tests import films

ROOT = Path(__file__).resolve().parent.parent


def run(*args: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {
        "XIAOFEI_STORAGE": f"file://{tmp_path / 'store'}",
        "XIAOFEI_SECRET": "cli-test-secret",
        "PATH": "/usr/bin:/bin",
    }
    return subprocess.run(
        [sys.executable, "-m", "xiaofei", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )


def test_predict_a_chest_xray(tmp_path: Path) -> None:
    image = films.real_path(3, "PNEUMONIA")  # a real film, read in place
    out = run("predict", str(image), "--json", "--heatmap", str(tmp_path / "heat.png"), tmp_path=tmp_path)
    assert out.returncode == 0, out.stderr
    answer = json.loads(out.stdout)
    assert answer["model"]["name"] == "pneumonia" and answer["quality"]["ok"]
    # AND --heatmap writes the film with the heat drawn over it, at the film's size and aspect
    with Image.open(tmp_path / "heat.png") as heat:
        assert heat.format == "PNG" and heat.mode == "RGB" and heat.size == Image.open(image).size


def test_a_photo_of_a_person_is_refused_not_diagnosed(tmp_path: Path) -> None:
    from skimage import data  # a real photograph shipped inside scikit-image's wheel

    photo = tmp_path / "person.jpg"
    Image.fromarray(data.astronaut()).save(photo)
    out = run("predict", str(photo), tmp_path=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "REFUSED (not_a_radiograph)" in out.stdout and "No diagnosis" in out.stdout
    assert "answer:" not in out.stdout


def test_bad_file_and_invoke(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not an image")
    out = run("predict", str(text), tmp_path=tmp_path)
    assert out.returncode == 2 and "unsupported_format" in out.stderr and "Traceback" not in out.stderr
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"httpMethod": "GET", "path": "/healthz", "headers": {}, "queryString": {}}))
    out = run("invoke", "predict", "--event", str(event), tmp_path=tmp_path)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["statusCode"] == 200
