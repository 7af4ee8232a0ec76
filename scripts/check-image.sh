#!/usr/bin/env bash
# Builds the container image and checks that it starts, on a machine without a Docker
# engine and without access to a container registry (CI: Debian 12, as root).
#
#   1. a Debian bookworm base image (python3, python3-venv, ca-certificates) made with
#      debootstrap and `podman import`, kept as localhost/paperboy-base:bookworm
#   2. `podman build` of ./Dockerfile on it (BASE_IMAGE build argument)
#   3. the image's metadata: non-root user, HEALTHCHECK, /data volume, entry point
#   4. the image's file system, exported with `podman create` + `podman export`, run with
#      chroot as the image's user and with the image's environment: the entry point's
#      default (`paperboy db upgrade`, then `paperboy run`), `paperboy --version`,
#      `paperboy stats`, `paperboy demo` (the bot against its local stand-in of Telegram on
#      127.0.0.1) and `paperboy health` (must run and give a reason: exit 0 or 1)
#
# Containers cannot be started on these machines (crun cannot set rlimits), hence chroot.
# Build flags that work here, and why:
#   --isolation=chroot            RUN steps without a container runtime
#   --cgroup-manager=cgroupfs     no systemd to manage cgroups
#   --format=docker               the OCI image format has no HEALTHCHECK (podman drops it)
#   -v /etc/ssl/certs:...:ro      the host's CA certificates, so pip in RUN reaches PyPI
#                                 through this network's TLS-inspecting egress
#
# Options: --rebuild-base (debootstrap again even if the base image exists),
#          --keep (keep the paperboy:check image and the build's layer cache; without it,
#          only the base image is left behind, for the next run). Needs root.

# Single quotes below hold Go templates and scripts for the image, expanded there.
# shellcheck disable=SC2016
set -euo pipefail

cd "$(dirname "$0")/.."

BASE_IMAGE=localhost/paperboy-base:bookworm
IMAGE=localhost/paperboy:check
SUITE=bookworm
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
REBUILD_BASE=false
KEEP=false
for arg in "$@"; do
    case "$arg" in
        --rebuild-base) REBUILD_BASE=true ;;
        --keep) KEEP=true ;;
        *) echo "usage: $0 [--rebuild-base] [--keep]" >&2; exit 2 ;;
    esac
done

started=$SECONDS
step() { printf '\n==> [%4ds] %s\n' "$((SECONDS - started))" "$*"; }
ok() { printf '    ok: %s\n' "$*"; }
fail() { printf '    FAILED: %s\n' "$*" >&2; exit 1; }

if [ "$(id -u)" -ne 0 ]; then
    echo "check-image.sh: run as root (debootstrap, podman and chroot need it)" >&2
    exit 2
fi

podman() { command podman --cgroup-manager=cgroupfs "$@"; }

work=""
container=""
images_before=""
tracking=false
cleanup() {
    local status=$?
    if [ -n "$container" ]; then
        podman rm --force "$container" >/dev/null 2>&1 || true
    fi
    if [ "$KEEP" = false ] && [ "$tracking" = true ]; then
        # The image and the build's intermediate images, none made before this run.
        local made
        mapfile -t made < <(comm -13 <(printf '%s\n' "$images_before") <(podman images --all --quiet --no-trunc | sort -u))
        podman rmi --force "$IMAGE" >/dev/null 2>&1 || true
        if [ "${#made[@]}" -gt 0 ]; then
            podman rmi --force "${made[@]}" >/dev/null 2>&1 || true
        fi
    fi
    if [ -n "$work" ]; then
        rm -rf --one-file-system "$work"
    fi
    if [ "$status" -eq 0 ]; then
        printf '\n==> [%4ds] image checked: all good\n' "$((SECONDS - started))"
    else
        printf '\n==> [%4ds] image check FAILED (exit %d)\n' "$((SECONDS - started))" "$status" >&2
    fi
}
trap cleanup EXIT
work=$(mktemp -d /var/tmp/paperboy-check.XXXXXX)

step "tools"
missing=()
type -P podman >/dev/null || missing+=(podman)
type -P debootstrap >/dev/null || missing+=(debootstrap)
if [ "${#missing[@]}" -gt 0 ]; then
    echo "    installing ${missing[*]} with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    { apt-get update && apt-get install -y --no-install-recommends "${missing[@]}"; } \
        >"$work/apt.log" 2>&1 || { tail -n 30 "$work/apt.log" >&2; fail "apt-get install"; }
