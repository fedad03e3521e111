#!/usr/bin/env bash
# Prepares a checkout to run: installs npm dependencies when they are missing or stale, and
# builds every package. Safe to run again; it does only what is needed.
set -euo pipefail
cd "$(dirname "$0")/.."

# System packages the tests run for real: the CNCF distribution registry (docker-registry), the
# container runtimes (podman with runc, Docker's engine, busybox to build test images) and the
# Caddy edge, and Chromium for the web console's browser tests (driven by playwright-core). Installed
# for the tests only (npm test sets GPUAAS_SETUP_TEST_DEPS=1), only when missing, and only where
# apt-get can run as root; elsewhere the hint says what to install.
TEST_PACKAGES=(docker-registry podman runc docker.io busybox-static caddy chromium)
TEST_COMMANDS=(docker-registry podman runc dockerd busybox caddy chromium)
if [ "${GPUAAS_SETUP_TEST_DEPS:-0}" = 1 ]; then
  missing=()
  for i in "${!TEST_COMMANDS[@]}"; do
    command -v "${TEST_COMMANDS[$i]}" >/dev/null 2>&1 || missing+=("${TEST_PACKAGES[$i]}")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      echo "setup: installing ${missing[*]}" >&2
      export DEBIAN_FRONTEND=noninteractive
      apt-get update -qq >/dev/null
      apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    else
      echo "setup: missing ${missing[*]}; install them (apt-get install ${missing[*]}) for the end-to-end tests" >&2
    fi
  fi
fi

stamp=node_modules/.gpuaas-install-stamp
stale=0
[ -f "$stamp" ] || stale=1
for manifest in package.json package-lock.json packages/*/package.json; do
  if [ "$manifest" -nt "$stamp" ]; then stale=1; fi
done
if [ "$stale" = 1 ]; then
  echo "setup: installing npm dependencies" >&2
  npm install --no-audit --no-fund --loglevel=error
  touch "$stamp"
fi

npx --no-install tsc --build

# The web console (packages/web), served by `gpuaas up` at /: type-checked and built with Vite when
# its sources (or the contract it bundles) changed since its last build.
web_built=packages/web/dist/index.html
if [ ! -f "$web_built" ] || [ -n "$(find packages/web/src packages/web/index.html \
  packages/web/vite.config.ts packages/web/package.json packages/contract/dist \
  -newer "$web_built" -not -name "*.test.ts" -print -quit 2>/dev/null)" ]; then
  echo "setup: building the web console" >&2
  npm run --silent build -w @gpuaas/web -- --logLevel warn
fi
