#!/usr/bin/env bash
# Build the connector image and run spec/check/discover/read inside it (`make docker-smoke`).
#
# Needs root. Without a registry (these machines cannot reach Docker Hub) it installs Debian's
# docker.io and debootstrap, makes a Python 3.11 base image from Debian bookworm, and passes it as
# BASE_IMAGE; with registry access set BASE_IMAGE to metadata.yaml's baseImage instead.
# Starting dockerd changes host networking, so everything it started is stopped at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
WORK=$(mktemp -d)
# shellcheck source=scripts/local_docker.sh
. "$ROOT/scripts/local_docker.sh"
cleanup() {
  stop_local_dockerd
  rm -rf "$WORK"
}
trap cleanup EXIT

start_local_dockerd
BASE_IMAGE=$(local_base_image "${BASE_IMAGE:-}")

IMAGE=airbyte/source-meta-capi:dev
docker build --build-arg BASE_IMAGE="$BASE_IMAGE" -t "$IMAGE" "$ROOT"

# What the image weighs and where: the total, each layer, the venv's 10 largest packages; and
# that nothing of the build (pip, setuptools, wheel) or the receiver's server stack is in it.
SITE=/opt/connector/lib/python3.11/site-packages
size=$(docker image inspect -f '{{.Size}}' "$IMAGE")
base_size=$(docker image inspect -f '{{.Size}}' "$BASE_IMAGE" 2>/dev/null || echo 0)
echo "docker smoke: image $IMAGE is $((size / 1048576)) MiB ($(((size - base_size) / 1048576)) MiB above the base image)"
echo "docker smoke: layers (largest first):"
docker history --format '{{.Size}}\t{{.CreatedBy}}' "$IMAGE" | sort -h -r | head -5 | cut -c1-140 | sed 's/^/  /'
echo "docker smoke: largest parts of $SITE:"
docker run --rm --network none --entrypoint sh "$IMAGE" -c "du -sk $SITE/* | sort -rn | head -10" \
  | awk '{printf "  %6.1f MiB  %s\n", $1 / 1024, $2}'
docker run --rm --network none --entrypoint /opt/connector/bin/python "$IMAGE" -c "
import importlib.util as u, sys
extra = [m for m in ('pip', 'setuptools', 'wheel', 'starlette', 'uvicorn', 'mangum', 'prometheus_client') if u.find_spec(m)]
sys.exit(f'not for the connector image: {extra}' if extra else 0)"

DATA="$WORK/data"
mkdir -p "$DATA"
"$ROOT/.venv/bin/python" - "$DATA" <<'PY'
import json, sys
from datetime import datetime, timedelta, timezone
from source_meta_capi.staging.sample_data import stage_sample
from source_meta_capi.staging.open_store import open_store
from source_meta_capi.staging.writer import StagingWriter
data = sys.argv[1]
stage_sample(StagingWriter(open_store(f"{data}/bucket"), clock=lambda: datetime.now(timezone.utc) - timedelta(hours=1)), ["1234567890"])
json.dump({"pixels": [{"pixel_id": "1234567890"}], "staging": {"bucket_url": "/data/bucket"}}, open(f"{data}/config.json", "w"))
PY
chmod -R a+rwX "$DATA"
run() { docker run --rm --network none -v "$DATA:/data" "$IMAGE" "$@"; }
run spec | grep -q '"type":"SPEC"'
run check --config /data/config.json | grep -q '"status":"SUCCEEDED"'
run discover --config /data/config.json | "$ROOT/.venv/bin/python" -c '
import json, sys
catalog = next(json.loads(l)["catalog"] for l in sys.stdin if l.startswith("{\"type\":\"CATALOG\""))
json.dump({"streams": [{"stream": s, "sync_mode": "full_refresh", "destination_sync_mode": "overwrite"} for s in catalog["streams"]]}, open(sys.argv[1], "w"))
' "$DATA/catalog.json"
records=$(run read --config /data/config.json --catalog /data/catalog.json | grep -c '"type":"RECORD"')
echo "docker smoke: spec, check, discover ok; read emitted $records records"
test "$records" -gt 0
