#!/usr/bin/env bash
# check_html.sh REPORT.html [CHROMIUM]: load the report in headless Chromium
# and require that every chart the page asked for rendered as SVG and that
# the page wrote no error marker. Exit 77 (CTest skip) without Chromium.
set -u
html="$1"
chrome="${2:-}"
if [[ -z "$chrome" || ! -x "$chrome" ]]; then
  chrome="$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)"
fi
if [[ -z "$chrome" ]]; then
  echo "SKIP: no chromium on PATH (Debian package: chromium)"
  exit 77
fi
[[ -f "$html" ]] || { echo "FAIL: $html does not exist (run report.smoke first)"; exit 1; }
profile="$(mktemp -d)"
trap 'rm -rf "$profile"' EXIT
# No network at all: the page must render from what it carries.
dom="$(timeout 120 "$chrome" --headless --no-sandbox --disable-gpu --disable-background-networking \
  --disable-component-update --disable-sync --no-first-run --user-data-dir="$profile" \
  --proxy-server=127.0.0.1:9 --proxy-bypass-list='<-loopback>' \
  --virtual-time-budget=15000 --dump-dom "file://$(realpath "$html")" 2>"$profile/stderr")"
rc=$?
if [[ $rc -ne 0 || -z "$dom" ]]; then
  echo "FAIL: chromium exited $rc"; tail -20 "$profile/stderr"; exit 1
fi
attr() { grep -o "$1=\"[^\"]*\"" <<<"$dom" | head -1 | cut -d'"' -f2; }
state="$(attr data-charts-state)"
requested="$(attr data-charts-requested)"
rendered="$(attr data-charts-rendered)"
svgs="$(grep -o '<svg[^>]*class="marks"' <<<"$dom" | wc -l)"
errors="$(grep -c 'data-moecheck-error="1"' <<<"$dom")"
echo "charts: state=$state requested=$requested rendered=$rendered svg=$svgs errors=$errors"
if [[ "$errors" -ne 0 ]]; then
  grep -o 'chart failed: [^<"]*<' <<<"$dom"
  echo "FAIL: the page reported chart errors"; exit 1
fi
if [[ "$state" != "done" || -z "$requested" || "$requested" -lt 4 || "$rendered" != "$requested" || "$svgs" -lt "$requested" ]]; then
  echo "FAIL: not every chart rendered"; exit 1
fi
echo "PASS"
