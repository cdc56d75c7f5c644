"""The local S3 server (s3s-fs 0.14.1) answers a signed GET's response-* parameters as S3 does: the
download URLs' Content-Disposition and Cache-Control can be seen locally. s3s applies them itself
(s3s 0.14.1, crates/s3s/src/ops/get_object.rs: `extract_overridden_response_headers`, called by the
generated GetObject operation after the signature and before serializing a successful answer);
s3s-fs's get_object never looks at them. Started on a free port with a temporary root, no stack:
    .local/venv/bin/python -m unittest discover -s infra/local/tests -p 'test_s3_server.py'

The binary is .local/tools/bin/s3s-fs (infra/local/install.sh installs it), or the one
LOCAL_S3_SERVER names. Without LOCAL_S3_SERVER, a missing binary skips these tests (a checkout
without `make setup`); scripts/test.sh runs install.sh first and sets LOCAL_S3_SERVER, so under
`make test` (and CI, `.ci/run`) a missing binary fails them instead.
"""

import os
import shutil
import socket
import subprocess
import tempfile
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
ACCESS_KEY, SECRET_KEY = "s3-server-test", "s3-server-test-secret"
BUCKET = "attachments-test"
PAGE = b"<!doctype html><title>x</title><script>alert(1)</script>\n"

# The overrides a download URL carries (the product's: an attachment, never cached; plus a type
# that stops a browser from rendering whatever it sniffs).
DOWNLOAD = {
    "ResponseContentDisposition": 'attachment; filename="page.html"',
    "ResponseCacheControl": "private, no-store",
    "ResponseContentType": "application/octet-stream",
}


