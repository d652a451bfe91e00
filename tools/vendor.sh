#!/usr/bin/env bash
# Copy the front-end libraries pinned in package-lock.json into static/vendor/, so the app
# serves every asset itself (no CDN) and `make run` needs no npm. The copies are committed;
# run this again only after changing a version in package.json:
#
#   bash tools/vendor.sh        (or: npm run vendor)
#
# It installs with `npm ci` into node_modules/ (git-ignored, install scripts disabled), copies
# the minified dist files with their source maps and licence files, and rewrites
# static/vendor/VERSIONS.md.
set -euo pipefail

cd "$(dirname "$0")/.."
DEST=static/vendor
MODULES=node_modules

npm ci --no-audit --no-fund --ignore-scripts

rm -rf "$DEST"
mkdir -p "$DEST"
ROWS=()
BUNDLED=()

field() {  # field PKG NAME: a field of the installed package's package.json
    node -p "require('./$MODULES/$1/package.json').$2"
}

licence_file() {  # licence_file PKG: the package's LICENSE / LICENSE.md / license.md
    find "$MODULES/$1" -maxdepth 1 -type f -iname 'licen[cs]e*' | sort | head -n 1
}

vendor() {  # vendor PKG DIR FILE...: copy dist files (and their maps) to static/vendor/DIR/
    local pkg=$1 dir=$2; shift 2
    local names=()
    mkdir -p "$DEST/$dir"
    for file in "$@"; do
        cp "$MODULES/$pkg/$file" "$DEST/$dir/"
        names+=("$(basename "$file")")
        if [[ -f "$MODULES/$pkg/$file.map" ]]; then
            cp "$MODULES/$pkg/$file.map" "$DEST/$dir/"
        fi
    done
    local licence; licence=$(licence_file "$pkg")
    cp "$licence" "$DEST/$dir/$(basename "$licence")"
    local files; files=$(IFS=,; echo "${names[*]}" | sed 's/,/, /g')
    ROWS+=("| $pkg | $(field "$pkg" version) | $(field "$pkg" license) | $dir/: $files |")
}

bundled() {  # bundled PKG DIR DEP: DEP is compiled into PKG's dist file; keep its licence too
    local pkg=$1 dir=$2 dep=$3
    local licence; licence=$(licence_file "$dep")
    local target="$DEST/$dir/LICENSE-${dep//\//-}"
    target=${target/@/}
    cp "$licence" "$target"
    BUNDLED+=("| $dep | $(field "$dep" version) | $(field "$dep" license) | inside $pkg; $dir/$(basename "$target") |")
}

vendor bootstrap bootstrap dist/css/bootstrap.min.css dist/js/bootstrap.bundle.min.js
bundled bootstrap bootstrap @popperjs/core

vendor socket.io-client socket.io dist/socket.io.min.js
bundled socket.io-client socket.io engine.io-client
bundled socket.io-client socket.io engine.io-parser
bundled socket.io-client socket.io socket.io-parser
bundled socket.io-client socket.io @socket.io/component-emitter

vendor chart.js chart.js dist/chart.umd.min.js
bundled chart.js chart.js @kurkle/color

{
    echo "# Vendored front-end libraries"
    echo
    echo "Installed from the npm registry at the exact versions in \`package-lock.json\` and copied"
    echo "here by \`tools/vendor.sh\`; do not edit these files by hand. Each folder keeps the"
    echo "package's licence file."
    echo
    echo "| package | version | licence | files |"
    echo "|---|---|---|---|"
    printf '%s\n' "${ROWS[@]}"
    echo
    echo "Compiled into the files above (their licences are kept beside them):"
    echo
    echo "| package | version | licence | where |"
    echo "|---|---|---|---|"
    printf '%s\n' "${BUNDLED[@]}"
} > "$DEST/VERSIONS.md"

echo "Vendored into $DEST/:"
cat "$DEST/VERSIONS.md"
