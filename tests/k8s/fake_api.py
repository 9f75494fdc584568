"""A stateful Kubernetes API server over real HTTP, for the parts of the API kubetune uses.

No kube-apiserver can run here, so this stands in for it: the official ``kubernetes`` client talks to
it unchanged (no patched client methods). It keeps what a real server keeps and kmock 0.8 lacks:
uid, resourceVersion and creationTimestamp on every object, label selectors on list and watch, watch
resume from a resourceVersion with ``410 Gone`` once history is compacted, watch timeoutSeconds,
list kinds, status subresources (PUT), pod logs as text/plain (``follow`` streams them until the pod
ends), and cascading (Background) deletion of a Job's pods. An audit log records every write, so tests
can count created Jobs.

What a Prefect worker and its observer (kopf) need besides: API discovery (/api, /apis, /version), the
all-namespace paths, Events, Secrets and ConfigMaps, JSON merge patches. ``FakeKubeAPI(tls=True)`` also
serves HTTPS with a self-signed certificate for in-cluster clients: ``issue_token`` gives a
ServiceAccount's bearer token, and requests carrying one are authorized by the Roles granted with
``grant_role`` (namespaced rules only: a Role never allows a cluster-scope request, as in Kubernetes).
Refused requests get kube-apiserver's 403 Status and are kept in ``state.denied``. Requests without a
token are the cluster admin (the tests' own clients).
"""

from __future__ import annotations

import copy
import ipaddress
import json
import re
import ssl
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

_ROUTE = re.compile(
    r"^/(?:api/v1|apis/(?P<group>batch)/v1)(?:/namespaces/(?P<ns>[^/]+))?/(?P<plural>jobs|pods|events|secrets|configmaps)"
    r"(?:/(?P<name>[^/]+)(?:/(?P<sub>status|log))?)?$"
)
_KINDS = {
    "jobs": ("Job", "batch/v1"),
    "pods": ("Pod", "v1"),
    "events": ("Event", "v1"),
    "secrets": ("Secret", "v1"),
    "configmaps": ("ConfigMap", "v1"),
}
_GROUPS = {"jobs": "batch"}  # the API group of each resource; the rest are the core group ("")
_SUBRESOURCES = {"pods": ("status", "log"), "jobs": ("status",)}


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def matches(labels: dict[str, str], selector: str | None) -> bool:
    """Equality (k=v, k==v), inequality (k!=v) and existence (k, !k) selectors, comma-separated."""
    for term in filter(None, (selector or "").split(",")):
        term = term.strip()
        if "!=" in term:
            key, value = term.split("!=", 1)
            if labels.get(key) == value:
                return False
        elif "=" in term:
            key, value = term.replace("==", "=").split("=", 1)
            if labels.get(key) != value:
                return False
        elif term.startswith("!"):
            if term[1:] in labels:
                return False
        elif term not in labels:
            return False
    return True


def _merge(target: dict[str, Any], patch: dict[str, Any]) -> None:
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = copy.deepcopy(value)


@dataclass(frozen=True)
class PolicyRule:
    """One rule of a Role: API groups, resources (``pods/log`` for a subresource) and verbs; ``*`` matches all."""

    api_groups: tuple[str, ...]
    resources: tuple[str, ...]
    verbs: tuple[str, ...]

    def allows(self, group: str, resource: str, verb: str) -> bool:
        return (
            ("*" in self.api_groups or group in self.api_groups)
            and ("*" in self.resources or resource in self.resources)
            and ("*" in self.verbs or verb in self.verbs)
        )


