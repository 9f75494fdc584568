"""The last step of the test kubelet's container start, run as root inside a fresh mount and PID namespace
(``unshare --mount --pid --fork``): what an OCI runtime does between "create" and "start".

It mounts the pod's volumes into the image's root filesystem, makes that filesystem read-only when the
container asks for it, changes root, drops to the container's user and groups, and executes the
container's command with exactly its environment. One argument: a JSON file written by
``container_runtime.BuildahRuntime``. Only the standard library: it runs with the host's Python before the
root changes, then execs the image's own program.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys


def _mount(*args: str) -> None:
    subprocess.run(["mount", *args], check=True)


def _inside(root: str, path: str) -> str:
    """``path`` of the container as a host path under ``root``, its symlinks followed inside ``root``
    (Debian's /var/run -> /run would otherwise lead out of the image, as runc's securejoin prevents)."""
    parts = [p for p in path.split("/") if p not in ("", ".")]
    resolved: list[str] = []
    hops = 0
    while parts:
        part = parts.pop(0)
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        candidate = os.path.join(root, *resolved, part)
        if os.path.islink(candidate) and hops < 40:
            hops += 1
            target = os.readlink(candidate)
            if target.startswith("/"):
                resolved = []
            parts = [p for p in target.split("/") if p not in ("", ".")] + parts
            continue
        resolved.append(part)
    return os.path.join(root, *resolved)


def _mount_point(path: str, is_dir: bool) -> None:
    if is_dir:
        os.makedirs(path, exist_ok=True)
    elif not os.path.exists(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        open(path, "a").close()


def main(config_path: str) -> None:
    with open(config_path) as handle:
        config = json.load(handle)
    root = config["rootfs"]
    _mount("--make-rprivate", "/")
    _mount("--bind", root, root)  # a mount of its own, so that it can be made read-only below
    _mount_point(_inside(root, "/proc"), True)
    _mount("-t", "proc", "proc", _inside(root, "/proc"))  # this PID namespace's processes only
    _mount_point(_inside(root, "/dev"), True)
    _mount("--rbind", "/dev", _inside(root, "/dev"))
    # the working directory is created by the runtime when the image lacks it, before the root turns read-only
    os.makedirs(_inside(root, config["workdir"]), exist_ok=True)
    for mount in config["mounts"]:
        target = _inside(root, mount["target"])
        _mount_point(target, os.path.isdir(mount["source"]))
        _mount("--bind", mount["source"], target)
        if mount["readonly"]:
            _mount("-o", "remount,bind,ro", target)
    if config["readonly_root"]:
        _mount("-o", "remount,bind,ro", root)
    os.chroot(root)
    os.chdir(config["workdir"])
    os.setgroups(config["groups"])
    os.setgid(config["gid"])
    os.setuid(config["uid"])
    argv = config["argv"]
    try:
        os.execvpe(argv[0], argv, config["env"])
    except OSError as exc:  # what runc reports, and the exit code kubelets show for it
        print(f'exec: "{argv[0]}": {exc.strerror}', file=sys.stderr, flush=True)
        sys.exit(127 if isinstance(exc, FileNotFoundError) else 126)


if __name__ == "__main__":
    main(sys.argv[1])
