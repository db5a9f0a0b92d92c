"""The predict function end to end: real events in every platform shape → real ONNX inference on the
bundled models → the answer of docs/API.md; bad input → its documented code, and nothing written."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from functions.predict.index import main_handler as predict_handler
from model.pipeline.synthetic import make_chest_xray
from tests import films, imagegen
from tests.conftest import wx_context
from xiaofei.app import App

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "model" / "samples"


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def first_sample(prefix: str) -> bytes:
    return sorted(SAMPLES.glob(prefix + "*"))[0].read_bytes()


def http_event(
    method: str,
    path: str,
    body: bytes = b"",
    content_type: str = "application/json",
    headers: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The SCF function-URL event (binary bodies base64-encoded, as the platform sends them)."""
    return {
        "httpMethod": method,
        "path": path,
        "queryString": query or {},
        "headers": {"content-type": content_type, "x-scf-remote-addr": "1.2.3.4", **(headers or {})},
        "body": base64.b64encode(body).decode(),
        "isBase64Encoded": True,
    }


def call(event: dict[str, Any], context: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
    result = predict_handler(event, context or {"request_id": "req-test"})
    return result["statusCode"], json.loads(result["body"])


def stored_files(app: App) -> list[str]:
    """User data in the store (the model registry's own objects left out)."""
    root = Path(app.settings.storage.removeprefix("file://"))
    files = (str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and not p.name.startswith("."))
    return sorted(f for f in files if not f.startswith(("models/", "audit/", "registry/")))


def assert_answer(answer: dict[str, Any], model: str, labels: int) -> None:
    assert answer["model"]["name"] == model
    # Every answer says what its model is: a demo (skin), or whom it was trained on (pneumonia).
    assert answer["notice"]["zh"] and answer["notice"]["en"]
    if answer["model"]["demo"]:
        assert answer["demo_notice"] == answer["notice"] and answer["model"]["trained_on"] is None
    else:
        assert "demo_notice" not in answer
        assert answer["model"]["trained_on"]["en"] in answer["notice"]["en"]
        assert "not been clinically validated" in answer["notice"]["en"]
    assert answer["disclaimer"]["zh"] == "本产品仅作辅助诊断使用，如有不适请及时就医"
    probs = answer["probabilities"]
    assert len(probs) == labels
    assert [p["p"] for p in probs] == sorted((p["p"] for p in probs), reverse=True)
    assert sum(p["p"] for p in probs) == pytest.approx(1.0, abs=1e-4)
    assert all(p["label_zh"] and p["label_en"] for p in probs)
    if answer["quality"]["ok"]:
        assert answer["label"] == probs[0]["label"] and answer["confidence"] == pytest.approx(probs[0]["p"])
    assert set(answer["latency_ms"]) >= {"decode", "infer", "total"}


# --- HTTP -------------------------------------------------------------------------------------------


def test_http_json_base64_anonymous(app: App) -> None:
    # GIVEN an anonymous browser with a chest X-ray, sent as base64 JSON
    body = json.dumps({"image": base64.b64encode(films.drawn("bacterial")).decode()}).encode()
    # WHEN the function-URL event reaches the predict handler
    status, answer = call(http_event("POST", "/predict", body))
    # THEN it answers with the pneumonia model, a heatmap inline, and stores nothing
    assert status == 200
    assert_answer(answer, "pneumonia", 3)
    assert answer["heatmap"]["data_url"].startswith("data:image/png;base64,")
    assert stored_files(app) == []


def test_http_multipart_and_raw_bodies(app: App) -> None:
    image = first_sample("skin-")
    boundary = "----xiaofei-boundary"
    multipart = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="model"\r\n\r\nskin\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="a.jpg"\r\n'
            f"Content-Type: image/jpeg\r\n\r\n"
        ).encode()
        + image
        + f"\r\n--{boundary}--\r\n".encode()
    )
    status, answer = call(
        http_event("POST", "/predict", multipart, f"multipart/form-data; boundary={boundary}")
    )
    assert status == 200, answer
    assert_answer(answer, "skin", 8)
    status, answer = call(http_event("POST", "/predict", image, "image/jpeg", query={"model": "skin"}))
    assert status == 200 and answer["model"]["name"] == "skin"


