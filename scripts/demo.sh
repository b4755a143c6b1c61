#!/usr/bin/env bash
# The main job on the bundled example, from a fresh Debian machine (installs what it needs):
#   1. compile every proxy host declared in proxygen.yml + sites/ into build/,
#   2. check every host's whole config with the real nginx (`proxygen lint --nginx`),
#   3. analyze the bundled sample access log for abusive crawlers (table + HTML report).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
PG=.venv/bin/proxygen

echo "== proxygen build"
$PG build --out build
echo "== proxygen lint --nginx"
$PG lint --nginx
echo "== proxygen crawlers analyze examples/access-sample.log.gz"
$PG crawlers analyze examples/access-sample.log.gz --asn-db examples/synthetic-asn.mmdb \
    --html build/crawlers-report.html --top 15
echo "== report written to build/crawlers-report.html"
