"""Object stores a dataset is read from: a local directory (file://) or an S3 prefix
(s3://bucket/prefix, on AWS or any S3-compatible server). The narrow interface the rest of
the package reads through: whole objects, byte ranges (one tar member), streams (a whole
tar), and a local path when there is one (OpenImageIO then reads the file in place).

Stores are safe to hand to DataLoader worker processes: the S3 client is made lazily in
each process (boto3 clients must not cross a fork) and is not pickled.
"""

import os
import urllib.parse

from .errors import DatasetError


class FileStore:
    """Objects under a local directory; keys are paths relative to it."""

    def __init__(self, root):
        self.root = os.path.abspath(root)
        self.uri = "file://" + self.root
        if not os.path.isdir(self.root):
            raise DatasetError(f"{self.uri}: no such directory")

    def local_path(self, key):
        return os.path.join(self.root, _checked_key(key))

    def get(self, key):
        try:
            with open(self.local_path(key), "rb") as f:
                return f.read()
        except FileNotFoundError:
            raise DatasetError(f"{self.uri}: no object {key}") from None

    def get_range(self, key, offset, size):
        try:
            with open(self.local_path(key), "rb") as f:
                f.seek(offset)
                data = f.read(size)
        except FileNotFoundError:
            raise DatasetError(f"{self.uri}: no object {key}") from None
        if len(data) != size:
            raise DatasetError(f"{self.uri}/{key}: bytes {offset}+{size} are past the end of the object")
        return data

    def open_stream(self, key):
        try:
            return open(self.local_path(key), "rb")
        except FileNotFoundError:
            raise DatasetError(f"{self.uri}: no object {key}") from None


class S3Store:
    """Objects under s3://bucket/prefix. Credentials, region and endpoint as the AWS tools
    take them: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_PROFILE,
    ~/.aws, AWS_REGION or AWS_DEFAULT_REGION, and AWS_ENDPOINT_URL (or AWS_ENDPOINT_URL_S3)
    for a server other than AWS, which is then addressed path-style."""

    def __init__(self, bucket, prefix):
        if not bucket:
            raise DatasetError("s3:// URI without a bucket (expected s3://bucket/prefix)")
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.uri = f"s3://{bucket}/{self.prefix}" if self.prefix else f"s3://{bucket}"
        self._client = None
        self._client_pid = None

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_client"] = None
        state["_client_pid"] = None
        return state

    def _s3(self):
        if self._client is None or self._client_pid != os.getpid():
            import boto3
            import botocore.config

            endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL") or None
            region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
            config = botocore.config.Config(
                s3={"addressing_style": "path" if endpoint else "auto"},
                retries={"max_attempts": 5, "mode": "standard"},
            )
            session = boto3.session.Session(region_name=region)
            self._client = session.client("s3", endpoint_url=endpoint, config=config)
            self._client_pid = os.getpid()
        return self._client

    def local_path(self, key):
        return None

    def _object_key(self, key):
        key = _checked_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def _get_object(self, key, **kwargs):
        import botocore.exceptions

        try:
            return self._s3().get_object(Bucket=self.bucket, Key=self._object_key(key), **kwargs)
        except botocore.exceptions.ClientError as e:
            code = e.response.get("Error", {}).get("Code", "")
            if code in ("NoSuchKey", "404"):
                raise DatasetError(f"{self.uri}: no object {key}") from None
            if code == "NoSuchBucket":
                raise DatasetError(f"{self.uri}: no bucket {self.bucket}") from None
            raise DatasetError(f"{self.uri}/{key}: {e}") from None
        except botocore.exceptions.BotoCoreError as e:
            raise DatasetError(f"{self.uri}/{key}: {e}") from None

    def get(self, key):
        return self._get_object(key)["Body"].read()

    def get_range(self, key, offset, size):
        if size == 0:
            return b""
        body = self._get_object(key, Range=f"bytes={offset}-{offset + size - 1}")["Body"].read()
        if len(body) != size:
            raise DatasetError(f"{self.uri}/{key}: bytes {offset}+{size} are past the end of the object")
        return body

    def open_stream(self, key):
        """The object's bytes as a file-like stream, read as they arrive (no full download)."""
        return self._get_object(key)["Body"]


def _checked_key(key):
    # Keys come from manifest.json, which is read from storage and not trusted: none may
    # leave the dataset's root.
    parts = key.split("/")
    if not key or key.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise DatasetError(f"object key {key!r} is not a relative path inside the dataset")
    return key


def open_store(uri):
    """The store for `uri`: file:///abs/dir, a plain local path, or s3://bucket/prefix."""
    if not isinstance(uri, (str, os.PathLike)):
        raise DatasetError(f"dataset URI must be a string, got {type(uri).__name__}")
    uri = os.fspath(uri)
    parsed = urllib.parse.urlparse(uri)
    if parsed.scheme == "file":
        if parsed.netloc not in ("", "localhost"):
            raise DatasetError(f"{uri}: a file:// URI names a local path (file:///dir), not host {parsed.netloc!r}")
        return FileStore(urllib.parse.unquote(parsed.path))
    if parsed.scheme == "s3":
        return S3Store(parsed.netloc, parsed.path)
    if parsed.scheme == "":
        return FileStore(uri)
    raise DatasetError(f"{uri}: unsupported URI scheme {parsed.scheme!r} (expected file:// or s3://)")
