"""The platform's size limits, in one place: what a synchronous invocation may carry.

SCF refuses a synchronous event (or response) over **6 MB** (shared/reference/tencent-cloud.md §4,
cloud.tencent.com/document/product/583/11637); base64 makes a binary body a third bigger. So an image
sent *in* a request (HTTP body, JSON ``image``, a cloud call's ``image``) must stay under
``DIRECT_MAX_BYTES``; anything bigger goes through the upload path (``POST /uploads`` → presigned PUT to
COS → the COS trigger, or ``wx.cloud.uploadFile`` → ``fileID``), where ``XIAOFEI_MAX_BODY_BYTES`` is the
limit. The local server refuses events over ``SCF_SYNC_EVENT_BYTES`` exactly as the cloud would, so
``make run`` shows the same limit, and both clients read ``DIRECT_MAX_BYTES`` (web/config.js,
miniprogram/app/config.js; tests/test_client_error_tables.py checks they agree).
"""

from __future__ import annotations

from xiaofei.errors import PayloadTooLarge

# 6 MB, taken as 6,000,000 bytes (the smaller reading of "MB") of the whole event JSON.
SCF_SYNC_EVENT_BYTES = 6_000_000
# Headroom for everything in the event that is not the image: headers, path, query, JSON keys.
EVENT_OVERHEAD_BYTES = 64 * 1024
# The largest image a request may carry inline: base64 of it plus the headroom fits in one event.
DIRECT_MAX_BYTES = (SCF_SYNC_EVENT_BYTES - EVENT_OVERHEAD_BYTES) * 3 // 4  # 4,451,848 bytes


def base64_size(n: int) -> int:
    return (n + 2) // 3 * 4


def too_large_for_direct(max_bytes: int = DIRECT_MAX_BYTES) -> PayloadTooLarge:
    """``payload_too_large`` for an inline image, saying where big files go instead."""
    mb = f"{max_bytes / 1_000_000:.1f}"
    return PayloadTooLarge(
        f"The image is too large to send in the request (at most {mb} MB); upload it first "
        "(POST /uploads, then PUT the file to the URL it returns).",
        f"图片太大，无法随请求直接发送（最多 {mb} MB）；"
        "请先上传（POST /uploads，再把文件 PUT 到返回的地址）。",
        details={"max_bytes": max_bytes, "upload": "/uploads"},
    )


def event_too_large(size: int) -> PayloadTooLarge:
    """What the local server answers for an event SCF would refuse (over ``SCF_SYNC_EVENT_BYTES``)."""
    exc = too_large_for_direct()
    exc.details = {**exc.details, "event_bytes": size, "event_limit": SCF_SYNC_EVENT_BYTES}
    return exc


def direct_limit(max_body_bytes: int) -> int:
    """The inline image limit under the configured body limit."""
    return min(max_body_bytes, DIRECT_MAX_BYTES)
