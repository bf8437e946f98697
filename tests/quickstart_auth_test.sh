#!/usr/bin/env bash
# The quickstart's farm (ops/lib/farm.sh: redis-server, a coordinator, two workers) with
# authentication on, as ops/quickstart.sh runs it: the CLI submits and waits with the
# token farm_start exported, the dataset is complete, the API refuses a request without
# the token, and the login link the quickstart prints opens one dashboard session, once.
#
#   tests/quickstart_auth_test.sh BUILD_DIR
set -euo pipefail
build=$(cd "$1" && pwd)
cd "$(dirname "$0")/.."
export BUILD_DIR=$build
source ops/lib/farm.sh
work=$(mktemp -d)
trap 'farm_stop; rm -rf "$work"' EXIT
SYNTHFARM_HTTP_PORT=18080 SYNTHFARM_REDIS_PORT=16390 SYNTHFARM_TELEMETRY_PORT=15555 \
  farm_start "$work/run" "file://$work/out" 2 1
spec="$work/spec.yaml"
printf 'name: quickstart-auth\nsamples: 4\nshard_size: 2\nseed: 7\ncamera:\n  resolution: [64, 48]\nrender:\n  spp: 2\n' >"$spec"
job=$("$build/bin/synthfarm" --url "$FARM_URL" submit "$spec")
"$build/bin/synthfarm" --url "$FARM_URL" wait "$job" --timeout 240 2>/dev/null
test -s "$work/out/$job/manifest.json" || { echo "no manifest.json for $job" >&2; exit 1; }
code=$(curl -s -o /dev/null -w '%{http_code}' "$FARM_URL/api/jobs")
[[ $code == 401 ]] || { echo "GET /api/jobs without a token answered $code, expected 401" >&2; exit 1; }
link=$("$build/bin/synthfarm" token login-link "$FARM_TOKEN_NAME" "$FARM_URL" --redis "$FARM_REDIS" 2>/dev/null)
login=${link#*#login=}
first=$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
  --data "{\"code\":\"$login\"}" "$FARM_URL/api/session")
again=$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
  --data "{\"code\":\"$login\"}" "$FARM_URL/api/session")
[[ $first == 200 && $again == 401 ]] || { echo "login link: first $first, again $again (expected 200, 401)" >&2; exit 1; }
if grep -rqF "$SYNTHFARM_TOKEN" "$work/run"; then
  echo "the token appears in a log under $work/run" >&2
  exit 1
fi
echo "quickstart with authentication: job $job done, 401 without a token, login link works once"
