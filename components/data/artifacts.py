"""The artifact store: prepared data (and later checkpoints) on S3 through boto3, or in a local folder.

The endpoint is configurable so MinIO and other S3-compatible stores work. Credentials come from boto3's
usual chain (environment, mounted config or secret, instance role) and never from the spec; messages
name the bucket and the endpoint, never a key.
"""

from __future__ import annotations

import os
import shutil
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlparse

from kubetune.components.core import KubetuneError


class ArtifactError(KubetuneError):
    """The artifact store cannot be reached or refuses access."""


def s3_endpoint() -> str | None:
    """``KUBETUNE_S3_ENDPOINT_URL`` wins; boto3 itself also honours ``AWS_ENDPOINT_URL(_S3)``."""
    return (
        os.environ.get("KUBETUNE_S3_ENDPOINT_URL")
        or os.environ.get("AWS_ENDPOINT_URL_S3")
        or os.environ.get("AWS_ENDPOINT_URL")
        or os.environ.get("MLFLOW_S3_ENDPOINT_URL")
    )


def s3_client():
    """A client for the current endpoint and identity (boto3's default session would cache old credentials)."""
    return _client(
        s3_endpoint(), os.environ.get("AWS_ACCESS_KEY_ID"), os.environ.get("AWS_PROFILE")
    )


@lru_cache(maxsize=8)
def _client(endpoint: str | None, key_id: str | None, profile: str | None):
    import boto3
    from botocore.config import Config

    config = Config(
        connect_timeout=3, read_timeout=30, retries={"max_attempts": 2, "mode": "standard"}
    )
    return boto3.session.Session().client("s3", endpoint_url=endpoint, config=config)


def split_s3_uri(uri: str) -> tuple[str, str]:
    parsed = urlparse(uri)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise ArtifactError(f"'{uri}' is not of the form s3://bucket/key")
    return parsed.netloc, parsed.path.lstrip("/")


def _explain(uri: str, error: Exception) -> ArtifactError:
    """One line naming the store and what went wrong, with no credential in it."""
    from botocore.exceptions import ClientError, NoCredentialsError

    where = f"{uri} (endpoint {s3_endpoint() or 'AWS default'})"
    if isinstance(error, NoCredentialsError):
        return ArtifactError(f"no S3 credentials found for {where}")
    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code", "error")
        if code in ("InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "403"):
            return ArtifactError(f"S3 refused the credentials for {where} ({code})")
        return ArtifactError(f"S3 said {code} for {where}")
    return ArtifactError(f"cannot reach {where}: {type(error).__name__}")


def read_s3_bytes(uri: str) -> bytes:
    bucket, key = split_s3_uri(uri)
    try:
        return s3_client().get_object(Bucket=bucket, Key=key)["Body"].read()
    except Exception as error:  # noqa: BLE001 - every boto error becomes one clear line
        raise _explain(uri, error) from None


def object_version(uri: str) -> str:
    """An identifier that changes when the object does: S3 ETag, or a local file's size and mtime."""
    if not uri.startswith("s3://"):
        stat = Path(uri).stat()
        return f"{stat.st_size}-{stat.st_mtime_ns}"
    bucket, key = split_s3_uri(uri)
    try:
        return s3_client().head_object(Bucket=bucket, Key=key)["ETag"]
    except Exception as error:  # noqa: BLE001
        raise _explain(uri, error) from None


def put_file(local: Path, uri: str) -> str:
    """Copy a local file into the store at ``uri`` (s3://... or a folder path); returns ``uri``."""
    if uri.startswith("s3://"):
        bucket, key = split_s3_uri(uri)
        try:
            s3_client().upload_file(str(local), bucket, key)
        except Exception as error:  # noqa: BLE001
            raise _explain(uri, error) from None
        return uri
    Path(uri).parent.mkdir(parents=True, exist_ok=True)
    if Path(uri).resolve() != local.resolve():
        shutil.copyfile(local, uri)
    return uri


def write_bytes(uri: str, data: bytes) -> str:
    """Store ``data`` at ``uri`` (s3://... or a local path): checkpoints, which pods and workers share."""
    if uri.startswith("s3://"):
        bucket, key = split_s3_uri(uri)
        try:
            s3_client().put_object(Bucket=bucket, Key=key, Body=data)
        except Exception as error:  # noqa: BLE001
            raise _explain(uri, error) from None
        return uri
    Path(uri).parent.mkdir(parents=True, exist_ok=True)
    Path(uri).write_bytes(data)
    return uri


def delete(uri: str) -> None:
    """Remove the object or file at ``uri``; one that is already gone is fine."""
    if uri.startswith("s3://"):
        bucket, key = split_s3_uri(uri)
        try:
            s3_client().delete_object(Bucket=bucket, Key=key)
        except Exception as error:  # noqa: BLE001
            raise _explain(uri, error) from None
        return
    Path(uri).unlink(missing_ok=True)


def read_bytes(uri: str) -> bytes:
    return read_s3_bytes(uri) if uri.startswith("s3://") else Path(uri).read_bytes()


def check_access(uri: str) -> None:
    """Fail now, naming the endpoint, if the store cannot be written: before any trial starts."""
    if not uri.startswith("s3://"):
        Path(uri).mkdir(parents=True, exist_ok=True)
        return
    bucket, _ = split_s3_uri(uri)
    try:
        s3_client().head_bucket(Bucket=bucket)
    except Exception as error:  # noqa: BLE001
        raise _explain(f"s3://{bucket}", error) from None


def artifact_root(spec_uri: str | None) -> str | None:
    """``KUBETUNE_ARTIFACT_URI`` wins over the spec; None means the study's local work folder."""
    return os.environ.get("KUBETUNE_ARTIFACT_URI") or spec_uri


def join(root: str, *parts: str) -> str:
    return "/".join([root.rstrip("/"), *parts])
