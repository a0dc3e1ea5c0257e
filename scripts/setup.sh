#!/usr/bin/env bash
# Set up a fresh machine for create-docker-plugin/dpk: the engine, registry and tools the tests and the demo use
# (Debian packages, installed only when missing and only as root), Go modules through the machine's proxy, and the
# npm dependencies and build.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v dockerd >/dev/null 2>&1 || need+=(docker.io)
command -v docker-registry >/dev/null 2>&1 || need+=(docker-registry)
[ -x /bin/busybox ] && /bin/busybox --list 2>/dev/null | grep -qx ip || need+=(busybox-static)
command -v htpasswd >/dev/null 2>&1 || need+=(apache2-utils)
command -v script >/dev/null 2>&1 || need+=(bsdutils)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "setup: installing ${need[*]}" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "setup: missing ${need[*]}; run as root, or: sudo apt-get install -y ${need[*]}" >&2
    exit 1
  fi
fi
command -v go >/dev/null 2>&1 || { echo "setup: Go is not installed (https://go.dev/dl/); the scaffolds are Go projects" >&2; exit 1; }
node -e 'const [a,b]=process.versions.node.split(".").map(Number); if (a<20||(a===20&&b<17)) { console.error("setup: Node >= 20.17 needed, found "+process.version); process.exit(1) }'
npm ci --no-audit --no-fund --loglevel=error
npm run build --silent
echo "setup: ready" >&2