def test_http_answer_carries_cors_and_request_id(app: App) -> None:
    result = predict_handler(http_event("OPTIONS", "/predict"), {"request_id": "req-cors"})
    assert result["statusCode"] == 204
    assert result["headers"]["Access-Control-Allow-Origin"] == "*"
    assert "Authorization" in result["headers"]["Access-Control-Allow-Headers"]
    result = predict_handler(http_event("GET", "/healthz"), {"request_id": "req-cors"})
    assert result["headers"]["X-Request-Id"] == "req-cors"


def test_api_gateway_event_with_stage_prefix(app: App) -> None:
    image = films.drawn("normal")
    event = {
        "requestContext": {
            "serviceId": "service-x",
            "path": "/predict",
            "httpMethod": "POST",
            "requestId": "apigw-req",
            "identity": {"secretId": "AKIDsecret"},
            "sourceIp": "10.0.0.1",
            "stage": "release",
        },
        "headers": {"Content-Type": "image/jpeg"},
        "body": base64.b64encode(image).decode(),
        "path": "/release/predict",
        "queryString": {},
        "httpMethod": "POST",
    }
    status, answer = call(event)
    assert status == 200 and answer["model"]["name"] == "pneumonia"


def test_signed_in_browser_keeps_history(app: App) -> None:
    # GIVEN a browser session token
    status, session = call(http_event("POST", "/session"))
    assert status == 200 and session["token_type"] == "Bearer"
    auth = {"authorization": f"Bearer {session['token']}"}
    # WHEN it predicts
    status, answer = call(http_event("POST", "/predict", films.drawn("viral"), "image/jpeg", auth))
    assert status == 200
    # THEN image, heatmap and the record are stored under its uid, and the answer links them
    files = stored_files(app)
    assert any(f.startswith("images/") for f in files) and any(f.startswith("heatmaps/") for f in files)
    assert any(f.startswith("history/") for f in files)
    assert answer["image"]["url"] and answer["heatmap"]["url"]
    uid = files[0].split("/")[1]
    assert all(f.split("/")[1] == uid for f in files)


def test_stored_image_has_no_metadata(app: App) -> None:
    # GIVEN a phone photo of a film with EXIF (camera, GPS, comment) and a colour profile
    photo = imagegen.exif_jpeg(
        make_chest_xray("viral", np.random.default_rng(5), size=(600, 800)).convert("RGB")
    )
    token = call(http_event("POST", "/session"))[1]["token"]
    auth = {"authorization": f"Bearer {token}"}
    status, answer = call(http_event("POST", "/predict", photo, "image/jpeg", auth))
    assert status == 200
    # THEN the stored copy has none of it
    stored = app.store.get(answer["image"]["key"])
    with Image.open(io.BytesIO(stored)) as kept:
        assert not kept.getexif() and "exif" not in kept.info and "icc_profile" not in kept.info
        assert "comment" not in kept.info


