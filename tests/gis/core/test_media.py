"""Media storage by content: one object per hash, written once, in a folder or in an S3 bucket (moto's server)."""
from __future__ import annotations

import hashlib

import boto3
import pytest

from gis.core.errors import GridgovError, NotFound
from gis.core.media import LocalMedia, S3Media, key_of, open_store


def test_a_key_is_the_hash_under_its_first_two_digits():
    digest = hashlib.sha256(b"x").hexdigest()
    assert key_of(digest) == f"{digest[:2]}/{digest}"
    with pytest.raises(ValueError):
        key_of("../../etc/passwd")


def test_the_local_store_writes_an_object_once_under_its_hash(tmp_path):
    store = LocalMedia(tmp_path)
    digest = store.put(b"photo bytes")
    path = tmp_path / digest[:2] / digest
    assert digest == hashlib.sha256(b"photo bytes").hexdigest() and path.read_bytes() == b"photo bytes"
    written = path.stat().st_mtime_ns
    assert store.put(b"photo bytes") == digest and path.stat().st_mtime_ns == written
    assert store.get(digest) == b"photo bytes" and store.has(digest)
    assert [p.name for p in path.parent.iterdir()] == [digest]  # no temporary file left behind
    with pytest.raises(NotFound):
        store.get(hashlib.sha256(b"other").hexdigest())


def test_the_s3_store_writes_an_object_once_and_another_store_on_the_bucket_reads_it(s3_bucket):
    def store():
        return open_store(folder="/nonexistent", bucket=s3_bucket["MEDIA_S3_BUCKET"],
                          endpoint_url=s3_bucket["MEDIA_S3_ENDPOINT_URL"], access_key_id="test",
                          secret_access_key="test", region="us-east-1", prefix="media")

    first, second = store(), store()
    assert isinstance(first, S3Media)
    digest = first.put(b"\xff\xd8 a photo")
    client = boto3.client("s3", endpoint_url=s3_bucket["MEDIA_S3_ENDPOINT_URL"], aws_access_key_id="test",
                          aws_secret_access_key="test", region_name="us-east-1")
    listed = client.list_objects_v2(Bucket=s3_bucket["MEDIA_S3_BUCKET"])["Contents"]
    assert [o["Key"] for o in listed] == [f"media/{digest[:2]}/{digest}"]
    stamp = listed[0]["LastModified"]
    assert second.put(b"\xff\xd8 a photo") == digest
    assert client.list_objects_v2(Bucket=s3_bucket["MEDIA_S3_BUCKET"])["Contents"][0]["LastModified"] == stamp
    assert second.get(digest) == b"\xff\xd8 a photo" and second.has(digest)
    with pytest.raises(NotFound):
        second.get(hashlib.sha256(b"never stored").hexdigest())


def test_a_damaged_object_is_never_served(tmp_path):
    store = LocalMedia(tmp_path)
    digest = store.put(b"photo bytes")
    (tmp_path / digest[:2] / digest).write_bytes(b"photo bytez")
    with pytest.raises(GridgovError, match="damaged"):
        store.get(digest)
