#!/usr/bin/env bash
# Builds OpenZiti's own `ziti` binary (controller, router, tunneler, CLI) from its Go module at the
# pinned version and caches it under .cache/ziti/<version>/, so a warm machine skips the build.
# Prints the binary's path. Nothing of OpenZiti's source is kept in this repository: a throwaway
# wrapper module requires ziti at the pinned version and repeats its go.mod (requires and replace
# lines, which `go install pkg@version` refuses) and go.sum, then `go build`s its `ziti` package.
#
# The pin: v1.7.2 is the newest OpenZiti release the Go module proxy here serves (every v2.x and
# v1.8.x tag answers 403). Override with ZITI_VERSION=vX.Y.Z.
set -euo pipefail
version="${ZITI_VERSION:-v1.7.2}"
module=github.com/openziti/ziti
root="$(cd "$(dirname "$0")/.." && pwd)"
out="$root/.cache/ziti/$version"
bin="$out/ziti"
if [ -x "$bin" ]; then
  echo "$bin"
  exit 0
fi
command -v go >/dev/null || { echo "build-ziti: Go is not installed (need Go >= 1.25)" >&2; exit 1; }
echo "build-ziti: building $module@$version with $(go version | cut -d' ' -f3) (first run only, several minutes)" >&2
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
info="$(go mod download -json "$module@$version")"
field() { sed -n "s/^[[:space:]]*\"$1\": \"\(.*\)\",\{0,1\}$/\1/p" <<<"$info" | head -n 1; }
dir="$(field Dir)"
[ -d "$dir" ] || { echo "build-ziti: go mod download $module@$version failed:" >&2; echo "$info" >&2; exit 1; }
sed 's#^module .*#module zt-browser/ziti-build#' "$dir/go.mod" >"$work/go.mod"
printf '\nrequire %s %s\n' "$module" "$version" >>"$work/go.mod"
cp "$dir/go.sum" "$work/go.sum"
printf '%s %s %s\n%s %s/go.mod %s\n' "$module" "$version" "$(field Sum)" "$module" "$version" "$(field GoModSum)" >>"$work/go.sum"
chmod u+w "$work/go.mod" "$work/go.sum"
mkdir -p "$out"
start=$(date +%s)
(
  cd "$work"
  pkg=$module/common/version
  go build -trimpath -o "$bin.tmp" \
    -ldflags "-s -w -X $pkg.Version=$version -X $pkg.Revision=$(field Hash) -X '$pkg.BuildDate=$(date -u '+%Y-%m-%d %H:%M:%S')'" \
    "$module/ziti"
)
mv "$bin.tmp" "$bin"
echo "build-ziti: built $bin in $(($(date +%s) - start)) s ($(du -m "$bin" | cut -f1) MiB)" >&2
echo "$bin"