def test_stored_copy_of_a_client_jpeg_is_its_bytes_without_metadata(app: App) -> None:
    # GIVEN a photo as the clients now send it (upright, long side <= 2048), with a comment and EXIF GPS
    from tests.test_imaging import assert_no_metadata
    from xiaofei.imaging.jpegclean import clean_jpeg

    film = make_chest_xray("viral", np.random.default_rng(6), size=(900, 1200)).convert("L")
    buf = io.BytesIO()
    film.save(buf, "JPEG", quality=90, exif=imagegen.metadata_exif(1).tobytes(), comment=b"Zhang San")
    token = call(http_event("POST", "/session"))[1]["token"]
    status, answer = call(
        http_event("POST", "/predict", buf.getvalue(), "image/jpeg", {"authorization": f"Bearer {token}"})
    )
    assert status == 200
    # THEN the stored copy is the same JPEG with its metadata segments dropped: not decoded, not re-encoded
    stored = app.store.get(answer["image"]["key"])
    assert stored == clean_jpeg(buf.getvalue())
    assert_no_metadata(stored)
    # AND a turned 12 MP phone photo is made upright and small from the decoded image instead
    status, photo = call(
        http_event(
            "POST", "/predict", imagegen.phone_photo(), "image/jpeg", {"authorization": f"Bearer {token}"}
        )
    )
    assert status == 200
    with Image.open(io.BytesIO(app.store.get(photo["image"]["key"]))) as kept:
        assert kept.height > kept.width and max(kept.size) <= 1024 and not kept.getexif()


