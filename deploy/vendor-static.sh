#!/usr/bin/env bash
# Copies the front-end packages locked in package-lock.json into static/vendor/ (committed), so that
# running the service never needs npm nor a CDN. Run after changing package.json: `make vendor`.
# Install scripts are skipped: only the published files are needed (and one package's postinstall
# would otherwise send install analytics).
set -euo pipefail
cd "$(dirname "$0")/.."
npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
copy() {  # package, files or folders...
  local pkg="$1"; shift
  rm -rf "static/vendor/$pkg"
  mkdir -p "static/vendor/$pkg"
  for f in "$@"; do cp -r "node_modules/$pkg/$f" "static/vendor/$pkg/"; done
  cp "node_modules/$pkg/LICENSE"* "node_modules/$pkg/MIT-LICENCE"* "static/vendor/$pkg/" 2>/dev/null || true
  node -e "console.log(require('./node_modules/$pkg/package.json').version)" > "static/vendor/$pkg/VERSION"
}
copy swagger-ui-dist swagger-ui.css swagger-ui-bundle.js swagger-ui-standalone-preset.js favicon-32x32.png
# Maps of the pages (web/): Leaflet with its marker images, clusters, vector tiles, drawing.
copy leaflet dist/leaflet.js dist/leaflet.css dist/images
copy leaflet.markercluster dist/leaflet.markercluster.js dist/MarkerCluster.css dist/MarkerCluster.Default.css
copy leaflet.vectorgrid dist/Leaflet.VectorGrid.bundled.min.js
copy @geoman-io/leaflet-geoman-free dist/leaflet-geoman.min.js dist/leaflet-geoman.css
# Accessibility checks of the browser tests (tests/web), injected by the tests only.
copy axe-core axe.min.js
echo "==> static/vendor/ updated"
