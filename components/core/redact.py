"""Keep credentials out of everything kubetune records: URLs lose their passwords before logging."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit, urlunsplit

MASK = "***"  # what a recorded password reads as
_SECRET_KEYS = re.compile(
    r"(password|passwd|secret|token|access_key|api_key|credential)", re.IGNORECASE
)
# Bounded repetitions keep the scan linear: with `*`/`+` a long value without "://" (a 1,000,000-character
# string) made the regex backtrack from every position -- 80,000 characters took 22 s.
_URL_WITH_USERINFO = re.compile(
    r"([a-zA-Z][a-zA-Z0-9+.-]{0,31}://)([^/@\s:]{1,256}):([^/@\s]{1,1024})@"
)


def redact_url(url: str) -> str:
    """``postgresql://u:pw@h/db`` -> ``postgresql://u:***@h/db``; other strings pass through."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return _URL_WITH_USERINFO.sub(rf"\1\2:{MASK}@", url)
    if parts.password is None:
        return url
    netloc = f"{parts.username}:{MASK}@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def masked_password_problem(url: str, setting: str, env_var: str) -> str | None:
    """The one-line error for a URL whose password is the mask ``redact_url`` writes, else None. A spec.yaml
    downloaded from a study's parent run carries such URLs; connecting with them would fail on an
    authentication error that does not say why."""
    try:
        masked = urlsplit(url).password == MASK
    except ValueError:
        masked = f":{MASK}@" in url
    if not masked:
        return None
    return (
        f"{setting}: the password in {redact_url(url)} is the mask kubetune records in place of a password "
        f"(a downloaded spec.yaml): give the real one, or set {env_var}"
    )


def redact_text(text: str) -> str:
    """Passwords inside any URLs in free text (error messages, logs)."""
    return _URL_WITH_USERINFO.sub(rf"\1\2:{MASK}@", text)


def error_reason(error: BaseException, limit: int = 200) -> str:
    """An exception as one short line for a log or a tag: its first line, URL passwords removed."""
    text = str(error)
    return redact_text(text.splitlines()[0][:limit]) if text else type(error).__name__


# keys whose values name Kubernetes Secrets rather than hold them (Secret names, secretKeyRefs): a recorded
# spec keeps them, so it can be run again; masking them made a downloaded spec.yaml fail to parse
_SECRET_REFERENCES = frozenset({"imagePullSecrets", "secretEnv"})


def redact_mapping(value: Any, mask_keys: bool = True) -> Any:
    """A deep copy with secret-looking keys masked and URL passwords removed. Below a key in
    ``_SECRET_REFERENCES`` keys are not masked: they are env var names such as AWS_SECRET_ACCESS_KEY
    whose values are references to Secrets."""
    if isinstance(value, dict):
        return {
            k: MASK
            if mask_keys and k not in _SECRET_REFERENCES and _SECRET_KEYS.search(str(k))
            else redact_mapping(v, mask_keys and k not in _SECRET_REFERENCES)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [redact_mapping(v, mask_keys) for v in value]
    if isinstance(value, str):
        return redact_text(value)
    return value
