"""A stateful Kubernetes API server over real HTTP, for the parts of the API kubetune uses.

No kube-apiserver can run here, so this stands in for it: the official ``kubernetes`` client talks to
it unchanged (no patched client methods). It keeps what a real server keeps and kmock 0.8 lacks:
uid, resourceVersion and creationTimestamp on every object, label selectors on list and watch, watch
resume from a resourceVersion with ``410 Gone`` once history is compacted, watch timeoutSeconds,
list kinds, status subresources (PUT), pod logs as text/plain, and cascading (Background) deletion of
a Job's pods. An audit log records every write, so tests can count created Jobs.
"""

from __future__ import annotations

import copy
import json
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

_ROUTE = re.compile(
    r"^/(?:api/v1|apis/batch/v1)/namespaces/(?P<ns>[^/]+)/(?P<plural>jobs|pods)(?:/(?P<name>[^/]+)(?:/(?P<sub>status|log))?)?$"
)
_KINDS = {"jobs": ("Job", "batch/v1"), "pods": ("Pod", "v1")}


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


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
    changed: threading.Condition = field(default_factory=threading.Condition)

    def _record(self, plural: str, namespace: str, kind: str, obj: dict[str, Any]) -> None:
        self.events.append(Event(self.rv, plural, namespace, kind, copy.deepcopy(obj)))
        self.changed.notify_all()

    def create(self, plural: str, namespace: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self.changed:
            name = body.get("metadata", {}).get("name")
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
            meta.update(namespace=namespace, uid=str(uuid.uuid4()), resourceVersion=str(self.rv), creationTimestamp=_now(), generation=1)
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
        jobs = {o["metadata"]["uid"] for (p, ns, _), o in self.objects.items() if p == "jobs" and ns == namespace}
        return bool(owners) and not any(uid in jobs for uid in owners)

    def get(self, plural: str, namespace: str, name: str) -> dict[str, Any] | None:
        with self.changed:
            obj = self.objects.get((plural, namespace, name))
            return copy.deepcopy(obj) if obj else None

    def list(self, plural: str, namespace: str, selector: str | None) -> dict[str, Any]:
        with self.changed:
            items = [copy.deepcopy(o) for (p, ns, _), o in sorted(self.objects.items()) if p == plural and ns == namespace and matches(o["metadata"].get("labels", {}), selector)]
            kind, api_version = _KINDS[plural]
            return {"kind": f"{kind}List", "apiVersion": api_version, "metadata": {"resourceVersion": str(self.rv)}, "items": items}

    def replace_status(self, plural: str, namespace: str, name: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
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

    def delete(self, plural: str, namespace: str, name: str, propagation: str | None) -> tuple[int, dict[str, Any]]:
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
                    if key[0] == "pods" and key[1] == namespace and any(o.get("uid") == uid for o in owners):
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
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": status, "reason": reason, "message": message, "code": code}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # watches stream as chunked transfer encoding, as kube-apiserver does
    disable_nagle_algorithm = True  # keep-alive + separate header/body writes would stall 40 ms per request
    state: ClusterState

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def _send(self, code: int, body: dict[str, Any] | str, content_type: str = "application/json") -> None:
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

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        route, query = self._route()
        if route is None:
            return self._send(404, _status(404, "NotFound", f"no route {self.path}"))
        ns, plural, name, sub = route["ns"], route["plural"], route["name"], route["sub"]
        selector = query.get("labelSelector", [None])[0]
        if name is None and query.get("watch", ["false"])[0].lower() in ("true", "1"):
            return self._watch(plural, ns, selector, query)
        if name is None:
            return self._send(200, self.state.list(plural, ns, selector))
        obj = self.state.get(plural, ns, name)
        if obj is None:
            return self._send(404, _status(404, "NotFound", f'{plural} "{name}" not found'))
        if sub == "log":
            text = self.state.logs.get((ns, name), "")
            tail = query.get("tailLines", [None])[0]
            if tail:
                text = "\n".join(text.splitlines()[-int(tail):]) + ("\n" if text else "")
            return self._send(200, text, "text/plain")
        return self._send(200, obj)

    def do_POST(self) -> None:  # noqa: N802
        route, _ = self._route()
        if route is None or route["name"] is not None:
            return self._send(404, _status(404, "NotFound", self.path))
        code, obj = self.state.create(route["plural"], route["ns"], self._body())
        self._send(code, obj)

    def do_PUT(self) -> None:  # noqa: N802
        route, _ = self._route()
        if route is None or route["sub"] != "status":
            return self._send(405, _status(405, "MethodNotAllowed", "only status subresources can be replaced here"))
        code, obj = self.state.replace_status(route["plural"], route["ns"], route["name"], self._body())
        self._send(code, obj)

    def do_DELETE(self) -> None:  # noqa: N802
        route, query = self._route()
        if route is None or route["name"] is None:
            return self._send(405, _status(405, "MethodNotAllowed", self.path))
        body = self._body()
        propagation = body.get("propagationPolicy") or query.get("propagationPolicy", [None])[0]
        code, obj = self.state.delete(route["plural"], route["ns"], route["name"], propagation)
        self._send(code, obj)

    def _watch(self, plural: str, ns: str, selector: str | None, query: dict[str, list[str]]) -> None:
        timeout = float(query.get("timeoutSeconds", ["30"])[0])
        since = query.get("resourceVersion", [""])[0]
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Connection", "close")  # said, not only done: else the client reuses a closed socket
        self.end_headers()
        self.close_connection = True
        try:
            self._stream_events(plural, ns, selector, since, timeout)
        finally:
            self._chunk(b"")  # the last, empty chunk ends the response

    def _stream_events(self, plural: str, ns: str, selector: str | None, since: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        state = self.state
        with state.changed:
            if since and int(since) < state.oldest_rv:
                self._line({"type": "ERROR", "object": _status(410, "Expired", f"too old resource version: {since} ({state.oldest_rv})")})
                return
            if since:
                cursor = int(since)
            else:  # no resourceVersion: the current objects first, as synthetic ADDED events
                for (p, namespace, _), obj in sorted(state.objects.items()):
                    if p == plural and namespace == ns and matches(obj["metadata"].get("labels", {}), selector):
                        self._line({"type": "ADDED", "object": obj})
                cursor = state.rv
            while True:
                for event in state.events:
                    if event.rv > cursor and event.plural == plural and event.namespace == ns and matches(event.obj["metadata"].get("labels", {}), selector):
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
        except (BrokenPipeError, ConnectionResetError):
            pass


class FakeKubeAPI:
    """Runs the server in a thread; ``url`` for a kubeconfig, ``state`` for assertions."""

    def __init__(self) -> None:
        self.state = ClusterState()
        handler = type("Handler", (_Handler,), {"state": self.state})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> "FakeKubeAPI":
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def kubeconfig(self, path: Any) -> str:
        import yaml

        config = {
            "apiVersion": "v1", "kind": "Config", "current-context": "fake",
            "clusters": [{"name": "fake", "cluster": {"server": self.url}}],
            "users": [{"name": "fake", "user": {}}],
            "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "fake", "namespace": "kubetune"}}],
        }
        path.write_text(yaml.safe_dump(config))
        return str(path)