@dataclass
class Authorizer:
    """ServiceAccount tokens and the namespaced Roles bound to them (RBAC as kube-apiserver applies it)."""

    tokens: dict[str, tuple[str, str]] = field(
        default_factory=dict
    )  # token -> (namespace, service account)
    roles: dict[tuple[str, str], list[PolicyRule]] = field(
        default_factory=dict
    )  # (namespace, account) -> rules

    def issue_token(self, namespace: str, service_account: str) -> str:
        token = uuid.uuid4().hex + uuid.uuid4().hex
        self.tokens[token] = (namespace, service_account)
        return token

    def grant_role(self, namespace: str, service_account: str, rules: list[dict[str, Any]]) -> None:
        """Bind a Role's ``rules`` (as written in its manifest) in ``namespace`` to the account."""
        self.roles.setdefault((namespace, service_account), []).extend(
            PolicyRule(
                tuple(r.get("apiGroups", [])),
                tuple(r.get("resources", [])),
                tuple(r.get("verbs", [])),
            )
            for r in rules
        )

    def allows(
        self, subject: tuple[str, str], namespace: str | None, group: str, resource: str, verb: str
    ) -> bool:
        if namespace is None:
            return False  # only a ClusterRole grants cluster-scope access, and none is bound here
        return any(
            rule.allows(group, resource, verb)
            for rule in self.roles.get((namespace, subject[1]), [])
        )


@dataclass
class Event:
    rv: int
    plural: str
    namespace: str
    type: str
    obj: dict[str, Any]


