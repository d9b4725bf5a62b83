"""A local S3-compatible server for tests of the ``s3`` tier-2 backend.

:class:`LocalS3` runs moto's standalone server (``moto[server]``, a maintained S3
emulator) as a child process on 127.0.0.1, creates a bucket and gives the settings a
``pravega-server`` needs (``--lts``, ``--lts-endpoint`` and the AWS environment).
Real S3 or MinIO take the same URL form. The process can be killed and started
again (its content is lost then: it keeps everything in memory).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}


class LocalS3:
    def __init__(self, bucket: str = "pravega-tier2", prefix: str = "chunks", ready_timeout: float = 60.0) -> None:
        self.bucket = bucket
        self.prefix = prefix
        self.port = 0
        self.ready_timeout = ready_timeout
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    def server_args(self) -> list[str]:
        """``pravega-server`` arguments that put tier 2 here."""
        return ["--lts", self.url, "--lts-endpoint", self.endpoint]

    def start(self) -> LocalS3:
        if self.port == 0:
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                self.port = s.getsockname()[1]
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + self.ready_timeout
        while True:
            try:
                request = urllib.request.Request(f"{self.endpoint}/{self.bucket}", method="PUT")
                urllib.request.urlopen(request, timeout=5).close()  # create the bucket
                return self
            except (urllib.error.URLError, ConnectionError, OSError):
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("the local S3 server did not start") from None
                time.sleep(0.1)

    def objects(self) -> list[tuple[str, int]]:
        """(key, size) of the objects under the prefix (a ListObjectsV2 call)."""
        import xml.etree.ElementTree as ET

        url = f"{self.endpoint}/{self.bucket}?list-type=2&prefix={self.prefix}/"
        out: list[tuple[str, int]] = []
        token = None
        while True:
            page = url + (f"&continuation-token={urllib.parse.quote(token)}" if token else "")
            with urllib.request.urlopen(page, timeout=30) as reply:
                root = ET.fromstring(reply.read())
            ns = {"s": root.tag.split("}")[0].strip("{")} if root.tag.startswith("{") else {}
            prefix = "s:" if ns else ""
            for item in root.findall(f"{prefix}Contents", ns):
                key = item.findtext(f"{prefix}Key", default="", namespaces=ns)
                size = int(item.findtext(f"{prefix}Size", default="0", namespaces=ns))
                out.append((key, size))
            token = root.findtext(f"{prefix}NextContinuationToken", default=None, namespaces=ns)
            if not token:
                return out

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()

    def __enter__(self) -> LocalS3:
        for key, value in CREDENTIALS.items():
            os.environ.setdefault(key, value)
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