def server_binary() -> Path | None:
    """The binary to test; None (skip) only when nobody asked for a particular one."""
    named = os.environ.get("LOCAL_S3_SERVER")
    binary = Path(named) if named else REPO / ".local/tools/bin/s3s-fs"
    if os.access(binary, os.X_OK):
        return binary
    if named:
        raise AssertionError(f"LOCAL_S3_SERVER={named} is not an executable: run infra/local/install.sh")
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fetch(url: str, headers: dict[str, str] | None = None, method: str = "GET"):
    """(status, headers, body) of one request; an HTTP error is an answer too."""
    request = urllib.request.Request(url, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def with_query_value(url: str, name: str, value: str) -> str:
    """The URL with one query parameter's value replaced, everything else byte for byte."""
    parts = urllib.parse.urlsplit(url)
    pairs = [p.split("=", 1) for p in parts.query.split("&")]
    assert any(k == name for k, _ in pairs), f"{name} not in {url}"
    query = "&".join(f"{k}={urllib.parse.quote(value, safe='') if k == name else v}" for k, v in pairs)
    return urllib.parse.urlunsplit(parts._replace(query=query))


class LocalS3ServerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        binary = server_binary()
        if binary is None:
            raise unittest.SkipTest("s3s-fs is not installed: run infra/local/install.sh (make setup)")
        import boto3  # the venv's (infra/local/requirements.lock); imported here so a skip needs none
        from botocore.config import Config

        cls.root = tempfile.mkdtemp(prefix="local-s3-server-test-")
        port = free_port()
        cls.endpoint = f"http://127.0.0.1:{port}"
        cls.log = open(Path(cls.root) / "server.log", "wb")  # noqa: SIM115 (closed in tearDownClass)
        data = Path(cls.root) / "data"
        data.mkdir()
        cls.server = subprocess.Popen(
            [str(binary), "--host", "127.0.0.1", "--port", str(port),
             "--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY, str(data)],
            stdout=cls.log, stderr=subprocess.STDOUT)
        try:
            cls.wait_until_listening(port)
            cls.s3 = boto3.client(
                "s3", endpoint_url=cls.endpoint, region_name="us-east-1",
                aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY,
                config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))
            cls.s3.create_bucket(Bucket=BUCKET)
            cls.s3.put_object(Bucket=BUCKET, Key="page.html", Body=PAGE, ContentType="text/html")
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def wait_until_listening(cls, port: int):
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if cls.server.poll() is not None:
                raise AssertionError(f"s3s-fs exited with {cls.server.returncode}: "
                                     f"{(Path(cls.root) / 'server.log').read_text(errors='replace')}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise AssertionError("s3s-fs did not listen within 15 s")

    @classmethod
    def tearDownClass(cls):
        cls.server.terminate()
        try:
            cls.server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            cls.server.kill()
            cls.server.wait()
        cls.log.close()
        shutil.rmtree(cls.root, ignore_errors=True)

    def presign(self, key: str = "page.html", operation: str = "get_object", **overrides) -> str:
        return self.s3.generate_presigned_url(
            operation, Params={"Bucket": BUCKET, "Key": key, **overrides}, ExpiresIn=300)

    def test_a_signed_download_url_gets_exactly_its_overrides(self):
        status, headers, body = fetch(self.presign(**DOWNLOAD))
        self.assertEqual(status, 200, body)
        self.assertEqual(body, PAGE)
        self.assertEqual(headers.get_all("Content-Disposition"), ['attachment; filename="page.html"'])
        self.assertEqual(headers.get_all("Cache-Control"), ["private, no-store"])
        self.assertEqual(headers.get_all("Content-Type"), ["application/octet-stream"])

    def test_the_overrides_are_signed_so_an_altered_one_is_refused(self):
        url = self.presign(**DOWNLOAD)
        for name, value in [("response-content-disposition", 'inline; filename="page.html"'),
                            ("response-cache-control", "public, max-age=31536000"),
                            ("response-content-type", "text/html")]:
            with self.subTest(name):
                status, _, body = fetch(with_query_value(url, name, value))
                self.assertEqual(status, 403, body)
                self.assertIn(b"<Code>SignatureDoesNotMatch</Code>", body)

    def test_a_url_without_overrides_answers_the_stored_headers(self):
        status, headers, body = fetch(self.presign())
        self.assertEqual(status, 200, body)
        self.assertEqual(headers.get_all("Content-Type"), ["text/html"])
        self.assertIsNone(headers.get("Content-Disposition"))
        self.assertIsNone(headers.get("Cache-Control"))

    def test_the_overrides_replace_only_what_they_name(self):
        self.s3.put_object(Bucket=BUCKET, Key="styled.html", Body=PAGE, ContentType="text/html",
                           ContentDisposition="inline", CacheControl="max-age=60", ContentLanguage="en")
        status, headers, body = fetch(self.presign(
            "styled.html", ResponseContentDisposition="attachment", ResponseContentLanguage="fr",
            ResponseContentEncoding="identity", ResponseExpires="Thu, 01 Jan 2037 00:00:00 GMT"))
        self.assertEqual(status, 200, body)
        self.assertEqual(headers.get_all("Content-Disposition"), ["attachment"])
        self.assertEqual(headers.get_all("Content-Language"), ["fr"])
        self.assertEqual(headers.get_all("Content-Encoding"), ["identity"])
        self.assertEqual(headers.get_all("Expires"), ["Thu, 01 Jan 2037 00:00:00 GMT"])
        self.assertEqual(headers.get_all("Content-Type"), ["text/html"])  # stored, not overridden
        self.assertEqual(headers.get_all("Cache-Control"), ["max-age=60"])

    def test_a_range_of_the_download_url_is_served(self):
        # S3 documents the overrides for a 200 answer ("only on a successful request, that is, when
        # status code 200 OK is returned") and says nothing of a 206, so only the range itself is
        # checked: the signed URL serves one (Range is not part of its signature). s3s adds the
        # overrides to a 206 as well; nothing here relies on it.
        status, headers, body = fetch(self.presign(**DOWNLOAD), {"Range": "bytes=0-14"})
        self.assertEqual(status, 206, body)
        self.assertEqual(body, PAGE[:15])
        self.assertEqual(headers.get("Content-Range"), f"bytes 0-14/{len(PAGE)}")

    def test_an_error_gets_no_overrides(self):
        status, headers, body = fetch(self.presign("missing.html", **DOWNLOAD))
        self.assertEqual(status, 404, body)
        self.assertIn(b"<Code>NoSuchKey</Code>", body)
        self.assertIsNone(headers.get("Content-Disposition"))
        self.assertIsNone(headers.get("Cache-Control"))
        self.assertNotEqual(headers.get("Content-Type"), "application/octet-stream")

    def test_an_unsigned_request_is_refused_before_any_override(self):
        # S3 answers an anonymous GET with overrides 400 InvalidRequest ("Request specific response
        # headers cannot be used for anonymous GET requests"). s3s-fs with keys (the local stack
        # always gives them) refuses every unsigned request first: 403 AccessDenied, "Signature is
        # required" (s3s's default access check). Without keys it would serve the overrides to
        # anyone, which the local stack never does.
        query = urllib.parse.urlencode({"response-content-disposition": "attachment"})
        status, headers, body = fetch(f"{self.endpoint}/{BUCKET}/page.html?{query}")
        self.assertEqual(status, 403, body)
        self.assertIn(b"<Code>AccessDenied</Code>", body)
        self.assertIsNone(headers.get("Content-Disposition"))


if __name__ == "__main__":
    unittest.main()