@dataclass
class ClusterState:
    rv: int = 0
    oldest_rv: int = 0
    objects: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)
    logs: dict[tuple[str, str], str] = field(default_factory=dict)
    audit: list[tuple[str, str, str, str]] = field(default_factory=list)
    denied: list[str] = field(default_factory=list)  # the messages of every 403 answered
    requests: list[tuple[str, str, str, str | None]] = field(
        default_factory=list
    )  # (account, verb, resource, namespace); account '' is the admin (no token)
    authorizer: Authorizer = field(default_factory=Authorizer)
    changed: threading.Condition = field(default_factory=threading.Condition)

    def _record(self, plural: str, namespace: str, kind: str, obj: dict[str, Any]) -> None:
        self.events.append(Event(self.rv, plural, namespace, kind, copy.deepcopy(obj)))
        self.changed.notify_all()

    def create(
        self, plural: str, namespace: str, body: dict[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        with self.changed:
            meta = body.get("metadata", {})
            name = meta.get("name") or (
                meta["generateName"] + uuid.uuid4().hex[:5] if meta.get("generateName") else None
            )
            body = {**body, "metadata": {**meta, "name": name}}
            if not name:
                return 422, _status(422, "Invalid", "metadata.name is required")
            key = (plural, namespace, name)
            if key in self.objects:
                return 409, _status(409, "AlreadyExists", f'{plural} "{name}" already exists')
            self.rv += 1
            obj = copy.deepcopy(body)
            kind, api_version = _KINDS[plural]
            obj.setdefault("kind", kind)
            obj.setdefault("apiVersion", api_version)
            meta = obj.setdefault("metadata", {})
            meta.update(
                namespace=namespace,
                uid=str(uuid.uuid4()),
                resourceVersion=str(self.rv),
                creationTimestamp=_now(),
                generation=1,
            )
            obj.setdefault("status", {})
            self.objects[key] = obj
            self.audit.append(("create", plural, namespace, name))
            self._record(plural, namespace, "ADDED", obj)
            if plural == "pods" and self._owner_gone(namespace, obj):
                # the garbage collector's job: a dependent whose owner was deleted does not survive
                self.objects.pop(key)
                self.rv += 1
                self.audit.append(("delete", plural, namespace, name))
                self._record(plural, namespace, "DELETED", obj)
            return 201, copy.deepcopy(obj)

    def _owner_gone(self, namespace: str, obj: dict[str, Any]) -> bool:
        owners = [o.get("uid") for o in obj["metadata"].get("ownerReferences", [])]
        jobs = {
            o["metadata"]["uid"]
            for (p, ns, _), o in self.objects.items()
            if p == "jobs" and ns == namespace
        }
        return bool(owners) and not any(uid in jobs for uid in owners)

    def get(self, plural: str, namespace: str, name: str) -> dict[str, Any] | None:
        with self.changed:
            obj = self.objects.get((plural, namespace, name))
            return copy.deepcopy(obj) if obj else None

    def list(self, plural: str, namespace: str | None, selector: str | None) -> dict[str, Any]:
        """``namespace=None`` lists every namespace (the all-namespace path)."""
        with self.changed:
            items = [
                copy.deepcopy(o)
                for (p, ns, _), o in sorted(self.objects.items())
                if p == plural
                and namespace in (None, ns)
                and matches(o["metadata"].get("labels", {}), selector)
            ]
            kind, api_version = _KINDS[plural]
            return {
                "kind": f"{kind}List",
                "apiVersion": api_version,
                "metadata": {"resourceVersion": str(self.rv)},
                "items": items,
            }

    def replace_status(
        self, plural: str, namespace: str, name: str, body: dict[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        with self.changed:
            obj = self.objects.get((plural, namespace, name))
            if obj is None:
                return 404, _status(404, "NotFound", f'{plural} "{name}" not found')
            self.rv += 1
            obj["status"] = copy.deepcopy(body.get("status", {}))
            obj["metadata"]["resourceVersion"] = str(self.rv)
            self.audit.append(("status", plural, namespace, name))
            self._record(plural, namespace, "MODIFIED", obj)
            return 200, copy.deepcopy(obj)

    def merge_patch(
        self, plural: str, namespace: str, name: str, patch: dict[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        """RFC 7386 JSON merge patch (kopf and the worker patch labels, annotations and owner references)."""
        with self.changed:
            obj = self.objects.get((plural, namespace, name))
            if obj is None:
                return 404, _status(404, "NotFound", f'{plural} "{name}" not found')
            _merge(obj, patch)
            self.rv += 1
            obj["metadata"]["resourceVersion"] = str(self.rv)
            self.audit.append(("patch", plural, namespace, name))
            self._record(plural, namespace, "MODIFIED", obj)
            return 200, copy.deepcopy(obj)

    def delete(
        self, plural: str, namespace: str, name: str, propagation: str | None
    ) -> tuple[int, dict[str, Any]]:
        with self.changed:
            obj = self.objects.pop((plural, namespace, name), None)
            if obj is None:
                return 404, _status(404, "NotFound", f'{plural} "{name}" not found')
            self.rv += 1
            self.audit.append(("delete", plural, namespace, name))
            self._record(plural, namespace, "DELETED", obj)
            if plural == "jobs" and propagation in ("Background", "Foreground"):
                uid = obj["metadata"]["uid"]
                for key, pod in list(self.objects.items()):
                    owners = pod["metadata"].get("ownerReferences", [])
                    if (
                        key[0] == "pods"
                        and key[1] == namespace
                        and any(o.get("uid") == uid for o in owners)
                    ):
                        self.objects.pop(key)
                        self.rv += 1
                        self.audit.append(("delete", "pods", namespace, key[2]))
                        self._record("pods", namespace, "DELETED", pod)
            return 200, _status(200, "Success", "deleted", status="Success")

    def compact(self) -> None:
        """Forget the event history, as etcd compaction does: older watches get 410 Gone."""
        with self.changed:
            self.events.clear()
            self.oldest_rv = self.rv
            self.changed.notify_all()

    def count(self, verb: str, plural: str) -> int:
        return sum(1 for v, p, _, _ in self.audit if v == verb and p == plural)


def _status(code: int, reason: str, message: str, status: str = "Failure") -> dict[str, Any]:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": status,
        "reason": reason,
        "message": message,
        "code": code,
    }


_DISCOVERY: dict[str, dict[str, Any]] = {
    "/api": {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}],
    },
    "/apis": {
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": [
            {
                "name": group,
                "versions": [{"groupVersion": f"{group}/v1", "version": "v1"}],
                "preferredVersion": {"groupVersion": f"{group}/v1", "version": "v1"},
            }
            for group in ("batch", "apiextensions.k8s.io")
        ],
    },
    "/version": {
        "major": "1",
        "minor": "33",
        "gitVersion": "v1.33.0-kubetune-test",
        "gitCommit": "",
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "go1.24",
        "compiler": "gc",
        "platform": "linux/amd64",
    },
}


def _resource_list(group_version: str) -> dict[str, Any]:
    resources = []
    for plural, (kind, api_version) in _KINDS.items():
        if api_version != group_version:
            continue
        resources.append(
            {
                "name": plural,
                "singularName": kind.lower(),
                "namespaced": True,
                "kind": kind,
                "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"],
            }
        )
        for sub in _SUBRESOURCES.get(plural, ()):
            resources.append(
                {
                    "name": f"{plural}/{sub}",
                    "singularName": "",
                    "namespaced": True,
                    "kind": kind if sub == "status" else "Pod",
                    "verbs": ["get", "update"] if sub == "status" else ["get"],
                }
            )
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": resources,
    }


