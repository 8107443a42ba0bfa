#!/usr/bin/env bash
# Rebuild src/tokentrail/server/static/vendor/echarts/echarts.min.js: ECharts with only what
# the dashboard draws (entry.js), minified. Needs Node.js and npm (the versions are pinned in
# package.json and package-lock.json); the dashboard itself never needs them.
set -euo pipefail
cd "$(dirname "$0")"
npm ci --no-audit --no-fund --silent
npx esbuild entry.js --bundle --minify --format=iife --global-name=echarts \
  --legal-comments=eof --target=es2018 \
  --outfile=../../src/tokentrail/server/static/vendor/echarts/echarts.min.js
sha256sum ../../src/tokentrail/server/static/vendor/echarts/echarts.min.js
