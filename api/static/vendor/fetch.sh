#!/usr/bin/env bash
# Re-fetch the vendored front-end files from the npm registry (`make vendor`); no build step.
# Versions are pinned here; VERSIONS records what was fetched and each file's sha256.
set -euo pipefail
cd "$(dirname "$0")"

HTMX_VERSION=2.0.11  # htmx 4 swaps error responses by default; 2.0.x is maintained
PICO_VERSION=2.1.1

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

fetch() {  # package version file-in-package destination
    (cd "$work" && npm pack --silent "$1@$2" >/dev/null)
    local tarball
    tarball=$(ls "$work"/*.tgz)
    tar -xzf "$tarball" -C "$work"
    cp "$work/package/$3" "$4"
    rm -rf "$work/package" "$tarball"
}

fetch htmx.org "$HTMX_VERSION" dist/htmx.min.js htmx.min.js
fetch @picocss/pico "$PICO_VERSION" css/pico.min.css pico.min.css

{
    echo "# Vendored from the npm registry by fetch.sh (make vendor); do not edit the files."
    echo "htmx.org $HTMX_VERSION htmx.min.js sha256:$(sha256sum htmx.min.js | cut -d' ' -f1)"
    echo "@picocss/pico $PICO_VERSION pico.min.css sha256:$(sha256sum pico.min.css | cut -d' ' -f1)"
} > VERSIONS
cat VERSIONS
