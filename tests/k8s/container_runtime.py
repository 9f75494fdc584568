"""How the test kubelet starts a pod's container: as a local process (``LocalProcessRuntime``, the fast
default of the integration tests) or inside the container image the manifest names
(``BuildahRuntime``, the platform test).

``BuildahRuntime`` resolves what a container runtime resolves from the image and the manifest -- the
image's ENTRYPOINT and CMD overridden by ``command`` and ``args``, the image's environment under the
manifest's, ``workingDir``, the user from ``securityContext`` (runAsUser/runAsGroup, fsGroup as a
supplementary group) or else the image's USER, ``runAsNonRoot`` refused for a root user, a read-only root
filesystem with the pod's volumes (emptyDir, Secret, ConfigMap, the ServiceAccount token) mounted where
the manifest says -- and runs the command inside the image's root filesystem: a buildah working
container, mounted, entered by ``container_init`` in its own mount and PID namespaces, on the host's
network so that the pod reaches the machine's services. ``buildah run`` itself cannot make the root
read-only, which is why the last step is ours.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"


class ContainerProcess(subprocess.Popen):
    """The ``unshare`` process of a container; its child is PID 1 of the container's PID namespace.

    Killing that child ends every process of the namespace (the kernel's rule for a namespace's init). It
    must be killed by its host PID: ``unshare --kill-child`` sets a parent-death signal that the kernel
    clears when the container drops to its user, so killing ``unshare`` alone left servers such as the
    MLflow pod's gunicorn workers running (and holding the log pipe open) after their pod was deleted."""

    def kill(self) -> None:
        for pid in _children(self.pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        super().kill()

    terminate = kill  # a container's processes get no grace period here: pods are deleted at the end of a test


class LocalContainerProcess(subprocess.Popen):
    """A container run as a host process, in a session of its own: killing it kills its process group,
    as the kernel ends a container's every process when the kubelet kills it or its cgroup runs out of
    memory (``memory.oom.group``). A group pod's member processes must not outlive their pod."""

    def kill(self) -> None:
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    terminate = kill


def _children(pid: int) -> list[int]:
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if (
            int(stat.rsplit(")", 1)[1].split()[1]) == pid
        ):  # the field after the state: the parent's PID
            children.append(int(entry.name))
    return children


class ContainerConfigError(Exception):
    """The container cannot be created as its manifest says (kubelet's CreateContainerConfigError)."""


class ImageNotPresent(Exception):
    """The image is not in local storage and nothing can be pulled here (ErrImageNeverPull)."""


@dataclass
class Started:
    process: subprocess.Popen
    cleanup: Callable[[], None] = lambda: None
    user: tuple[int, int] | None = None  # the uid and gid the container's process runs as


class LocalProcessRuntime:
    """The container's command as a host process with the host's environment plus the manifest's."""

    def __init__(self, extra_env: dict[str, str] | None = None, cwd: Path | None = None) -> None:
        self.extra_env = extra_env or {}
        self.cwd = cwd

    def start(
        self,
        pod: dict[str, Any],
        container: dict[str, Any],
        env: dict[str, str],
        volumes: VolumeSource,
    ) -> Started:
        command = [_host_program(container["command"][0]), *container["command"][1:]]
        try:
            process = LocalContainerProcess(
                command,
                env={**os.environ, **self.extra_env, **env},
                cwd=self.cwd,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                start_new_session=True,
            )
        except FileNotFoundError:
            raise ContainerConfigError(
                f'exec: "{command[0]}": executable file not found in $PATH'
            ) from None
        return Started(process)


def _host_program(name: str) -> str:
    """The image's programs as this Python environment has them: ``python`` is this interpreter, and a
    console script (``kubetune-trial``) is the one installed beside it, whatever the test's PATH holds."""
    if name == "python":
        return sys.executable
    installed = Path(sys.executable).with_name(name)
    return str(installed) if "/" not in name and installed.exists() else name


@dataclass
class VolumeSource:
    """What the kubelet reads from the API server to fill a pod's volumes."""

    namespace: str
    secret: Callable[[str], dict[str, str]]  # Secret name -> its decoded data
    config_map: Callable[[str], dict[str, str]]
    token: Callable[[str], str]  # ServiceAccount name -> a bearer token for it
    api_port: int = 0
    ca_cert: Path | None = None


@dataclass
class ImageConfig:
    entrypoint: list[str]
    cmd: list[str]
    env: dict[str, str]
    workdir: str
    user: str


def expand(text: str, env: dict[str, str]) -> str:
    """The kubelet's ``$(VAR)`` expansion: defined variables are replaced, ``$$(VAR)`` escapes, others stay."""
    return re.sub(
        r"\$(\$)?\((\w+)\)",
        lambda m: m.group(0)[1:] if m.group(1) else env.get(m.group(2), m.group(0)),
        text,
    )


def resolve_argv(
    image: ImageConfig, container: dict[str, Any], env: dict[str, str] | None = None
) -> list[str]:
    """Kubernetes' rule: ``command`` replaces ENTRYPOINT (and drops CMD); ``args`` replaces CMD; ``$(VAR)``
    in the manifest's command and args expands from the container's env."""
    command, args = container.get("command"), container.get("args")
    manifest = (
        [expand(part, env or {}) for part in (command or [])],
        [expand(part, env or {}) for part in (args or [])],
    )
    if command:
        return manifest[0] + manifest[1]
    return image.entrypoint + (manifest[1] if args is not None else image.cmd)


def _passwd(rootfs: Path) -> tuple[dict[str, tuple[int, int, str]], dict[str, int]]:
    users: dict[str, tuple[int, int, str]] = {}
    groups: dict[str, int] = {}
    for line in (rootfs / "etc/passwd").read_text().splitlines():
        parts = line.split(":")
        if len(parts) >= 6:
            users[parts[0]] = (int(parts[2]), int(parts[3]), parts[5])
    group_file = rootfs / "etc/group"
    for line in group_file.read_text().splitlines() if group_file.exists() else []:
        parts = line.split(":")
        if len(parts) >= 3:
            groups[parts[0]] = int(parts[2])
    return users, groups


def resolve_user(
    image: ImageConfig, pod: dict[str, Any], container: dict[str, Any], rootfs: Path
) -> tuple[int, int, list[int], str]:
    """(uid, gid, supplementary groups, home) as the runtime runs the process."""
    pod_context = pod.get("securityContext") or {}
    context = {**pod_context, **(container.get("securityContext") or {})}
    users, groups = _passwd(rootfs)
    by_uid = {uid: (gid, home) for uid, gid, home in users.values()}
    name, _, group = (image.user or "0").partition(":")
    if name.isdigit():
        image_uid, (image_gid, _home) = int(name), by_uid.get(int(name), (0, "/"))
    elif name in users:
        image_uid, image_gid, _home = users[name]
    else:
        raise ContainerConfigError(
            f"unable to find user {name}: no matching entries in passwd file"
        )
    if group:
        image_gid = int(group) if group.isdigit() else groups.get(group, image_gid)
    uid = context.get("runAsUser", image_uid)
    gid = context.get(
        "runAsGroup", by_uid.get(uid, (image_gid, "/"))[0] if "runAsUser" in context else image_gid
    )
    if context.get("runAsNonRoot") and uid == 0:
        raise ContainerConfigError("container has runAsNonRoot and image will run as root")
    supplementary = [
        g
        for g in [pod_context.get("fsGroup"), *pod_context.get("supplementalGroups", [])]
        if g is not None
    ]
    home = by_uid.get(uid, (gid, "/"))[1] or "/"
    return uid, gid, supplementary, home


class BuildahRuntime:
    """Runs containers in local buildah images. ``hosts`` maps the cluster's Service names to addresses
    (the stand-in for cluster DNS: written into the pod's /etc/hosts)."""

    def __init__(self, hosts: dict[str, str] | None = None) -> None:
        self.hosts = hosts or {}
        self._configs: dict[str, tuple[str, ImageConfig]] = {}

    # -- images ----------------------------------------------------------------------------------------

    def image(self, reference: str) -> tuple[str, ImageConfig]:
        """The local image a reference names (short names are looked for under localhost/) and its config."""
        if reference not in self._configs:
            for candidate in (reference, f"localhost/{reference}"):
                result = subprocess.run(
                    ["buildah", "inspect", "--type", "image", candidate],
                    capture_output=True,
                    text=True,
                )
                if result.returncode == 0:
                    config = json.loads(result.stdout)["OCIv1"].get("config", {})
                    env = dict(item.split("=", 1) for item in config.get("Env") or [])
                    self._configs[reference] = (
                        candidate,
                        ImageConfig(
                            config.get("Entrypoint") or [],
                            config.get("Cmd") or [],
                            env,
                            config.get("WorkingDir") or "/",
                            config.get("User") or "",
                        ),
                    )
                    break
            else:
                raise ImageNotPresent(
                    f'Container image "{reference}" is not present with pull policy of Never'
                )
        return self._configs[reference]

    # -- one container ---------------------------------------------------------------------------------

    def start(
        self,
        pod: dict[str, Any],
        container: dict[str, Any],
        env: dict[str, str],
        volumes: VolumeSource,
    ) -> Started:
        spec = pod["spec"]
        image_name, image = self.image(container["image"])
        name = f"kubelet-{pod['metadata']['name']}-{container['name']}"
        subprocess.run(
            ["buildah", "rm", name], capture_output=True
        )  # a leftover of an interrupted run
        subprocess.run(
            ["buildah", "from", "--pull-never", "--name", name, image_name],
            check=True,
            capture_output=True,
        )
        pod_dir = Path(tempfile.mkdtemp(prefix=f"pod-{pod['metadata']['name']}-"))

        def cleanup() -> None:
            subprocess.run(["buildah", "rm", name], capture_output=True)
            shutil.rmtree(pod_dir, ignore_errors=True)

        try:
            rootfs = Path(
                subprocess.run(
                    ["buildah", "mount", name], check=True, capture_output=True, text=True
                ).stdout.strip()
            )
            uid, gid, groups, home = resolve_user(image, spec, container, rootfs)
            context = container.get("securityContext") or {}
            config = {
                "rootfs": str(rootfs),
                "argv": resolve_argv(image, container, env),
                "env": self._environment(image, pod, env, volumes, home),
                "workdir": container.get("workingDir") or image.workdir,
                "uid": uid,
                "gid": gid,
                "groups": groups,
                "readonly_root": bool(context.get("readOnlyRootFilesystem")),
                "mounts": self._mounts(spec, container, pod_dir, volumes),
            }
            if not config["argv"]:
                raise ContainerConfigError("no command specified")
        except Exception:
            cleanup()
            raise
        config_path = pod_dir / "container.json"
        config_path.write_text(json.dumps(config))
        config_path.chmod(0o600)
        init = Path(__file__).with_name("container_init.py")
        process = ContainerProcess(
            [
                "unshare",
                "--mount",
                "--pid",
                "--fork",
                "--kill-child",
                sys.executable,
                "-I",
                str(init),
                str(config_path),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        return Started(process, cleanup, (uid, gid))

    def _environment(
        self,
        image: ImageConfig,
        pod: dict[str, Any],
        env: dict[str, str],
        volumes: VolumeSource,
        home: str,
    ) -> dict[str, str]:
        # what every kubelet adds: the API server's Service and the pod's host name; HOME from the user's entry
        cluster = {
            "KUBERNETES_SERVICE_HOST": "127.0.0.1",
            "KUBERNETES_SERVICE_PORT": str(volumes.api_port),
            "KUBERNETES_PORT": f"tcp://127.0.0.1:{volumes.api_port}",
            "HOSTNAME": pod["metadata"]["name"],
        }
        merged = {**image.env, **cluster, **env}
        merged.setdefault("HOME", home)
        return merged

    def _mounts(
        self, spec: dict[str, Any], container: dict[str, Any], pod_dir: Path, volumes: VolumeSource
    ) -> list[dict[str, Any]]:
        sources: dict[str, Path] = {}
        for volume in spec.get("volumes") or []:
            path = pod_dir / "volumes" / volume["name"]
            path.mkdir(parents=True)
            if "emptyDir" in volume:
                path.chmod(0o777)  # as the kubelet creates an emptyDir
            elif "secret" in volume or "configMap" in volume:
                source = volume.get("secret") or volume["configMap"]
                data = (
                    volumes.secret(source["secretName"])
                    if "secret" in volume
                    else volumes.config_map(source["name"])
                )
                items = source.get("items") or [{"key": key, "path": key} for key in data]
                for item in items:
                    (path / item["path"]).parent.mkdir(parents=True, exist_ok=True)
                    (path / item["path"]).write_text(data[item["key"]])
                    (path / item["path"]).chmod(0o644)
                path.chmod(0o755)
            else:
                raise ContainerConfigError(
                    f"volume {volume['name']!r}: only emptyDir, secret and configMap volumes are run here"
                )
            sources[volume["name"]] = path
        hosts = pod_dir / "hosts"
        hosts.write_text(
            "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost\n"
            + "".join(f"{ip}\t{name}\n" for name, ip in self.hosts.items())
        )
        hosts.chmod(0o644)
        mounts = [
            {"source": str(hosts), "target": "/etc/hosts", "readonly": True},
            {"source": "/etc/resolv.conf", "target": "/etc/resolv.conf", "readonly": True},
        ]
        if spec.get("automountServiceAccountToken", True):
            account = pod_dir / "serviceaccount"
            account.mkdir()
            (account / "token").write_text(
                volumes.token(spec.get("serviceAccountName") or "default")
            )
            (account / "namespace").write_text(volumes.namespace)
            if volumes.ca_cert is not None:
                shutil.copy(volumes.ca_cert, account / "ca.crt")
            for item in account.iterdir():
                item.chmod(0o644)
            account.chmod(0o755)
            mounts.append({"source": str(account), "target": SERVICE_ACCOUNT_DIR, "readonly": True})
        for mount in container.get("volumeMounts") or []:
            if mount["name"] not in sources:
                raise ContainerConfigError(
                    f'volumeMount "{mount["name"]}" has no volume of that name'
                )
            source = sources[mount["name"]] / mount.get("subPath", "")
            mounts.append(
                {
                    "source": str(source),
                    "target": mount["mountPath"],
                    "readonly": bool(mount.get("readOnly")),
                }
            )
        return mounts


def container_env(
    container: dict[str, Any],
    secret: Callable[[str], dict[str, str]],
    config_map: Callable[[str], dict[str, str]],
) -> dict[str, str]:
    """The container's environment as the kubelet builds it: envFrom first, then env (which wins),
    secretKeyRef and configMapKeyRef looked up, ``$(VAR)`` expanded from the variables listed before."""
    env: dict[str, str] = {}
    for source in container.get("envFrom") or []:
        values = (
            secret(source["secretRef"]["name"])
            if "secretRef" in source
            else config_map(source["configMapRef"]["name"])
        )
        env.update({source.get("prefix", "") + key: value for key, value in values.items()})
    for item in container.get("env") or []:
        if "value" in item or "valueFrom" not in item:
            env[item["name"]] = expand(item.get("value") or "", env)
        elif "secretKeyRef" in item["valueFrom"]:
            ref = item["valueFrom"]["secretKeyRef"]
            env[item["name"]] = secret(ref["name"])[ref["key"]]
        elif "configMapKeyRef" in item["valueFrom"]:
            ref = item["valueFrom"]["configMapKeyRef"]
            env[item["name"]] = config_map(ref["name"])[ref["key"]]
        else:
            raise ContainerConfigError(
                f"env {item['name']}: only values, secretKeyRef and configMapKeyRef are resolved here"
            )
    return env


def decode_secret(secret: dict[str, Any]) -> dict[str, str]:
    """A Secret's ``data`` (base64) and ``stringData`` as plain strings."""
    data = {
        key: base64.b64decode(value).decode() for key, value in (secret.get("data") or {}).items()
    }
    return {**data, **(secret.get("stringData") or {})}


__all__ = [
    "BuildahRuntime",
    "ContainerConfigError",
    "ContainerProcess",
    "container_env",
    "ImageNotPresent",
    "LocalProcessRuntime",
    "Started",
    "VolumeSource",
    "decode_secret",
    "expand",
    "resolve_argv",
    "resolve_user",
]
