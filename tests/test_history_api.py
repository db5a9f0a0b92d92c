"""The history function and the async upload path, through the real handlers: a user sees, opens and
deletes only their own records; the upload → COS trigger → poll path completes a pending record."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from functions.history.index import main_handler as history_handler
from functions.predict.index import main_handler as predict_handler
from tests import films
from tests.conftest import wx_context
from tests.test_predict import call, first_sample, http_event, stored_files
from xiaofei.adapters.local_server import cos_event
from xiaofei.app import App


def predict_as(openid: str, sample_prefix: str | None = None) -> dict[str, Any]:
    """A stored prediction: a drawn chest film, or the first bundled sample named ``sample_prefix``."""
    image = base64.b64encode(first_sample(sample_prefix) if sample_prefix else films.drawn()).decode()
    result = predict_handler({"image": image}, wx_context(openid))
    assert "error" not in result, result
    return result


def history(openid: str, **data: Any) -> dict[str, Any]:
    result: dict[str, Any] = history_handler(data, wx_context(openid))
    return result


def test_list_get_delete_own_records(app: App) -> None:
    ids = [predict_as("oAlice")["id"] for _ in range(3)]
    listed = history("oAlice", action="list", limit=2)
    assert [r["id"] for r in listed["items"]] == ids[::-1][:2]  # newest first
    rest = history("oAlice", action="list", limit=2, cursor=listed["next_cursor"])
    assert [r["id"] for r in rest["items"]] == ids[:1] and rest["next_cursor"] is None
    record = history("oAlice", action="get", id=ids[0])
    assert record["id"] == ids[0] and record["status"] == "done"
    assert "sig=" in record["image"]["url"] and "sig=" in record["heatmap"]["url"]  # short-lived, signed
    assert history("oAlice", action="delete", id=ids[0]) == {"deleted": ids[0]}
    assert history("oAlice", action="delete", id=ids[0])["error"]["code"] == "not_found"  # deleting twice
    assert [r["id"] for r in history("oAlice", action="list")["items"]] == ids[:0:-1]


def test_other_users_records_are_not_found(app: App) -> None:
    alice_id = predict_as("oAlice")["id"]
    # Bob cannot see, open or delete Alice's record: 404, never 403
    assert history("oBob", action="list")["items"] == []
    assert history("oBob", action="get", id=alice_id)["error"]["code"] == "not_found"
    assert history("oBob", action="delete", id=alice_id)["error"]["code"] == "not_found"
    assert history("oAlice", action="get", id=alice_id)["id"] == alice_id
    # and Alice's cursor means nothing to Bob
    for _ in range(2):
        predict_as("oAlice")
    cursor = history("oAlice", action="list", limit=1)["next_cursor"]
    assert history("oBob", action="list", cursor=cursor)["error"]["code"] == "bad_request"


@pytest.mark.parametrize(
    "bad_id",
    [
        "../../etc/passwd",
        "%2e%2e%2f",
        "/abs/path",
        "a\x00b",
        "",
        None,
        42,
        "0" * 27,
        "ZZZZZZZZZZZZZZZZZZZZZZZZZZ",
        ["x"],
    ],
)
def test_ids_are_validated(app: App, bad_id: Any) -> None:
    assert history("oAlice", action="get", id=bad_id)["error"]["code"] == "not_found"
    assert history("oAlice", action="delete", id=bad_id)["error"]["code"] == "not_found"


@pytest.mark.parametrize("limit", [0, 51, -1, "x", 1.5, True])
def test_limit_out_of_range(app: App, limit: Any) -> None:
    assert history("oAlice", action="list", limit=limit)["error"]["code"] == "bad_request"


@pytest.mark.parametrize("cursor", ["garbage", "../../", 12, "x" * 5000])
def test_cursor_tampering(app: App, cursor: Any) -> None:
    assert history("oAlice", action="list", cursor=cursor)["error"]["code"] == "bad_request"


def test_delete_all_erases_everything_of_that_user_only(app: App) -> None:
    predict_as("oAlice")
    predict_as("oAlice", "skin-")
    bob = predict_as("oBob")
    assert history("oAlice", action="delete_all")["deleted"] >= 2
    assert history("oAlice", action="list")["items"] == []
    files = stored_files(app)
    assert files and all(bob["image"]["key"].split("/")[1] == f.split("/")[1] for f in files)


def test_no_identity_no_history(app: App) -> None:
    assert (
        history_handler({"action": "list", "userInfo": {"openId": "oAlice"}}, {})["error"]["code"]
        == "unauthorized"
    )
    status, answer = call(http_event("GET", "/history"))
    assert (status, answer["error"]["code"]) == (401, "unauthorized")


def test_http_history_routes(app: App) -> None:
    token = call(http_event("POST", "/session"))[1]["token"]
    auth = {"authorization": f"Bearer {token}"}
    status, answer = call(http_event("POST", "/predict", films.drawn(), "image/jpeg", auth))
    assert status == 200
    hist = history_handler(http_event("GET", "/history", headers=auth, query={"limit": "10"}), {})
    items = json.loads(hist["body"])["items"]
    assert [i["id"] for i in items] == [answer["id"]]
    got = history_handler(http_event("GET", f"/history/{answer['id']}", headers=auth), {})
    assert got["statusCode"] == 200
    other = call(http_event("POST", "/session"))[1]["token"]
    stranger = history_handler(
        http_event("GET", f"/history/{answer['id']}", headers={"authorization": f"Bearer {other}"}), {}
    )
    assert stranger["statusCode"] == 404
    assert history_handler(http_event("DELETE", "/history", headers=auth), {})["statusCode"] == 200
    assert stored_files(app) == []


def test_upload_trigger_poll_path(app: App) -> None:
    # GIVEN a mini program user who asks where to upload
    upload = predict_handler({"action": "upload", "ext": "jpg"}, wx_context("oCarol"))
    assert upload["cloud_path"].startswith("uploads/") and "oCarol" not in upload["cloud_path"]
    # THEN the record is pending at once
    assert history("oCarol", action="get", id=upload["id"])["status"] == "pending"
    # WHEN the file lands in the bucket (what wx.cloud.uploadFile does) and COS fires its trigger
    app.store.put(upload["key"], films.drawn("bacterial"), "image/jpeg")
    summary = predict_handler(cos_event(upload["key"]), {"request_id": "cos"})
    assert summary == {"done": 1, "failed": 0, "skipped": 0}
    # THEN polling sees the answer, and a second trigger for the same object changes nothing
    record = history("oCarol", action="get", id=upload["id"])
    # A drawn film (tests/films.py): whether the gate accepts it is not this test's business; the
    # answer is there either way, labelled or refused with its reason.
    assert record["status"] == "done" and (record["label"] or record["quality"]["reason"])
    assert predict_handler(cos_event(upload["key"]), {})["skipped"] == 1


def test_upload_of_a_non_image_fails_the_record(app: App) -> None:
    upload = predict_handler({"action": "upload", "ext": "png"}, wx_context("oCarol"))
    app.store.put(upload["key"], b"definitely not an image", "image/png")
    assert predict_handler(cos_event(upload["key"]), {})["failed"] == 1
    record = history("oCarol", action="get", id=upload["id"])
    assert record["status"] == "failed" and record["error"]["code"] == "unsupported_format"


def test_file_id_of_own_upload_predicts_synchronously(app: App) -> None:
    upload = predict_handler({"action": "upload", "ext": "jpg"}, wx_context("oDan"))
    app.store.put(upload["key"], films.drawn("viral"), "image/jpeg")
    settings = app.settings
    file_id = f"cloud://{settings.cloud_env}.{settings.cloud_bucket}/{upload['key']}"
    # another user's fileID is not found; a fileID of another environment or bucket neither
    assert predict_handler({"fileID": file_id}, wx_context("oEve"))["error"]["code"] == "not_found"
    foreign = f"cloud://other-env.{settings.cloud_bucket}/{upload['key']}"
    assert predict_handler({"fileID": foreign}, wx_context("oDan"))["error"]["code"] == "not_found"
    answer = predict_handler({"fileID": file_id}, wx_context("oDan"))
    assert answer["id"] == upload["id"] and answer["status"] == "done"
    # the COS trigger that follows finds it done and skips it
    assert predict_handler(cos_event(upload["key"]), {})["skipped"] == 1


def test_upload_requests_are_validated(app: App) -> None:
    assert (
        predict_handler({"action": "upload", "ext": "exe"}, wx_context("oDan"))["error"]["code"]
        == "unsupported_format"
    )
    status, answer = call(http_event("POST", "/uploads", b'{"ext": "jpg"}'))
    assert (status, answer["error"]["code"]) == (401, "unauthorized")


def test_erasure_leaves_no_file(app: App) -> None:
    predict_as("oFrank")
    history("oFrank", action="delete_all")
    assert stored_files(app) == []


class FlakyStore:
    """The real store, except that writes under one prefix fail the way an unreachable bucket does."""

    def __init__(self, inner: Any, failing_prefix: str) -> None:
        self.inner = inner
        self.failing_prefix = failing_prefix

    def put(self, key: str, *args: Any, **kwargs: Any) -> str:
        from xiaofei.errors import StorageUnavailable

        if key.startswith(self.failing_prefix):
            raise StorageUnavailable()
        result: str = self.inner.put(key, *args, **kwargs)
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@pytest.mark.parametrize("failing_prefix", ["images/", "heatmaps/", "history/"])
def test_storage_failure_mid_prediction_leaves_nothing_and_a_retry_makes_one_record(
    app: App, failing_prefix: str
) -> None:
    image = base64.b64encode(films.drawn("viral")).decode()
    event = {"image": image, "request_id": "retry-after-fault-01"}
    real = app.store
    models = app.models  # the registry is bootstrapped before the fault is injected
    assert models is not None
    # GIVEN a bucket that fails while the prediction is being stored
    app.__dict__["store"] = FlakyStore(real, failing_prefix)
    app.__dict__.pop("history", None)
    failed = predict_handler(event, wx_context("oGrace"))
    # THEN the caller gets storage_unavailable and no orphan object or record is left
    assert failed["error"]["code"] == "storage_unavailable" and failed["error"]["status"] == 503
    assert stored_files(app) == []
    # WHEN the bucket recovers and the client retries with the same request id, twice
    app.__dict__["store"] = real
    app.__dict__.pop("history", None)
    first = predict_handler(event, wx_context("oGrace"))
    again = predict_handler(event, wx_context("oGrace"))
    # THEN exactly one record exists
    assert "error" not in first and again["id"] == first["id"]
    assert len([f for f in stored_files(app) if f.startswith("history/")]) == 1


class BarrierStore:
    """The real store, but a write of an image or a heatmap waits until the other one has started too."""

    def __init__(self, inner: Any) -> None:
        import threading

        self.inner = inner
        self.both_started = threading.Barrier(2, timeout=10)

    def put(self, key: str, *args: Any, **kwargs: Any) -> str:
        if key.startswith(("images/", "heatmaps/")):
            self.both_started.wait()  # raises BrokenBarrierError if the writes were one after the other
        result: str = self.inner.put(key, *args, **kwargs)
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_image_and_heatmap_are_written_side_by_side(app: App) -> None:
    image = base64.b64encode(films.drawn("viral")).decode()
    assert app.models is not None
    # GIVEN a store in which neither the image nor the heatmap write can finish before the other starts
    app.__dict__["store"] = BarrierStore(app.store)
    app.__dict__.pop("history", None)
    # THEN a prediction is stored: both went to the store at the same time, and the record after them
    answer = predict_handler({"image": image}, wx_context("oHeidi"))
    assert "error" not in answer, answer
    files = stored_files(app)
    assert {f.split("/")[0] for f in files} >= {"images", "heatmaps", "history"}


@pytest.mark.parametrize(
    ("file_id", "key"),
    [
        # WeChat's examples write the bucket with and without its -<appid> suffix: both are this bucket
        ("cloud://xiaofei-test-1a2b.7869-xiaofei-test-1a2b-1250000000/uploads/a/b.jpg", "uploads/a/b.jpg"),
        ("cloud://xiaofei-test-1a2b.7869-xiaofei-test-1a2b/uploads/a/b.jpg", "uploads/a/b.jpg"),
        ("cloud://xiaofei-test-1a2b.7869-xiaofei-test-1a2b/uploads/a/b/c.jpg", "uploads/a/b/c.jpg"),
        # another environment, another bucket, no key, not a fileID
        ("cloud://other-env.7869-xiaofei-test-1a2b/uploads/a/b.jpg", ""),
        ("cloud://xiaofei-test-1a2b.6f74-other-1250000000/uploads/a/b.jpg", ""),
        ("cloud://xiaofei-test-1a2b.7869-xiaofei-test-1a2b/", ""),
        ("cloud://xiaofei-test-1a2b/uploads/a/b.jpg", ""),
        ("https://xiaofei-test-1a2b.7869-xiaofei-test-1a2b/uploads/a/b.jpg", ""),
        (None, ""),
    ],
)
def test_file_id_forms(file_id: Any, key: str) -> None:
    from xiaofei.adapters.scf import key_from_file_id

    assert key_from_file_id(file_id, "xiaofei-test-1a2b", "7869-xiaofei-test-1a2b-1250000000") == key
    # configured without the suffix, the same fileIDs are accepted
    assert key_from_file_id(file_id, "xiaofei-test-1a2b", "7869-xiaofei-test-1a2b") == key


def test_file_id_without_the_appid_suffix_predicts(app: App) -> None:
    upload = predict_handler({"action": "upload", "ext": "jpg"}, wx_context("oFay"))
    app.store.put(upload["key"], films.drawn("viral"), "image/jpeg")
    bare = app.settings.cloud_bucket.rsplit("-", 1)[0]
    answer = predict_handler(
        {"fileID": f"cloud://{app.settings.cloud_env}.{bare}/{upload['key']}"}, wx_context("oFay")
    )
    assert answer["id"] == upload["id"] and answer["status"] == "done"


def test_a_retried_upload_and_predict_make_one_record(app: App) -> None:
    # GIVEN a browser session and a request id the client keeps for this one photo
    token = call(http_event("POST", "/session"))[1]["token"]
    auth = {"authorization": f"Bearer {token}"}
    ask = json.dumps({"ext": "jpg", "model": "pneumonia", "request_id": "photo-0001-retry"}).encode()
    # WHEN POST /uploads is sent twice (the first answer was lost) and both PUTs and predicts happen
    status, first = call(http_event("POST", "/uploads", ask, headers=auth))
    status2, second = call(http_event("POST", "/uploads", ask, headers=auth))
    assert (status, status2) == (200, 200)
    # THEN the retry gets the same upload (same id and key, a fresh URL), not a second pending record
    assert (second["id"], second["key"]) == (first["id"], first["key"]) and second["status"] == "pending"
    app.store.put(first["key"], films.drawn("viral"), "image/jpeg")
    body = json.dumps({"key": first["key"], "request_id": "photo-0001-retry"}).encode()
    answers = [call(http_event("POST", "/predict", body, headers=auth))[1] for _ in range(2)]
    assert {a["id"] for a in answers} == {first["id"]} and answers[0]["status"] == "done"
    status, listing = call(http_event("GET", "/history", headers=auth))
    assert status == 200 and [r["id"] for r in listing["items"]] == [first["id"]]
    # AND the cloud call form takes the same request id
    up1 = predict_handler(
        {"action": "upload", "ext": "jpg", "request_id": "mp-photo-0001"}, wx_context("oGus")
    )
    up2 = predict_handler(
        {"action": "upload", "ext": "jpg", "request_id": "mp-photo-0001"}, wx_context("oGus")
    )
    assert up1["id"] == up2["id"] and up1["cloud_path"] == up2["cloud_path"]
    assert len(history("oGus", action="list")["items"]) == 1