fi
echo "    $(command podman --version), debootstrap $(dpkg-query -W -f='${Version}' debootstrap)"

if [ "$REBUILD_BASE" = false ] && podman image exists "$BASE_IMAGE"; then
    step "base image $BASE_IMAGE exists (made $(podman image inspect --format '{{.Created}}' "$BASE_IMAGE" | cut -c1-19)); --rebuild-base makes it again"
else
    step "base image: debootstrap $SUITE (minbase + python3, python3-venv, ca-certificates) from $MIRROR"
    rootfs="$work/base"
    debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
        "$SUITE" "$rootfs" "$MIRROR" >"$work/debootstrap.log" 2>&1 \
        || { tail -n 30 "$work/debootstrap.log" >&2; fail "debootstrap"; }
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*_Packages
    echo "    $(chroot "$rootfs" /usr/bin/python3 --version) at /usr/bin/python3, $(du -sh "$rootfs" | cut -f1)"
    step "base image: podman import as $BASE_IMAGE"
    tar --numeric-owner -C "$rootfs" -c . \
        | podman import --quiet --change 'CMD ["/bin/bash"]' - "$BASE_IMAGE" >/dev/null
    rm -rf --one-file-system "$rootfs"
fi

version=$(sed -n 's/^__version__ = "\(.*\)"$/\1/p' bot/__init__.py)
revision=$(git rev-parse HEAD 2>/dev/null || echo unknown)
images_before=$(podman images --all --quiet --no-trunc | sort -u)
tracking=true
step "podman build -t $IMAGE (paperboy $version, BASE_IMAGE=$BASE_IMAGE)"
podman build \
    --isolation=chroot \
    --format=docker \
    --volume /etc/ssl/certs:/etc/ssl/certs:ro \
    --build-arg "BASE_IMAGE=$BASE_IMAGE" \
    --build-arg "VERSION=$version" \
    --build-arg "REVISION=$revision" \
    --tag "$IMAGE" \
    . >"$work/build.log" 2>&1 \
    || { tail -n 40 "$work/build.log" >&2; fail "podman build (log above)"; }
grep -E 'STEP [0-9]+/[0-9]+: FROM|^paperboy [0-9]|^Successfully|WARN|level=warn' "$work/build.log" \
    | sed 's/^/    /'
echo "    image size: $(podman image inspect --format '{{.Size}}' "$IMAGE" | awk '{printf "%.0f MB", $1 / 1e6}')"

step "image metadata"
inspect() { podman image inspect --format "$1" "$IMAGE"; }
user=$(inspect '{{.Config.User}}')
case "${user%%:*}" in
    "" | 0 | root) fail "the image runs as root (User '$user')" ;;
esac
ok "user $user"
healthcheck=$(inspect '{{if .Config.Healthcheck}}{{join .Config.Healthcheck.Test " "}}{{end}}')
[[ "$healthcheck" == *"paperboy health"* ]] || fail "no HEALTHCHECK running paperboy health ('$healthcheck')"
ok "healthcheck: $healthcheck (interval $(inspect '{{.Config.Healthcheck.Interval}}'), timeout $(inspect '{{.Config.Healthcheck.Timeout}}'), start period $(inspect '{{.Config.Healthcheck.StartPeriod}}'))"
volumes=$(inspect '{{range $v, $_ := .Config.Volumes}}{{$v}} {{end}}')
[[ " $volumes " == *" /data "* ]] || fail "no /data volume ('$volumes')"
ok "volumes: $volumes"
ok "entrypoint $(inspect '{{json .Config.Entrypoint}}'), cmd $(inspect '{{json .Config.Cmd}}'), workdir $(inspect '{{.Config.WorkingDir}}')"
ok "labels: $(inspect '{{range $k, $v := .Config.Labels}}{{if eq $k "org.opencontainers.image.version" "org.opencontainers.image.base.name"}}{{$k}}={{$v}} {{end}}{{end}}')"
mapfile -t image_env < <(inspect '{{range .Config.Env}}{{println .}}{{end}}' | sed '/^$/d')
printf '    env: %s\n' "${image_env[@]}"
workdir=$(inspect '{{.Config.WorkingDir}}')
user_ids=$user
[[ "$user_ids" == *:* ]] || user_ids="$user_ids:$user_ids"

