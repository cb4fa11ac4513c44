# Sourced by the image smoke scripts (scripts/docker_smoke.sh, deploy/receiver_image_smoke.sh):
# a Docker daemon and a Python 3.11 base image on a machine without registry access.
# Callers set WORK (a scratch folder) and call stop_local_dockerd from their EXIT trap: starting
# dockerd changes host networking, so whatever these functions started is stopped again.

STARTED_DOCKERD=0

start_local_dockerd() {
  if docker info >/dev/null 2>&1; then return 0; fi
  command -v dockerd >/dev/null || { apt-get update -qq && apt-get install -y -qq docker.io debootstrap >/dev/null; }
  dockerd --storage-driver=overlay2 --pidfile "$WORK/dockerd.pid" >"$WORK/dockerd.log" 2>&1 &
  STARTED_DOCKERD=1
  for _ in $(seq 60); do docker info >/dev/null 2>&1 && return 0; sleep 1; done
  echo "dockerd did not start; see $WORK/dockerd.log" >&2
  return 1
}

stop_local_dockerd() {
  if [ "$STARTED_DOCKERD" = 1 ]; then
    kill "$(cat "$WORK/dockerd.pid")" 2>/dev/null || true
    sleep 2
  fi
}

# Prints the base image to build FROM: $1 if given (a registry image), else a local Debian
# bookworm image with Python 3.11 made with debootstrap (once; docker keeps it).
local_base_image() {
  if [ -n "${1:-}" ]; then echo "$1"; return 0; fi
  local image=local/debian-py:bookworm
  if ! docker image inspect "$image" >/dev/null 2>&1; then
    command -v debootstrap >/dev/null || apt-get install -y -qq debootstrap >/dev/null
    debootstrap --variant=minbase --include=python3,python3-venv,python3-pip,ca-certificates,passwd bookworm "$WORK/rootfs" >/dev/null
    # pip inside the build must trust the same CA bundle as this host.
    cp /etc/ssl/certs/ca-certificates.crt "$WORK/rootfs/etc/ssl/certs/ca-certificates.crt"
    tar -C "$WORK/rootfs" -c . | docker import - "$image" >/dev/null
  fi
  echo "$image"
}
