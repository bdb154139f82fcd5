"""Media storage by content: each object's key is its SHA-256, in a local folder or an S3-compatible bucket."""
from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path
from typing import Protocol

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from gis.core.errors import GridgovError, NotFound

_HASH = re.compile(r"[0-9a-f]{64}")


def sha256(data: bytes) -> str:
    """The hex SHA-256 of `data`: the key it is stored under."""
    return hashlib.sha256(data).hexdigest()


def key_of(digest: str) -> str:
    """The object key of a hash: its first two hex digits as a folder, e.g. ab/abcdef…"""
    if not _HASH.fullmatch(digest):
        raise ValueError(f"{digest[:80]!r} is not a lowercase hex SHA-256")
    return f"{digest[:2]}/{digest}"


class MediaStore(Protocol):
    """Where photos live: put is idempotent (the same bytes, the same key, written once), get reads them back."""

    def put(self, data: bytes) -> str:
        """Store `data` under its hash (unless it is there already); returns the hash."""

    def get(self, digest: str) -> bytes:
        """The bytes stored under `digest`; NotFound when there are none."""

    def has(self, digest: str) -> bool:
        """Whether an object is stored under `digest`."""


class LocalMedia:
    """Objects as files under one folder (default var/media), written atomically, never rewritten."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def _path(self, digest: str) -> Path:
        return self.root / key_of(digest)

    def put(self, data: bytes) -> str:
        """Store `data` under its hash (unless it is there already); returns the hash."""
        digest = sha256(data)
        path = self._path(digest)
        if path.exists():
            return digest
        path.parent.mkdir(parents=True, exist_ok=True)
        # A temporary file renamed into place: a reader never sees half a photo, and two servers
        # writing the same photo at once both end with the same complete file.
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".put-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return digest

    def get(self, digest: str) -> bytes:
        """The bytes stored under `digest`; NotFound when there are none."""
        try:
            return _checked(self._path(digest).read_bytes(), digest)
        except FileNotFoundError:
            raise NotFound("Photo missing from storage", f"No object {digest} under {self.root}; "
                           "the media folder may have been moved or not shared with this server.") from None

    def has(self, digest: str) -> bool:
        """Whether an object is stored under `digest`."""
        return self._path(digest).exists()


class S3Media:
    """Objects in one bucket of an S3-compatible store (AWS, MinIO, Ceph …), so several servers share them."""

    def __init__(self, bucket: str, *, client=None, prefix: str = "", endpoint_url: str | None = None,
                 access_key_id: str | None = None, secret_access_key: str | None = None,
                 region: str | None = None):
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.client = client or boto3.client(
            "s3", endpoint_url=endpoint_url or None, aws_access_key_id=access_key_id or None,
            aws_secret_access_key=secret_access_key or None, region_name=region or None,
            # Checksums only where S3 requires them: MinIO and Ceph releases of before 2025 refuse the
            # CRC headers boto3 sends by default. What is read back is checked against its name instead.
            config=Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=5, read_timeout=30,
                          request_checksum_calculation="when_required",
                          response_checksum_validation="when_required"))

    def _key(self, digest: str) -> str:
        return self.prefix + key_of(digest)

    def put(self, data: bytes) -> str:
        """Store `data` under its hash (unless it is there already); returns the hash."""
        digest = sha256(data)
        if not self.has(digest):
            self.client.put_object(Bucket=self.bucket, Key=self._key(digest), Body=data)
        return digest

    def get(self, digest: str) -> bytes:
        """The bytes stored under `digest`; NotFound when there are none."""
        try:
            data = self.client.get_object(Bucket=self.bucket, Key=self._key(digest))["Body"].read()
        except ClientError as exc:
            if _missing(exc):
                raise NotFound("Photo missing from storage", f"No object {digest} in bucket {self.bucket}.") from None
            raise
        return _checked(data, digest)

    def has(self, digest: str) -> bool:
        """Whether an object is stored under `digest`."""
        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(digest))
            return True
        except ClientError as exc:
            if _missing(exc):
                return False
            raise


def _missing(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound")


def _checked(data: bytes, digest: str) -> bytes:
    """`data` if it hashes to its name; a damaged object is never served as the photo."""
    if sha256(data) != digest:
        raise GridgovError("Photo damaged in storage", f"The object stored as {digest} no longer has that hash; "
                           "restore it from a backup.")
    return data


def open_store(*, folder: str | Path, bucket: str | None = None, endpoint_url: str | None = None,
               access_key_id: str | None = None, secret_access_key: str | None = None,
               region: str | None = None, prefix: str = "") -> MediaStore:
    """The store the configuration names: the S3 bucket when one is given, else the local folder."""
    if bucket:
        return S3Media(bucket, endpoint_url=endpoint_url, access_key_id=access_key_id,
                       secret_access_key=secret_access_key, region=region, prefix=prefix)
    return LocalMedia(folder)
