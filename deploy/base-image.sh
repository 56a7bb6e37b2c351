#!/bin/sh
# A Debian bookworm base image with Python 3.11, made from Debian's own packages (debootstrap, then docker import),
# for a machine that reaches a Debian mirror but no container registry. Build on it with
#   docker build --build-arg BASE=accessdesk-base:bookworm …
# Kept in dockerd's image store: a second run finds it and does nothing. Needs root and debootstrap.
set -eu
image=${1:-accessdesk-base:bookworm}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

if docker image inspect "$image" >/dev/null 2>&1; then
    echo "$image is already in dockerd's store"
    exit 0
fi
command -v debootstrap >/dev/null || { echo "debootstrap not found (as root: apt-get install -y debootstrap)" >&2; exit 1; }
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
# minbase: dpkg, apt and the essentials; python3-venv brings ensurepip (the build stage makes venvs), and
# ca-certificates lets the app reach identity providers and Slack over https.
debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates bookworm "$root" "$mirror"
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb \
    "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/var/log/*
tar --numeric-owner -C "$root" -c . \
    | docker import --change 'ENV LANG=C.UTF-8' --change 'CMD ["python3"]' \
        --message "debootstrap bookworm + python3 from $mirror" - "$image"
echo "built $image"
