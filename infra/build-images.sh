#!/usr/bin/env bash
# Builds kubetune's two images (infra/Dockerfile.controller, infra/Dockerfile.trial) with buildah, without a
# Docker daemon or a registry:
#   1. a wheelhouse (build/wheelhouse): every wheel the images install, filled by the host's pip from the
#      pinned constraints, plus kubetune's own wheel. Images install with `pip --no-index`, so a build
#      needs no package index and is reproducible from constraints.txt.
#   2. a local Debian bookworm base (its own Python is 3.11), made once with debootstrap and cached outside
#      the repository ($KUBETUNE_IMAGE_CACHE); the Dockerfiles keep their public bases as the default.
#   3. `buildah bud --isolation chroot` of each Dockerfile on that base.
# Settings (environment): TORCH=cpu|cuda (cuda puts PyPI's CUDA build of torch, several GB, into the trial
# image's wheelhouse), TAG (default: the project version), BASE_IMAGE (skip debootstrap: any image with
# Python 3.11 or apt), KUBETUNE_IMAGE_CACHE.
set -euo pipefail
cd "$(dirname "$0")/.."

TORCH="${TORCH:-cpu}"
TAG="${TAG:-$(sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml)}"
CACHE="${KUBETUNE_IMAGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kubetune-images}"
LOCAL_BASE="localhost/kubetune-base:bookworm"
PYTHON="${PYTHON:-python3.11}"
case "$TORCH" in cpu|cuda) ;; *) echo "TORCH must be cpu or cuda, not '$TORCH'" >&2; exit 2 ;; esac
case "$TAG" in *[!A-Za-z0-9._-]*|"") echo "TAG must be letters, digits, '.', '_' or '-', not '$TAG'" >&2; exit 2 ;; esac
for tool in buildah; do
  command -v "$tool" >/dev/null || { echo "$tool is needed (Debian: apt-get install buildah debootstrap)" >&2; exit 2; }
done

log() { printf '[images %(%H:%M:%S)T] %s\n' -1 "$*"; }

# -- 1. the wheelhouse ----------------------------------------------------------------------------------
WHEELS=build/wheelhouse
# a wheelhouse filled for other pins (or the other torch) starts over, so it never holds two versions
stamp="$(cat constraints.txt pyproject.toml | sha256sum | cut -c1-16)-$TORCH"
if [ "$(cat "$WHEELS/.stamp" 2>/dev/null)" != "$stamp" ]; then rm -rf "$WHEELS"; fi
mkdir -p "$WHEELS"
echo "$stamp" > "$WHEELS/.stamp"
rm -f "$WHEELS"/kubetune-*.whl "$WHEELS"/*.tar.gz
log "wheelhouse: kubetune and its pinned dependencies (torch: $TORCH)"
if [ "$TORCH" = cuda ]; then
  # PyPI's Linux torch wheel is the CUDA build (its CUDA libraries come as nvidia-* wheels)
  grep -v '^torch==' constraints.txt > "$WHEELS/constraints-cuda.txt"
  # (the host's find-links may hold a CPU build of the same version: look at the package index only)
  PIP_FIND_LINKS="" "$PYTHON" -m pip download -q -d "$WHEELS/cuda" --only-binary=:all: \
    -c "$WHEELS/constraints-cuda.txt" "torch==$(sed -n 's/^torch==//p' constraints.txt)"
fi
"$PYTHON" -m pip wheel -q -w "$WHEELS" -c constraints.txt ".[worker]"
# Debian bookworm's Python is 3.11.2, and redis (a Prefect dependency) needs async-timeout below 3.11.3,
# a marker the host's newer 3.11 does not meet when it fills the wheelhouse
"$PYTHON" -m pip download -q --no-deps -d "$WHEELS" "async-timeout==5.0.1"
# requirements.txt: every wheel but kubetune's, pinned (local version labels such as +cpu dropped: the
# wheel folder an image installs from decides which build of torch it gets)
for wheel in "$WHEELS"/*.whl; do
  name="$(basename "$wheel" | cut -d- -f1)"; version="$(basename "$wheel" | cut -d- -f2)"
  [ "$name" = kubetune ] || echo "${name}==${version%%+*}"
done | sort -u > "$WHEELS/requirements.txt"

# -- 2. the base image -----------------------------------------------------------------------------------
if [ -z "${BASE_IMAGE:-}" ]; then
  BASE_IMAGE="$LOCAL_BASE"
  if ! buildah inspect --type image "$LOCAL_BASE" >/dev/null 2>&1; then
    mkdir -p "$CACHE"
    if [ ! -s "$CACHE/debian-bookworm.tar" ]; then
      command -v debootstrap >/dev/null || { echo "debootstrap is needed (Debian: apt-get install debootstrap)" >&2; exit 2; }
      log "base: debootstrap bookworm (once; cached in $CACHE)"
      rootfs="$(mktemp -d)"
      debootstrap --variant=minbase bookworm "$rootfs" >"$CACHE/debootstrap.log" 2>&1
      rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
      tar -C "$rootfs" -cf "$CACHE/debian-bookworm.tar.part" . && mv "$CACHE/debian-bookworm.tar.part" "$CACHE/debian-bookworm.tar"
      rm -rf "$rootfs"
    fi
    log "base: $LOCAL_BASE from $CACHE/debian-bookworm.tar"
    container="$(buildah from scratch)"
    tar -C "$(buildah mount "$container")" -xf "$CACHE/debian-bookworm.tar"
    buildah umount "$container" >/dev/null
    buildah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --cmd /bin/bash "$container"
    buildah commit -q --rm "$container" "$LOCAL_BASE" >/dev/null
  fi
fi

# -- 3. the images ---------------------------------------------------------------------------------------
build() {  # build <Dockerfile> <image:tag> [extra build args...]
  local file="$1" image="$2"; shift 2
  log "build: $image from $file on $BASE_IMAGE"
  local started=$SECONDS
  buildah bud -q --isolation chroot --layers --format docker -f "$file" --build-arg "BASE_IMAGE=$BASE_IMAGE" "$@" -t "$image" . >/dev/null
  log "built: $image in $((SECONDS - started)) s, $(buildah images --noheading --format '{{.Size}}' "$image")"
}
build infra/Dockerfile.controller "localhost/kubetune-controller:$TAG"
if [ "$TORCH" = cuda ]; then
  build infra/Dockerfile.trial "localhost/kubetune-trial:$TAG-cuda" --build-arg TORCH_WHEELS=/wheels/cuda
else
  build infra/Dockerfile.trial "localhost/kubetune-trial:$TAG"
fi
buildah images --format '{{.Name}}:{{.Tag}} {{.Size}}' | grep -E 'kubetune-(controller|trial)' || true
