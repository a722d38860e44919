#!/usr/bin/env bash
# Copies the front-end packages locked in package-lock.json into static/vendor/ (committed), so that
# running the service never needs npm nor a CDN. Run after changing package.json: `make vendor`.
set -euo pipefail
cd "$(dirname "$0")/.."
npm ci --no-audit --no-fund --loglevel=error
copy() {  # package, files...
  local pkg="$1"; shift
  mkdir -p "static/vendor/$pkg"
  for f in "$@"; do cp "node_modules/$pkg/$f" "static/vendor/$pkg/"; done
  cp "node_modules/$pkg/LICENSE"* "static/vendor/$pkg/" 2>/dev/null || true
  node -e "console.log(require('./node_modules/$pkg/package.json').version)" > "static/vendor/$pkg/VERSION"
}
copy swagger-ui-dist swagger-ui.css swagger-ui-bundle.js swagger-ui-standalone-preset.js favicon-32x32.png
echo "==> static/vendor/ updated"
