#!/bin/sh
# Download every wheel the image's build stage installs into var/wheelhouse, here, where pip reaches an index (with
# this machine's pip settings and CA bundle), so that `docker build` reaches none: given a wheelhouse in its context,
# the Dockerfile installs from it alone (--no-index). The runtime packages are exactly uv.lock's, hashes checked;
# uv and hatchling build the wheel. Does nothing when the lock (and the uv version) are those it was made for.
set -eu
cd "$(dirname "$0")/.."
uv=${UV:-.tools/bin/uv}
pip=${PIP:-.tools/bin/pip}
out=var/wheelhouse
uv_version=$(sed -n 's/^ARG UV_VERSION=//p' Dockerfile)

wanted=$(mktemp)
trap 'rm -f "$wanted"' EXIT
{
    echo "# uv==$uv_version"
    UV_PROJECT_ENVIRONMENT=.venv "$uv" export --quiet --frozen --no-dev --all-extras --no-emit-project \
        --format requirements.txt
} >"$wanted"
if [ -f "$out/requirements.txt" ] && cmp -s "$wanted" "$out/requirements.txt"; then
    echo "$out is up to date"
    exit 0
fi
rm -rf "$out.new"
mkdir -p "$out.new"
# Wheels for CPython 3.11 on glibc 2.36 (Debian bookworm, what the base images run) on this machine's architecture,
# whatever Python runs pip here. pip does not widen a manylinux_2_36 platform to the older ones it includes.
target="--only-binary=:all: --python-version 3.11 --implementation cp --abi cp311 --abi abi3 --abi none"
for glibc in $(seq 5 36); do target="$target --platform manylinux_2_${glibc}_$(uname -m)"; done
# shellcheck disable=SC2086
"$pip" download --quiet --dest "$out.new" $target --require-hashes -r "$wanted"
# shellcheck disable=SC2086
"$pip" download --quiet --dest "$out.new" $target "uv==$uv_version" "hatchling>=1.27"
cp "$wanted" "$out.new/requirements.txt"
rm -rf "$out"
mv "$out.new" "$out"
echo "$out: $(ls "$out"/*.whl | wc -l) wheels"