step "export the image's file system (podman create + podman export)"
container=$(podman create --no-healthcheck "$IMAGE")
root="$work/rootfs"
mkdir "$root"
podman export "$container" | tar --numeric-owner -C "$root" -x
podman rm --force "$container" >/dev/null
container=""
# What a container runtime would provide: a few device nodes.
for node in null:1:3 zero:1:5 random:1:8 urandom:1:9; do
    IFS=: read -r name major minor <<<"$node"
    [ -e "$root/dev/$name" ] || mknod -m 0666 "$root/dev/$name" c "$major" "$minor"
done
echo "    $(du -sh "$root" | cut -f1) in $root; /data owned by $(stat -c %u:%g "$root/data"), mode $(stat -c %a "$root/data")"
[ "$(stat -c %u "$root/data")" = "${user_ids%%:*}" ] || fail "/data is not owned by the image's user"
leftovers=$(find "$root"/opt/venv/lib/python3*/site-packages -maxdepth 1 \( -name 'pip*' -o -name 'setuptools*' \) -printf '%f ')
[ -z "$leftovers" ] || fail "build tools left in /opt/venv: $leftovers"
echo "    /opt/venv: $(find "$root"/opt/venv/lib/python3*/site-packages -maxdepth 1 -name '*.dist-info' | wc -l) distributions, no pip or setuptools"

# Runs a command in the exported file system as the image's user, with the image's
# environment and working directory, through the image's entry point.
in_image() {
    chroot --userspec="$user_ids" "$root" /usr/bin/env -i "${image_env[@]}" HOME="$workdir" \
        /bin/sh -c 'cd "$1" && shift && exec "$@"' sh "$workdir" \
        /usr/local/bin/docker-entrypoint.sh "$@"
}

step "entry point, no arguments: paperboy db upgrade, then paperboy run (no token here)"
set +e
out=$(in_image 2>&1)
rc=$?
set -e
printf '%s\n' "$out" | sed 's/^/    | /'
echo "    exit code $rc"
grep -q 'database schema at revision' <<<"$out" || fail "the entry point did not upgrade the database"
grep -q 'no bot token' <<<"$out" || fail "paperboy run did not start (expected it to ask for a token)"
[ "$(stat -c %u "$root/data/paperboy.db")" = "${user_ids%%:*}" ] || fail "/data/paperboy.db not made by the image's user"
ok "database upgraded in /data/paperboy.db, then paperboy run started and asked for a token"

step "paperboy --version"
out=$(in_image paperboy --version 2>&1) || { echo "$out"; fail "paperboy --version"; }
echo "    | $out"
ok "$(in_image python3 --version 2>&1) at $(in_image sh -c 'readlink -f "$(command -v python3)"')"

step "paperboy stats (the package's migrations and data were installed)"
out=$(in_image paperboy stats 2>&1) || { echo "$out"; fail "paperboy stats"; }
printf '%s\n' "$out" | sed 's/^/    | /'

step "the recommender's sentence model is in the image and runs"
out=$(in_image python3 -c 'import os, pathlib; from bot import embedding
d = pathlib.Path(os.environ["PAPERBOY_MODEL_DIR"])
v = embedding.encode(embedding.load(d), ["Pruning neural networks"])
print(d, v.shape)' 2>&1) || { echo "$out"; fail "the sentence model did not load"; }
echo "    | $out"
ok "the model encodes a paper"

step "paperboy demo (the bot itself, against a local stand-in of Telegram on 127.0.0.1)"
set +e
out=$(in_image demo 2>&1)
rc=$?
set -e
printf '%s\n' "$out" | head -n 8 | sed 's/^/    | /'
echo "    ... ($(wc -l <<<"$out") lines, exit code $rc)"
if [ "$rc" -ne 0 ] || ! grep -q '^You: /start' <<<"$out" || ! grep -q '^paperboy: ' <<<"$out"; then
    printf '%s\n' "$out" | tail -n 20
    fail "paperboy demo"
fi
ok "the bot answered (sample page from the package data, via the entry point's \`demo\` shorthand)"

step "paperboy health (fresh database, no bot running: exit 0 or 1 with a reason)"
set +e
out=$(in_image paperboy health 2>&1)
rc=$?
set -e
printf '%s\n' "$out" | sed 's/^/    | /'
echo "    exit code $rc"
if [ "$rc" -eq 2 ] && grep -q 'invalid choice' <<<"$out"; then
    fail "this paperboy has no health command"
fi
if [ "$rc" -gt 1 ] || grep -q 'Traceback' <<<"$out"; then
    fail "paperboy health crashed"
fi
[ -n "$out" ] || fail "paperboy health printed no reason"
ok "paperboy health ran (exit $rc)"
