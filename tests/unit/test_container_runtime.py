"""The test kubelet's container runtime resolves a container as a runtime does (pure parts: no image run)."""

from __future__ import annotations

import pytest

from tests.k8s.container_runtime import (
    ContainerConfigError,
    ImageConfig,
    expand,
    resolve_argv,
    resolve_user,
)

IMAGE = ImageConfig(
    entrypoint=["kubetune-trial"], cmd=["--help"], env={}, workdir="/tmp", user="10001:10001"
)


@pytest.mark.parametrize(
    ("container", "argv"),
    [
        ({}, ["kubetune-trial", "--help"]),
        ({"args": ["--x"]}, ["kubetune-trial", "--x"]),
        ({"args": []}, ["kubetune-trial"]),
        ({"command": ["sh", "-c"]}, ["sh", "-c"]),  # command drops the image's CMD too
        (
            {"command": ["sh"], "args": ["-c", "echo $(NAME) $$(NAME)"]},
            ["sh", "-c", "echo kt $(NAME)"],
        ),
    ],
)
def test_command_and_args_override_entrypoint_and_cmd(container, argv):
    assert resolve_argv(IMAGE, container, {"NAME": "kt"}) == argv


def test_a_worker_args_only_container_runs_them_on_an_image_without_entrypoint():
    controller = ImageConfig(
        entrypoint=[], cmd=["kubetune", "--help"], env={}, workdir="/app", user="10001:10001"
    )
    assert resolve_argv(controller, {"args": ["prefect", "flow-run", "execute"]}) == [
        "prefect",
        "flow-run",
        "execute",
    ]
    with_entrypoint = ImageConfig(
        entrypoint=["kubetune"], cmd=["--help"], env={}, workdir="/app", user=""
    )
    assert resolve_argv(with_entrypoint, {"args": ["prefect", "flow-run", "execute"]})[:2] == [
        "kubetune",
        "prefect",
    ]  # the old bug


def test_expand_leaves_unknown_references():
    assert (
        expand("postgresql://u:$(DB_PASSWORD)@h/$(DB)", {"DB_PASSWORD": "pw"})
        == "postgresql://u:pw@h/$(DB)"
    )


@pytest.fixture
def rootfs(tmp_path):
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/passwd").write_text(
        "root:x:0:0:root:/root:/bin/bash\nkubetune:x:10001:10001::/tmp:/usr/sbin/nologin\n"
    )
    (tmp_path / "etc/group").write_text("root:x:0:\nkubetune:x:10001:\n")
    return tmp_path


def test_the_user_comes_from_the_security_context_else_the_image(rootfs):
    named = ImageConfig([], ["sh"], {}, "/", "kubetune")
    assert resolve_user(named, {}, {}, rootfs) == (10001, 10001, [], "/tmp")
    pod = {"securityContext": {"runAsUser": 2000, "runAsGroup": 3000, "fsGroup": 4000}}
    assert resolve_user(named, pod, {}, rootfs) == (2000, 3000, [4000], "/")
    assert (
        resolve_user(named, pod, {"securityContext": {"runAsUser": 10001}}, rootfs)[0] == 10001
    )  # the container's wins


def test_run_as_non_root_refuses_an_image_that_runs_as_root(rootfs):
    root_image = ImageConfig([], ["sh"], {}, "/", "")
    with pytest.raises(ContainerConfigError, match="runAsNonRoot and image will run as root"):
        resolve_user(root_image, {"securityContext": {"runAsNonRoot": True}}, {}, rootfs)
    with pytest.raises(ContainerConfigError, match="unable to find user nobody2"):
        resolve_user(ImageConfig([], [], {}, "/", "nobody2"), {}, {}, rootfs)


def test_the_local_runtime_runs_console_scripts_of_this_environment_and_refuses_a_missing_program():
    """A test's PATH need not hold the virtual environment: the image's programs resolve to this
    environment's, and a program that is nowhere is the container error a kubelet reports, not a hang."""
    from tests.k8s.container_runtime import ContainerConfigError, LocalProcessRuntime

    runtime = LocalProcessRuntime(extra_env={"PATH": "/usr/bin:/bin"})
    started = runtime.start({}, {"command": ["kubetune-trial"]}, {}, None)
    output, _ = started.process.communicate(timeout=120)
    assert started.process.returncode == 2
    assert "KUBETUNE_TRIAL_REQUEST is not set" in output
    with pytest.raises(
        ContainerConfigError, match='exec: "no-such-program": executable file not found'
    ):
        runtime.start({}, {"command": ["no-such-program"]}, {}, None)
