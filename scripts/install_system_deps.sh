#!/usr/bin/env bash
# Best-effort install of the optional system tools the tests use: bubblewrap (sandboxed code execution)
# and Chromium (headless check of the HTML report). Needs root and apt-get; where either is missing, the
# tests that need these tools skip with a reason instead.
set -u
missing=()
command -v bwrap >/dev/null 2>&1 || missing+=(bubblewrap)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "install_system_deps: not root or no apt-get; tests needing ${missing[*]} will skip" >&2
  exit 0
fi
echo "install_system_deps: installing ${missing[*]} (Debian packages)" >&2
export DEBIAN_FRONTEND=noninteractive
{ apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >/dev/null 2>&1 \
  || echo "install_system_deps: apt-get failed; tests needing ${missing[*]} will skip" >&2
exit 0
