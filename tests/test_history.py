"""HistoryRepo on LocalStore and over real HTTP against the local S3 server: ordering, paging (also while
records are being added), cursor tampering, other users' ids, deletion, erasure, idempotent retries,
path traversal, and 100 concurrent predictions for 10 users."""

from __future__ import annotations

import base64
import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.s3server import S3Server
from xiaofei.errors import BadRequest, Conflict, NotFound
from xiaofei.identity import uid_for
from xiaofei.ids import id_time_ms, new_id
from xiaofei.records.history import IDEM_STALE_S, HistoryRepo
from xiaofei.records.keys import idem_key, keys_for, parse_upload_key
from xiaofei.storage.open import LocalStore, ObjectStore, S3Store

SECRET = b"h" * 32
ALICE = uid_for("web", "alice", SECRET)
BOB = uid_for("web", "bob", SECRET)
T0 = 1_790_000_000_000  # ms


@pytest.fixture(params=["local", "http"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ObjectStore:
    if request.param == "local":
        return LocalStore(tmp_path / "store", signing_key=b"k" * 32)
    server: S3Server = request.getfixturevalue("s3_server")
    return S3Store(server.client("virtual"), server.create_bucket())


@pytest.fixture
def repo(store: ObjectStore) -> HistoryRepo:
    return HistoryRepo(store)


def record(uid: str, ms: int | None = None, *, status: str = "done", **extra: Any) -> dict[str, Any]:
    record_id = new_id(ms)
    keys = keys_for(uid, record_id)
    return {
        "id": record_id,
        "uid": uid,
        "status": status,
        "created_at": "2026-11-21T22:50:00Z",
        "updated_at": "2026-11-21T22:50:00Z",
        "model": {"name": "pneumonia", "version": "1.0.0-demo", "demo": True},
        "label": "normal",
        "confidence": 0.9,
        "image_key": keys["image"],
        "heatmap_key": keys["heatmap"],
        **extra,
    }


def save(repo: HistoryRepo, rec: dict[str, Any], *, with_files: bool = True) -> dict[str, Any]:
    if with_files:  # image and heatmap first, the record last (as the predict use-case does)
        repo.store.put(rec["image_key"], b"jpeg", "image/jpeg")
        repo.store.put(rec["heatmap_key"], b"png", "image/png")
    repo.put(rec)
    return rec


def walk(repo: HistoryRepo, uid: str, limit: int) -> list[str]:
    ids: list[str] = []
    cursor: str | None = None
    while True:
        items, cursor = repo.list(uid, cursor=cursor, limit=limit)
        ids += [r["id"] for r in items]
        if cursor is None:
            return ids


# ------------------------------------------------------------------------------------------- basics


def test_key_layout() -> None:
    rid = new_id(T0)
    keys = keys_for(ALICE, rid, "png")
    assert keys["upload"] == f"uploads/{ALICE}/{rid}.png"
    assert keys["image"] == f"images/{ALICE}/{rid}.jpg"
    assert keys["heatmap"] == f"heatmaps/{ALICE}/{rid}.png"
    assert keys["record"] == f"history/{ALICE}/{(1 << 48) - 1 - T0:015d}-{rid}.json"
    assert (
        HistoryRepo(LocalStore(Path("/tmp/unused-xf"), signing_key=b"k")).record_key(ALICE, rid)
        == keys["record"]
    )
    newer = keys_for(ALICE, new_id(T0 + 1))["record"]
    assert newer < keys["record"]  # newer sorts first


def test_put_get_round_trip(repo: HistoryRepo) -> None:
    rec = save(repo, record(ALICE, T0, label_zh="正常"))
    assert repo.get(ALICE, rec["id"]) == rec


def test_put_validates_the_record(repo: HistoryRepo) -> None:
    for bad in (
        {**record(ALICE), "status": "weird"},
        {**record(ALICE), "id": "../x"},
        {k: v for k, v in record(ALICE).items() if k != "uid"},
        {**record(ALICE), "uid": "not-a-uid"},
    ):
        with pytest.raises((ValueError, BadRequest)):
            repo.put(bad)


def test_newest_first(repo: HistoryRepo) -> None:
    recs = [save(repo, record(ALICE, T0 + i * 1000), with_files=False) for i in (3, 0, 4, 1, 2)]
    items, cursor = repo.list(ALICE, cursor=None, limit=50)
    assert [r["id"] for r in items] == [r["id"] for r in sorted(recs, key=lambda r: r["id"], reverse=True)]
    assert cursor is None
    assert repo.list(BOB, cursor=None, limit=50) == ([], None)


def test_paging(repo: HistoryRepo) -> None:
    recs = [save(repo, record(ALICE, T0 + i), with_files=False) for i in range(7)]
    expected = [r["id"] for r in reversed(recs)]
    first, cursor = repo.list(ALICE, cursor=None, limit=3)
    assert [r["id"] for r in first] == expected[:3] and cursor
    assert walk(repo, ALICE, 3) == expected
    assert walk(repo, ALICE, 7) == expected
    assert walk(repo, ALICE, 1) == expected


def test_paging_is_stable_while_records_are_added(repo: HistoryRepo) -> None:
    old = [save(repo, record(ALICE, T0 + i), with_files=False) for i in range(9)]
    expected_old = [r["id"] for r in reversed(old)]
    page, cursor = repo.list(ALICE, cursor=None, limit=4)
    seen = [r["id"] for r in page]
    # New predictions land while the client is paging (always newer: they sort before the cursor).
    for i in range(5):
        save(repo, record(ALICE, T0 + 100 + i), with_files=False)
    while cursor:
        page, cursor = repo.list(ALICE, cursor=cursor, limit=4)
        seen += [r["id"] for r in page]
    assert seen == expected_old  # nothing repeated, nothing skipped
    assert len(walk(repo, ALICE, 4)) == 14


@pytest.mark.parametrize("limit", [0, 51, -1, "10", None, True, 2.0])
def test_limit_out_of_range(repo: HistoryRepo, limit: Any) -> None:
    with pytest.raises(BadRequest):
        repo.list(ALICE, cursor=None, limit=limit)


def test_a_deleted_record_between_list_and_get_is_skipped(repo: HistoryRepo) -> None:
    keep = save(repo, record(ALICE, T0 + 1), with_files=False)
    gone = save(repo, record(ALICE, T0 + 2), with_files=False)
    original = repo.store.get

    def racing_get(key: str) -> bytes:
        if gone["id"] in key:
            raise NotFound()
        return original(key)

    repo.store.get = racing_get  # type: ignore[method-assign]
    items, _ = repo.list(ALICE, cursor=None, limit=10)
    assert [r["id"] for r in items] == [keep["id"]]


def test_corrupt_record_is_skipped_and_not_found(repo: HistoryRepo) -> None:
    rec = save(repo, record(ALICE, T0), with_files=False)
    repo.store.put(repo.record_key(ALICE, rec["id"]), b"{not json", "application/json")
    assert repo.list(ALICE, cursor=None, limit=10) == ([], None)
    with pytest.raises(NotFound):
        repo.get(ALICE, rec["id"])


# ------------------------------------------------------------------------------------------ cursors


def _cursor_for(repo: HistoryRepo, uid: str, n: int = 3) -> str:
    for i in range(n):
        save(repo, record(uid, T0 + i), with_files=False)
    _, cursor = repo.list(uid, cursor=None, limit=1)
    assert cursor
    return cursor


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def test_tampered_cursors_are_bad_requests(repo: HistoryRepo) -> None:
    cursor = _cursor_for(repo, ALICE)
    bob_cursor = _cursor_for(repo, BOB)
    rid = new_id(T0)
    forged = [
        "garbage!",
        "%2e%2e",
        _b64("../../etc/passwd"),
        _b64(f"history/{ALICE}/../{BOB}/x.json"),
        _b64(f"history/{ALICE}/000000000000000-{rid}.json"),  # name that does not match its id's time
        _b64(f"images/{ALICE}/{rid}.jpg"),
        _b64(f"history/{ALICE}/"),
        cursor[:-2],
        cursor + "AA",
        "x" * 400,
        bob_cursor,  # another user's cursor
    ]
    for bad in forged:
        with pytest.raises(BadRequest):
            repo.list(ALICE, cursor=bad, limit=5)
    assert len(repo.list(ALICE, cursor=cursor, limit=5)[0]) == 2


def test_signed_cursors(store: ObjectStore) -> None:
    signed = HistoryRepo(store, secret=SECRET)
    cursor = _cursor_for(signed, ALICE, 4)
    assert "." in cursor
    assert len(signed.list(ALICE, cursor=cursor, limit=5)[0]) == 3
    payload, _, sig = cursor.partition(".")
    flipped = sig[:-1] + ("A" if sig[-1] != "A" else "B")
    for bad in (payload, f"{payload}.{flipped}", f"{payload}.", cursor.replace(payload, payload[:-1] + "A")):
        with pytest.raises(BadRequest):
            signed.list(ALICE, cursor=bad, limit=5)
    with pytest.raises(BadRequest):  # a cursor is bound to its user even with a valid signature scheme
        signed.list(BOB, cursor=cursor, limit=5)
    with pytest.raises(BadRequest):  # another deployment's secret
        HistoryRepo(store, secret=b"x" * 32).list(ALICE, cursor=cursor, limit=5)


# -------------------------------------------------------------------------------- other users, ids

TRAVERSAL_IDS = [
    "../x",
    "..%2f..%2fetc",
    "%2e%2e",
    "/etc/passwd",
    "0" * 25 + "/",
    "01jd" + "." * 22,
    "01JDABCDEFGHJKMNPQRSTVWXYZ",  # upper case is not an id
    "",
    "01jd\x00" + "0" * 21,
    "z" * 26,  # past the 48-bit time range
    None,
    42,
]


@pytest.mark.parametrize("bad_id", TRAVERSAL_IDS, ids=repr)
def test_invalid_ids_are_not_found(repo: HistoryRepo, bad_id: Any) -> None:
    with pytest.raises(NotFound):
        repo.get(ALICE, bad_id)
    with pytest.raises(NotFound):
        repo.delete(ALICE, bad_id)
    with pytest.raises(BadRequest):
        keys_for(ALICE, bad_id)


def test_another_users_id_is_not_found(repo: HistoryRepo) -> None:
    bobs = save(repo, record(BOB, T0))
    with pytest.raises(NotFound):
        repo.get(ALICE, bobs["id"])
    with pytest.raises(NotFound):
        repo.delete(ALICE, bobs["id"])
    assert repo.get(BOB, bobs["id"]) == bobs
    assert repo.store.head(bobs["image_key"]) is not None


def test_a_record_in_the_wrong_place_is_not_served(repo: HistoryRepo) -> None:
    # Defence in depth: a record whose uid does not match its key's owner is treated as absent.
    bobs = record(BOB, T0)
    repo.store.put(repo.record_key(ALICE, bobs["id"]), json.dumps(bobs).encode(), "application/json")
    with pytest.raises(NotFound):
        repo.get(ALICE, bobs["id"])
    assert repo.list(ALICE, cursor=None, limit=5)[0] == []


def test_upload_keys() -> None:
    rid = new_id(T0)
    assert parse_upload_key(ALICE, f"uploads/{ALICE}/{rid}.jpg") == (rid, "jpg")
    for bad in (
        f"uploads/{BOB}/{rid}.jpg",
        f"images/{ALICE}/{rid}.jpg",
        f"uploads/{ALICE}/../{BOB}/{rid}.jpg",
        f"uploads/{ALICE}/{rid}.jpg/../../x",
        f"uploads/{ALICE}/{rid}",
        None,
    ):
        with pytest.raises(NotFound):
            parse_upload_key(ALICE, bad)  # type: ignore[arg-type]
    with pytest.raises(BadRequest):
        keys_for(ALICE, rid, "../x")


# ------------------------------------------------------------------------------------------ deletion


def test_delete_removes_record_and_files_then_is_not_found(repo: HistoryRepo) -> None:
    rid = new_id(T0)
    keys = keys_for(ALICE, rid, "png")
    rec = {
        **record(ALICE, T0),
        "id": rid,
        "image_key": keys["image"],
        "heatmap_key": keys["heatmap"],
        "upload_key": keys["upload"],
        "client_request_id": "req-12345678",
    }
    repo.store.put(keys["upload"], b"raw", "image/png")
    save(repo, rec)
    repo.remember_client_request_id(ALICE, "req-12345678", rid)
    other = save(repo, record(ALICE, T0 + 5))
    repo.delete(ALICE, rid)
    for key in (
        keys["upload"],
        keys["image"],
        keys["heatmap"],
        keys["record"],
        idem_key(ALICE, "req-12345678"),
    ):
        assert repo.store.head(key) is None, key
    with pytest.raises(NotFound):
        repo.get(ALICE, rid)
    with pytest.raises(NotFound):
        repo.delete(ALICE, rid)  # the second delete is a 404
    assert repo.get(ALICE, other["id"]) == other


def test_delete_never_follows_keys_outside_the_users_prefixes(repo: HistoryRepo) -> None:
    victim = save(repo, record(BOB, T0))
    rec = record(ALICE, T0 + 1, upload_key=victim["image_key"])
    rec["image_key"] = "models/pneumonia/CURRENT.json"
    repo.store.put("models/pneumonia/CURRENT.json", b"{}", "application/json")
    save(repo, rec, with_files=False)
    repo.delete(ALICE, rec["id"])
    assert repo.store.head(victim["image_key"]) is not None
    assert repo.store.head("models/pneumonia/CURRENT.json") is not None


def test_delete_all_erases_every_prefix_of_one_user(repo: HistoryRepo) -> None:
    for i in range(4):
        rec = save(repo, record(ALICE, T0 + i))
        repo.store.put(keys_for(ALICE, rec["id"])["upload"], b"raw")
    repo.remember_client_request_id(ALICE, "req-abcdefgh", rec["id"])
    bobs = save(repo, record(BOB, T0))
    assert repo.delete_all(ALICE) == 4
    for area in ("uploads", "images", "heatmaps", "history", "idem"):
        assert repo.store.list(f"{area}/{ALICE}/")[0] == [], area
    assert repo.get(BOB, bobs["id"]) == bobs
    assert repo.delete_all(ALICE) == 0


def test_delete_all_pages_through_many_objects(tmp_path: Path) -> None:
    repo = HistoryRepo(LocalStore(tmp_path / "s", signing_key=b"k"))
    repo.erase_page = 10
    for i in range(23):  # more than two pages
        repo.store.put(f"uploads/{ALICE}/{new_id(T0 + i)}.jpg", b"")
    repo.delete_all(ALICE)
    assert repo.store.list(f"uploads/{ALICE}/")[0] == []


# -------------------------------------------------------------------------------- idempotent retries


def test_client_request_id_finds_the_first_record(repo: HistoryRepo) -> None:
    assert repo.find_by_client_request_id(ALICE, "retry-0001") is None
    rec = save(repo, record(ALICE, T0))
    repo.remember_client_request_id(ALICE, "retry-0001", rec["id"])
    repo.remember_client_request_id(ALICE, "retry-0001", rec["id"])  # idempotent
    assert repo.find_by_client_request_id(ALICE, "retry-0001") == rec
    assert repo.find_by_client_request_id(BOB, "retry-0001") is None  # scoped per user
    with pytest.raises(Conflict):
        repo.remember_client_request_id(ALICE, "retry-0001", new_id())


def test_an_in_flight_claim_conflicts_then_goes_stale(
    repo: HistoryRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    claimed = new_id()
    repo.remember_client_request_id(ALICE, "retry-0002", claimed)  # its record was never written
    assert repo.find_by_client_request_id(ALICE, "retry-0002") is None
    with pytest.raises(Conflict):
        repo.remember_client_request_id(ALICE, "retry-0002", new_id())
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + IDEM_STALE_S + 1)
    winner = save(repo, record(ALICE))
    repo.remember_client_request_id(ALICE, "retry-0002", winner["id"])
    assert repo.find_by_client_request_id(ALICE, "retry-0002") == winner


@pytest.mark.parametrize("bad", ["", "x" * 200, "a\nb", None, 42])
def test_bad_client_request_ids(repo: HistoryRepo, bad: Any) -> None:
    with pytest.raises(BadRequest):
        repo.find_by_client_request_id(ALICE, bad)


def test_concurrent_retries_agree_on_one_record(repo: HistoryRepo) -> None:
    candidates = [new_id() for _ in range(12)]

    def claim(rid: str) -> bool:
        try:
            repo.remember_client_request_id(ALICE, "retry-race", rid)
            return True
        except Conflict:
            return False

    with ThreadPoolExecutor(max_workers=6) as pool:
        wins = list(pool.map(claim, candidates))
    assert wins.count(True) == 1


# ------------------------------------------------------------------------------------- concurrency


def test_one_hundred_concurrent_predictions_for_ten_users(repo: HistoryRepo) -> None:
    users = [uid_for("wx", f"o-user-{i}", SECRET) for i in range(10)]
    jobs = [users[i % 10] for i in range(100)]
    with ThreadPoolExecutor(max_workers=16) as pool:
        written = list(pool.map(lambda uid: save(repo, record(uid)), jobs))
    assert len({r["id"] for r in written}) == 100
    total = 0
    for uid in users:
        ids = walk(repo, uid, 3)
        # Complete, nobody else's, newest first (ids made in the same millisecond have no order of their own).
        mine = sorted((r["id"] for r in written if r["uid"] == uid), key=lambda i: keys_for(uid, i)["record"])
        assert ids == mine
        times = [id_time_ms(i) for i in ids]
        assert times == sorted(times, reverse=True)
        total += len(ids)
    assert total == 100