# Listed, never served: clients (kopf) wait until discovery shows namespaces and CRDs before they watch.
_CLUSTER_SCOPED = {
    "v1": {
        "name": "namespaces",
        "singularName": "namespace",
        "namespaced": False,
        "kind": "Namespace",
        "verbs": ["get", "list", "watch"],
    },
    "apiextensions.k8s.io/v1": {
        "name": "customresourcedefinitions",
        "singularName": "customresourcedefinition",
        "namespaced": False,
        "kind": "CustomResourceDefinition",
        "verbs": ["get", "list", "watch"],
    },
}
for _group_version in ("v1", "batch/v1", "apiextensions.k8s.io/v1"):
    _listing = _resource_list(_group_version)
    if _group_version in _CLUSTER_SCOPED:
        _listing["resources"].append(_CLUSTER_SCOPED[_group_version])
    _DISCOVERY["/api/v1" if _group_version == "v1" else f"/apis/{_group_version}"] = _listing


class _Handler(BaseHTTPRequestHandler):
    protocol_version = (
        "HTTP/1.1"  # watches stream as chunked transfer encoding, as kube-apiserver does
    )
    disable_nagle_algorithm = (
        True  # keep-alive + separate header/body writes would stall 40 ms per request
    )
    state: ClusterState

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def _send(
        self, code: int, body: dict[str, Any] | str, content_type: str = "application/json"
    ) -> None:
        payload = body if isinstance(body, str) else json.dumps(body)
        data = payload.encode()
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _route(self) -> tuple[re.Match[str] | None, dict[str, list[str]]]:
        parsed = urlparse(self.path)
        return _ROUTE.match(parsed.path), parse_qs(parsed.query)

    def _body(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(length) or b"{}") if length else {}

    def _authorized(self, route: re.Match[str], verb: str) -> bool:
        """Authenticate the bearer token (none: the admin) and authorize the request by RBAC; else answer 401/403."""
        header = self.headers.get("Authorization", "")
        if not header:
            self.state.requests.append(("", verb, route["plural"], route["ns"]))
            return True
        scheme, _, token = header.strip().partition(" ")
        subject = (
            self.state.authorizer.tokens.get(token.strip()) if scheme.lower() == "bearer" else None
        )  # the client writes "bearer"
        if subject is None:
            self._send(401, _status(401, "Unauthorized", "Unauthorized"))
            return False
        group = route["group"] or ""
        resource = route["plural"] + (f"/{route['sub']}" if route["sub"] else "")
        self.state.requests.append((subject[1], verb, resource, route["ns"]))
        if self.state.authorizer.allows(subject, route["ns"], group, resource, verb):
            return True
        scope = f'in the namespace "{route["ns"]}"' if route["ns"] else "at the cluster scope"
        message = (
            f'{route["plural"]} is forbidden: User "system:serviceaccount:{subject[0]}:{subject[1]}" cannot {verb} '
            f'resource "{resource}" in API group "{group}" {scope}'
        )
        self.state.denied.append(message)
        self._send(403, _status(403, "Forbidden", message))
        return False

    def do_GET(self) -> None:
        path = urlparse(self.path).path.rstrip("/")
        if path in _DISCOVERY:
            return self._send(200, _DISCOVERY[path])
        route, query = self._route()
        if route is None:
            return self._send(404, _status(404, "NotFound", f"no route {self.path}"))
        ns, plural, name, sub = route["ns"], route["plural"], route["name"], route["sub"]
        selector = query.get("labelSelector", [None])[0]
        watching = name is None and query.get("watch", ["false"])[0].lower() in ("true", "1")
        if not self._authorized(route, "watch" if watching else "list" if name is None else "get"):
            return None
        if watching:
            return self._watch(plural, ns, selector, query)
        if name is None:
            return self._send(200, self.state.list(plural, ns, selector))
        obj = self.state.get(plural, ns, name)
        if obj is None:
            return self._send(404, _status(404, "NotFound", f'{plural} "{name}" not found'))
        if sub == "log":
            if query.get("follow", ["false"])[0].lower() in ("true", "1"):
                return self._follow_log(ns, name)
            text = self.state.logs.get((ns, name), "")
            tail = query.get("tailLines", [None])[0]
            if tail:
                text = "\n".join(text.splitlines()[-int(tail) :]) + ("\n" if text else "")
            return self._send(200, text, "text/plain")
        return self._send(200, obj)

    def do_POST(self) -> None:
        route, _ = self._route()
        if route is None or route["name"] is not None or route["ns"] is None:
            return self._send(404, _status(404, "NotFound", self.path))
        if not self._authorized(route, "create"):
            return None
        code, obj = self.state.create(route["plural"], route["ns"], self._body())
        self._send(code, obj)

    def do_PUT(self) -> None:
        route, _ = self._route()
        if route is None or route["sub"] != "status":
            return self._send(
                405,
                _status(405, "MethodNotAllowed", "only status subresources can be replaced here"),
            )
        if not self._authorized(route, "update"):
            return None
        code, obj = self.state.replace_status(
            route["plural"], route["ns"], route["name"], self._body()
        )
        self._send(code, obj)

    def do_PATCH(self) -> None:
        route, _ = self._route()
        if route is None or route["name"] is None or route["sub"] is not None:
            return self._send(405, _status(405, "MethodNotAllowed", self.path))
        if "json-patch+json" in self.headers.get("Content-Type", ""):
            return self._send(
                415, _status(415, "UnsupportedMediaType", "only merge patches are served here")
            )
        if not self._authorized(route, "patch"):
            return None
        code, obj = self.state.merge_patch(
            route["plural"], route["ns"], route["name"], self._body()
        )
        self._send(code, obj)

    def do_DELETE(self) -> None:
        route, query = self._route()
        if route is None or route["name"] is None:
            return self._send(405, _status(405, "MethodNotAllowed", self.path))
        if not self._authorized(route, "delete"):
            return None
        body = self._body()
        propagation = body.get("propagationPolicy") or query.get("propagationPolicy", [None])[0]
        code, obj = self.state.delete(route["plural"], route["ns"], route["name"], propagation)
        self._send(code, obj)

    def _start_stream(self, content_type: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header(
            "Connection", "close"
        )  # said, not only done: else the client reuses a closed socket
        self.end_headers()
        self.close_connection = True

    def _watch(
        self, plural: str, ns: str | None, selector: str | None, query: dict[str, list[str]]
    ) -> None:
        timeout = float(query.get("timeoutSeconds", ["30"])[0])
        since = query.get("resourceVersion", [""])[0]
        self._start_stream("application/json")
        try:
            self._stream_events(plural, ns, selector, since, timeout)
        finally:
            self._chunk(b"")  # the last, empty chunk ends the response

    def _follow_log(self, ns: str, name: str) -> None:
        """Stream the pod's log as it grows, until the pod has ended (or is gone) and all of it was sent."""
        self._start_stream("text/plain")
        sent = 0
        state = self.state
        try:
            while True:
                with state.changed:
                    text = state.logs.get((ns, name), "")
                    pod = state.objects.get(("pods", ns, name))
                    ended = pod is None or pod.get("status", {}).get("phase") in (
                        "Succeeded",
                        "Failed",
                    )
                    if len(text) == sent and not ended:
                        state.changed.wait(0.5)
                        continue
                if len(text) > sent:
                    self._chunk(text[sent:].encode())
                    sent = len(text)
                elif ended:
                    return
        finally:
            self._chunk(b"")

    def _stream_events(
        self, plural: str, ns: str | None, selector: str | None, since: str, timeout: float
    ) -> None:
        deadline = time.monotonic() + timeout
        state = self.state
        with state.changed:
            if since and since != "0" and int(since) < state.oldest_rv:
                self._line(
                    {
                        "type": "ERROR",
                        "object": _status(
                            410, "Expired", f"too old resource version: {since} ({state.oldest_rv})"
                        ),
                    }
                )
                return
            if since and since != "0":
                cursor = int(since)
            else:  # no resourceVersion ("0": any): the current objects first, as synthetic ADDED events
                for (p, namespace, _), obj in sorted(state.objects.items()):
                    if (
                        p == plural
                        and ns in (None, namespace)
                        and matches(obj["metadata"].get("labels", {}), selector)
                    ):
                        self._line({"type": "ADDED", "object": obj})
                cursor = state.rv
            while True:
                for event in state.events:
                    if (
                        event.rv > cursor
                        and event.plural == plural
                        and ns in (None, event.namespace)
                        and matches(event.obj["metadata"].get("labels", {}), selector)
                    ):
                        self._line({"type": event.type, "object": event.obj})
                cursor = max([cursor] + [e.rv for e in state.events])
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return
                state.changed.wait(min(remaining, 0.5))

    def _line(self, event: dict[str, Any]) -> None:
        self._chunk((json.dumps(event) + "\n").encode())

    def _chunk(self, data: bytes) -> None:
        try:
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            pass


def _self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """A CA-less self-signed serving certificate for 127.0.0.1 / localhost (what in-cluster clients verify)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kubernetes")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                    x509.DNSName("localhost"),
                    x509.DNSName("kubernetes.default.svc"),
                ]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "ca.crt", directory / "tls.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


class FakeKubeAPI:
    """Runs the server in a thread; ``url`` for a kubeconfig, ``state`` for assertions.

    ``tls=True`` serves HTTPS (``ca_cert`` is the certificate clients trust), as in-cluster clients require.
    """

    def __init__(self, tls: bool = False) -> None:
        self.state = ClusterState()
        handler = type("Handler", (_Handler,), {"state": self.state})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.ca_cert: Path | None = None
        scheme = "http"
        if tls:
            self._tls_dir = tempfile.TemporaryDirectory(prefix="fake-kube-api-")
            self.ca_cert, key = _self_signed_certificate(Path(self._tls_dir.name))
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(self.ca_cert, key)
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
            scheme = "https"
        self.port = self.server.server_address[1]
        self.url = f"{scheme}://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> FakeKubeAPI:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def kubeconfig(self, path: Any, token: str | None = None, namespace: str = "kubetune") -> str:
        """A kubeconfig for this server: as the admin, or as the ServiceAccount a ``token`` belongs to."""
        import yaml

        cluster: dict[str, Any] = {"server": self.url}
        if self.ca_cert is not None:
            cluster["certificate-authority"] = str(self.ca_cert)
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "current-context": "fake",
            "clusters": [{"name": "fake", "cluster": cluster}],
            "users": [{"name": "fake", "user": {"token": token} if token else {}}],
            "contexts": [
                {
                    "name": "fake",
                    "context": {"cluster": "fake", "user": "fake", "namespace": namespace},
                }
            ],
        }
        path.write_text(yaml.safe_dump(config))
        return str(path)
