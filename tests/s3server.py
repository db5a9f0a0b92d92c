"""A real S3 HTTP endpoint for tests: moto's standalone server in a child process on a free local port.

Fixtures (registered through ``pytest_plugins`` in tests/conftest.py):

* ``s3_server`` (session): the running server — ``endpoint`` is ``http://localhost:<port>``.
* ``s3_settings`` (function): a fresh, empty bucket on that server and everything needed to reach it:
  ``url`` (an ``XIAOFEI_STORAGE`` value with ``addressing=virtual``), ``endpoint``, ``bucket``,
  ``region``, ``env`` (credentials). The process environment gets those (fake) credentials for the
  test, so ``open_store(settings.url)`` works unchanged.

Virtual-hosted addressing (what COS requires) needs ``<bucket>.localhost`` to resolve. RFC 6761 says
every ``*.localhost`` name is loopback, and browsers and systemd-resolved do that, but glibc's
``/etc/hosts`` lookup does not, so while the server runs this process resolves ``*.localhost`` to
127.0.0.1 itself. moto then sees ``Host: <bucket>.localhost:<port>`` and serves the bucket from the
host name, as COS does.

moto checks a conditional PUT (If-Match, If-None-Match) and then writes without a lock, so two racing
writers could both pass; S3 and COS decide it atomically. The child serialises PutObject so the race
tests exercise the real semantics (the code under test is unchanged).

The server runs in a child process, not a thread: moto's in-process ``mock_aws`` resets moto's global
state when it starts, which would wipe a server sharing this process. The child exits when its stdin
closes, so it never outlives the test session.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

REGION = "ap-shanghai"
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing-key-id",
    "AWS_SECRET_ACCESS_KEY": "testing-secret-key",
}
_CHILD = """
import sys, threading
from moto.s3.responses import S3Response
# moto checks If-Match / If-None-Match and then writes, with no lock between: two racing conditional PUTs
# can both pass. S3 and COS decide a conditional write atomically, so the test server does too: one
# PutObject at a time (everything else stays concurrent).
_put, _lock = S3Response.put_object, threading.Lock()
def _atomic_put(self, *args, **kwargs):
    with _lock:
        return _put(self, *args, **kwargs)
S3Response.put_object = _atomic_put
from moto.server import ThreadedMotoServer
server = ThreadedMotoServer("127.0.0.1", 0, verbose=False)
server.start()
print(server.get_host_and_port()[1], flush=True)
sys.stdin.read()  # until the parent closes our stdin (or dies)
server.stop()
"""


@dataclass
class S3Server:
    port: int
    process: subprocess.Popen[str]
    _clients: dict[str, Any] = field(default_factory=dict)

    @property
    def endpoint(self) -> str:
        return f"http://localhost:{self.port}"

    def client(self, addressing: str = "virtual") -> Any:
        """A plain boto3 client for this server (made once: clients are slow to build)."""
        if addressing not in self._clients:
            self._clients[addressing] = self._make_client(addressing)
        return self._clients[addressing]

    def _make_client(self, addressing: str) -> Any:
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            config=Config(s3={"addressing_style": addressing}),
        )

    def create_bucket(self, name: str | None = None) -> str:
        bucket = name or f"xf-{uuid.uuid4().hex[:12]}-1250000000"  # COS style: name-appid
        self.client().create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
        return bucket


@dataclass
class S3Settings:
    endpoint: str
    bucket: str
    region: str = REGION
    env: dict[str, str] = field(default_factory=lambda: dict(CREDENTIALS))

    @property
    def url(self) -> str:
        """An ``XIAOFEI_STORAGE`` value for this bucket (virtual-hosted, as for COS)."""
        return f"s3://{self.bucket}?endpoint={self.endpoint}&region={self.region}&addressing=virtual"


_real_getaddrinfo = socket.getaddrinfo


def _getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
    if isinstance(host, str) and host.endswith(".localhost"):
        host = "127.0.0.1"
    return _real_getaddrinfo(host, *args, **kwargs)


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    process = subprocess.Popen(
        [sys.executable, "-c", _CHILD],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        if not line.isdigit():
            raise RuntimeError("moto server did not start")
        socket.getaddrinfo = _getaddrinfo
        yield S3Server(port=int(line), process=process)
    finally:
        socket.getaddrinfo = _real_getaddrinfo
        if process.stdin:
            process.stdin.close()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def s3_settings(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> S3Settings:
    """A new empty bucket on the local S3 server; the environment holds its (fake) credentials."""
    for name in (
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "TENCENTCLOUD_SECRETID",
        "TENCENTCLOUD_SECRETKEY",
        "TENCENTCLOUD_SESSIONTOKEN",
    ):
        monkeypatch.delenv(name, raising=False)
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/aws-config")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aws-credentials")
    return S3Settings(endpoint=s3_server.endpoint, bucket=s3_server.create_bucket())
