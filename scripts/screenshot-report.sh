#!/usr/bin/env bash
# Render an HTML report in headless Chromium and save a screenshot, to check that a report
# draws without a network (charts included): scripts/screenshot-report.sh report.html out.png [WxH]
# CHROMIUM=/path/to/chromium overrides the browser (default: chromium, chromium-browser, google-chrome).
set -euo pipefail
if [ $# -lt 2 ]; then
  echo "usage: $0 <report.html> <out.png> [WIDTHxHEIGHT (default 1400x2000)]" >&2
  exit 2
fi
html=$1
png=$2
size=${3:-1400x2000}
[ -f "$html" ] || { echo "$0: $html: no such file" >&2; exit 2; }
browser=${CHROMIUM:-}
if [ -z "$browser" ]; then
  for b in chromium chromium-browser google-chrome; do
    if command -v "$b" >/dev/null 2>&1; then browser=$b; break; fi
  done
fi
[ -n "$browser" ] || { echo "$0: no chromium found (apt-get install chromium, or set CHROMIUM)" >&2; exit 1; }
abs_html=$(cd "$(dirname "$html")" && pwd)/$(basename "$html")
mkdir -p "$(dirname "$png")"
abs_png=$(cd "$(dirname "$png")" && pwd)/$(basename "$png")
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
# --virtual-time-budget lets the page's scripts (the charts) finish before the capture.
"$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars --user-data-dir="$profile" \
  --no-first-run --no-default-browser-check --disable-extensions \
  --virtual-time-budget=5000 --window-size="${size/x/,}" \
  --screenshot="$abs_png" "file://$abs_html" >/dev/null 2>&1 || true
if [ ! -s "$abs_png" ]; then
  echo "$0: chromium wrote no screenshot ($abs_png)" >&2
  exit 1
fi
echo "$abs_png"
