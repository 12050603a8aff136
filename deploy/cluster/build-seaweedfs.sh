#!/usr/bin/env bash
# Builds SeaweedFS's `weed` (the S3-compatible object store) from its Go module, into $1 (default .cluster/bin).
# `go install module/weed@version` refuses modules whose go.mod has replace directives (SeaweedFS's has),
# so the module is downloaded through the Go module proxy and built as the main module.
set -euo pipefail
SEAWEEDFS_VERSION="${SEAWEEDFS_VERSION:-v0.0.0-20261109003541-7506e5f91cd6}"
out="${1:-.cluster/bin}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
stamp="$out/weed.version"
if [ -x "$out/weed" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$SEAWEEDFS_VERSION" ]; then exit 0; fi
command -v go >/dev/null || { echo "ERROR: go not found: the object store (SeaweedFS) is built from its Go module"; exit 1; }
dir="$(cd /tmp && go mod download -json "github.com/seaweedfs/seaweedfs@$SEAWEEDFS_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')"
[ -d "$dir" ] || { echo "ERROR: go mod download github.com/seaweedfs/seaweedfs@$SEAWEEDFS_VERSION gave no source folder"; exit 1; }
src="$(mktemp -d)"
trap 'chmod -R u+w "$src"; rm -rf "$src"' EXIT
cp -r "$dir/." "$src/"
chmod -R u+w "$src"
echo "building SeaweedFS $SEAWEEDFS_VERSION (weed) into $out ..."
(cd "$src" && go build -trimpath -ldflags "-s -w" -o "$out/weed" ./weed)
echo "$SEAWEEDFS_VERSION" > "$stamp"