def test_a_failed_prediction_leaves_no_early_written_image(app: App, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a client JPEG (its stored copy is written beside the model) and a model that fails
    from xiaofei.errors import ModelUnavailable
    from xiaofei.usecases import predict as predicting

    def broken(*_: Any) -> Any:
        raise ModelUnavailable()

    monkeypatch.setattr(predicting, "_answer", broken)
    token = call(http_event("POST", "/session"))[1]["token"]
    status, answer = call(
        http_event(
            "POST",
            "/predict",
            films.drawn("viral"),
            "image/jpeg",
            {"authorization": f"Bearer {token}"},
        )
    )
    # THEN the caller gets the error and the image written early is gone again
    assert status == 503 and answer["error"]["code"] == "model_unavailable"
    assert not [f for f in stored_files(app) if f.startswith("images/")]


# --- mini program cloud calls -----------------------------------------------------------------------


def test_cloud_call_uses_platform_identity_only(app: App) -> None:
    image = base64.b64encode(films.drawn("bacterial")).decode()
    # GIVEN a call whose event claims an identity, with no platform identity in the context
    forged = {"image": image, "userInfo": {"openId": "victim-openid", "appId": "wx1"}, "openid": "victim"}
    result = predict_handler(forged, {"request_id": "r1"})
    # THEN it is refused, and nothing is written
    assert result["error"]["code"] == "unauthorized"
    assert stored_files(app) == []
    # GIVEN the platform's context
    result = predict_handler({"image": image, "model": "pneumonia"}, wx_context("oUser-A"))
    assert "error" not in result, result
    assert_answer(result, "pneumonia", 3)
    assert result["image"]["key"].startswith("images/") and "oUser-A" not in json.dumps(result)
    files = stored_files(app)
    assert files and not any("oUser-A" in f for f in files)


def test_cloud_call_idempotent_retry(app: App) -> None:
    image = base64.b64encode(films.drawn("normal")).decode()
    event = {"image": image, "request_id": "client-retry-0001"}
    first = predict_handler(event, wx_context("oUser-B"))
    second = predict_handler(event, wx_context("oUser-B"))
    assert first["id"] == second["id"]
    assert len([f for f in stored_files(app) if f.startswith("history/")]) == 1


# --- bad input --------------------------------------------------------------------------------------


def _png(size: tuple[int, int] = (64, 64)) -> bytes:
    buf = io.BytesIO()
    Image.new("L", size, 90).save(buf, "PNG")
    return buf.getvalue()


BAD_HTTP = [
    ("not json", b"{not json", "application/json", 400, "bad_request"),
    ("json array", b"[1,2]", "application/json", 400, "bad_request"),
    ("no image", b"{}", "application/json", 400, "empty_image"),
    ("image not base64", b'{"image": "%%%"}', "application/json", 400, "bad_request"),
    ("image not a string", b'{"image": 12}', "application/json", 400, "bad_request"),
    (
        "unknown model",
        json.dumps({"image": base64.b64encode(_png()).decode(), "model": "../../etc"}).encode(),
        "application/json",
        400,
        "unknown_model",
    ),
    ("text file", b"hello, this is not an image", "image/jpeg", 415, "unsupported_format"),
    ("gif", b"GIF89a" + b"\x00" * 64, "image/gif", 415, "unsupported_format"),
    ("pdf", b"%PDF-1.7\n" + b"\x00" * 64, "application/octet-stream", 415, "unsupported_format"),
    ("truncated png", _png()[:60], "image/png", 400, "corrupt_image"),
    ("empty raw body", b"", "image/png", 400, "empty_image"),
    ("too big", b"\xff\xd8\xff" + b"\x00" * 10_000_100, "image/jpeg", 413, "payload_too_large"),
]


@pytest.mark.parametrize(
    ("why", "body", "content_type", "status", "code"), BAD_HTTP, ids=[b[0] for b in BAD_HTTP]
)
def test_bad_http_input(app: App, why: str, body: bytes, content_type: str, status: int, code: str) -> None:
    token = call(http_event("POST", "/session"))[1]["token"]
    got_status, answer = call(
        http_event("POST", "/predict", body, content_type, {"authorization": f"Bearer {token}"})
    )
    assert (got_status, answer["error"]["code"]) == (status, code)
    message = answer["error"]["message"]
    assert message["en"] and message["zh"] and answer["error"]["status"] == status
    text = json.dumps(answer)
    assert "Traceback" not in text and "/work/" not in text and ".py" not in text
    assert stored_files(app) == []


def test_image_too_large_by_header(app: App) -> None:
    # a valid PNG whose header claims 20000 × 20000 px: refused before any pixel is allocated
    status, answer = call(http_event("POST", "/predict", imagegen.forged_png(20000, 20000), "image/png"))
    assert (status, answer["error"]["code"]) == (413, "image_too_large")


def test_bad_cloud_calls(app: App) -> None:
    ctx = wx_context("oUser-C")
    assert predict_handler({"image": "%%%"}, ctx)["error"]["code"] == "bad_request"
    assert predict_handler({}, ctx)["error"]["code"] == "empty_image"
    assert predict_handler({"action": "drop_tables"}, ctx)["error"]["code"] == "unknown_action"
    assert (
        predict_handler({"fileID": "cloud://other-env.bucket/uploads/x.jpg"}, ctx)["error"]["code"]
        == "not_found"
    )
    assert predict_handler("not an object", ctx)["error"]["code"] == "bad_request"  # type: ignore[arg-type]
    assert stored_files(app) == []


def test_unknown_routes_and_methods(app: App) -> None:
    assert call(http_event("GET", "/nope"))[1]["error"]["code"] == "not_found"
    status, answer = call(http_event("PUT", "/predict"))
    assert (status, answer["error"]["code"]) == (405, "method_not_allowed")
    status, answer = call(http_event("GET", "/history", headers={"authorization": "Bearer forged.token.x"}))
    assert (status, answer["error"]["code"]) == (401, "unauthorized")


def test_models_and_health(app: App) -> None:
    status, models = call(http_event("GET", "/models"))
    assert status == 200 and models["default"] == "pneumonia"
    names = {m["name"]: m for m in models["models"]}
    assert set(names) == {"pneumonia", "skin"}
    assert names["pneumonia"]["demo"] is False and names["pneumonia"]["training"]["synthetic"] is False
    pneumonia = names["pneumonia"]
    assert "1-5" in pneumonia["trained_on"]["en"] and pneumonia["clinically_validated"] is False
    assert names["skin"]["demo"] is True and names["skin"]["trained_on"] is None
    assert "cam" not in json.dumps(models) or "weights" not in json.dumps(models)
    status, health = call(http_event("GET", "/healthz"))
    assert status == 200 and health["ok"] and set(health["models"]) == {"pneumonia", "skin"}
