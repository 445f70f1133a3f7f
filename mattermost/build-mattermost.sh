#!/usr/bin/env bash
# Builds Mattermost's server binary (`mattermost`, team edition, no webapp) from its Go module at the
# pinned version and caches it under .cache/mattermost/<version>/, laid out like Mattermost's own
# release tarball (bin/mattermost beside i18n/, templates/, fonts/, which the server looks up
# relative to its binary), so a warm machine skips the build. Prints the binary's path. Nothing of
# Mattermost's source is kept in this repository: a throwaway wrapper module requires the server at
# the pinned version and repeats its go.mod (requires and replace lines, which
# `go install pkg@version` refuses) and go.sum, then `go build`s its `cmd/mattermost` package.
#
# The pin: Mattermost's release tags are not Go module tags, so the server module only exists as
# pseudo-versions of commits. The Go module proxy here refuses (403) the version list, @latest,
# @master and most pseudo-versions; v8.0.0-20260113162330-9e1d4c2072c0 (a master commit of
# 2026-01-13, between the v11.3 and v11.4 releases) is one it serves. Override with
# MATTERMOST_VERSION=v8.0.0-<time>-<hash>.
#
# Between releases the server builds against its sibling module server/public at the same commit
# (Mattermost's own builds use a go.work), while its go.mod names an older public tag (v0.1.20, which
# lacks types the server uses; v0.1.22 has dropped one it still uses). So the wrapper also requires
# public at a pseudo-version of a commit 36 minutes later on the same branch, the pairing
# Mattermost's own playbooks plugin pins, which the proxy serves (the server commit's own public
# pseudo-version answers 403). Override with MATTERMOST_PUBLIC_VERSION.
set -euo pipefail
version="${MATTERMOST_VERSION:-v8.0.0-20260113162330-9e1d4c2072c0}"
public_version="${MATTERMOST_PUBLIC_VERSION:-v0.1.22-0.20260113165922-8e4cadbc88ee}"
module=github.com/mattermost/mattermost/server/v8
root="$(cd "$(dirname "$0")/.." && pwd)"
out="$root/.cache/mattermost/$version"
bin="$out/bin/mattermost"
if [ -x "$bin" ] && [ -d "$out/i18n" ] && [ -d "$out/templates" ] && [ -d "$out/fonts" ]; then
  echo "$bin"
  exit 0
fi
command -v go >/dev/null || { echo "build-mattermost: Go is not installed (need Go >= 1.24.11)" >&2; exit 1; }
echo "build-mattermost: building $module@$version with $(go version | cut -d' ' -f3) (first run only, several minutes)" >&2
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# The checksum database's lookups through the proxy here answer 404 now and then for these
# versions (and 200 a moment later): retry the steps that may look a module up.
retry() {
  local i
  for i in 1 2 3 4 5 6 7 8; do
    "$@" && return 0
    echo "build-mattermost: retrying ($i): $*" >&2
    sleep 3
  done
  return 1
}
info="$(retry go mod download -json "$module@$version")" || true
field() { sed -n "s/^[[:space:]]*\"$1\": \"\(.*\)\",\{0,1\}$/\1/p" <<<"$info" | head -n 1; }
dir="$(field Dir)"
[ -d "$dir" ] || { echo "build-mattermost: go mod download $module@$version failed:" >&2; echo "$info" >&2; exit 1; }
sed 's#^module .*#module zt-browser/mattermost-build#' "$dir/go.mod" >"$work/go.mod"
printf '\nrequire %s %s\n' "$module" "$version" >>"$work/go.mod"
cp "$dir/go.sum" "$work/go.sum"
printf '%s %s %s\n%s %s/go.mod %s\n' "$module" "$version" "$(field Sum)" "$module" "$version" "$(field GoModSum)" >>"$work/go.sum"
chmod u+w "$work/go.mod" "$work/go.sum"
mkdir -p "$out/bin"
start=$(date +%s)
(
  cd "$work"
  retry go get "github.com/mattermost/mattermost/server/public@$public_version" >&2
  model=github.com/mattermost/mattermost/server/public/model
  hash="${version##*-}"
  go build -trimpath -o "$bin.tmp" \
    -ldflags "-s -w -X $model.BuildNumber=$version -X $model.BuildHash=$hash -X $model.BuildEnterpriseReady=false -X '$model.BuildDate=$(date -u '+%Y-%m-%d %H:%M:%S')'" \
    "$module/cmd/mattermost"
)
# The server's runtime files, from the module (read-only there).
for d in i18n templates fonts; do
  rm -rf "$out/$d"
  cp -R "$dir/$d" "$out/$d"
  chmod -R u+w "$out/$d"
done
mv "$bin.tmp" "$bin"
echo "build-mattermost: built $bin in $(($(date +%s) - start)) s ($(du -m "$bin" | cut -f1) MiB)" >&2
echo "$bin"
