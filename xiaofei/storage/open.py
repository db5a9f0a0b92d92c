"""Object storage: one small interface, a folder (``LocalStore``) and S3 / Tencent COS (``S3Store``).

Everything the service keeps (uploads, images, heatmaps, history records, model packages) goes through
``ObjectStore``. ``open_store`` picks the implementation from ``XIAOFEI_STORAGE``::

    file://./.xiaofei                      a folder, relative paths from the current directory (default)
    s3://bucket?endpoint=https://cos.ap-shanghai.myqcloud.com&region=ap-shanghai&addressing=virtual

Keys are validated by ``validate_key`` in both stores (nothing a caller sends becomes a path or a key
unchecked). Failures of the backend (timeouts, 5xx, throttling, access denied, disk errors) surface as
``StorageUnavailable`` (503) with the original exception as ``__cause__``; a missing key is ``NotFound``;
a failed conditional write is ``Conflict``. Etags are returned without quotes.

Modules: ``objectstore`` (the interface, value types, key rules), ``localstore`` (``LocalStore``),
``s3store`` (``S3Store`` and the client an ``s3://`` URL describes); this one opens them.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from xiaofei.storage.base import (
    DEFAULT_CONTENT_TYPE,
    MAX_KEY_BYTES,
    MAX_LIST_LIMIT,
    MAX_PRESIGN_S,
    ObjectInfo,
    ObjectStore,
    PresignedPut,
    validate_content_type,
    validate_key,
)
from xiaofei.storage.local import LocalStore
from xiaofei.storage.s3 import S3Config, S3Store, make_s3_client, map_s3_error, parse_s3_url, s3_credentials

__all__ = [
    "DEFAULT_CONTENT_TYPE",
    "MAX_KEY_BYTES",
    "MAX_LIST_LIMIT",
    "MAX_PRESIGN_S",
    "LocalStore",
    "ObjectInfo",
    "ObjectStore",
    "PresignedPut",
    "S3Config",
    "S3Store",
    "make_s3_client",
    "map_s3_error",
    "open_store",
    "parse_s3_url",
    "s3_credentials",
    "validate_content_type",
    "validate_key",
]


def _file_root(url: str) -> Path:
    rest = url[len("file://") :]
    if not rest:
        raise ValueError("file:// storage URL needs a folder")
    return Path(rest).expanduser()  # relative → from the current directory (resolved by LocalStore)


def open_store(
    url: str,
    *,
    signing_key: bytes = b"",
    public_url: str = "http://127.0.0.1:8000",
    environ: Mapping[str, str] | None = None,
) -> ObjectStore:
    """Open the store a ``XIAOFEI_STORAGE`` URL names. Configuration mistakes raise ``ValueError``
    (at start-up, for the operator); the S3 client is made on first use."""
    if url.startswith("file://"):
        return LocalStore(_file_root(url), signing_key=signing_key, public_url=public_url)
    if url.startswith("s3://"):
        cfg = parse_s3_url(url)
        # The environment is read when the client is made (and remade after credentials expire).
        return S3Store(bucket=cfg.bucket, client_factory=lambda: make_s3_client(cfg, environ))
    raise ValueError("XIAOFEI_STORAGE must start with file:// or s3://")
