#!/usr/bin/env bash
# Installs what the engine, its tests and the study need, and does nothing that is already done:
#   - npm dependencies, when node_modules is missing or older than package-lock.json;
#   - Debian's chromium (SwiftShader, a software WebGPU adapter, and the browser for browser tests);
#   - Debian's dataset-fashion-mnist (the four IDX files under /usr/share/datasets/fashion-mnist);
#   - Mesa's lavapipe from Mesa 24 on (Dawn rejects older Mesa): from the release when it has
#     one that new, otherwise from the release's backports suite, added with the URIs of the
#     machine's existing Debian source.
# Without root it installs nothing from apt: it prints the command to run as root and exits 1.
# SETUP_SKIP_APT=1 skips the Debian packages (for machines that provide WebGPU otherwise).
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '[setup] %s\n' "$*"; }

# ---- npm dependencies ----------------------------------------------------------------------
# npm writes node_modules/.package-lock.json on every install, so a lock file newer than it means
# the dependencies changed since the last install.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  step "installing npm dependencies (npm ci)"
  npm ci --no-audit --no-fund
else
  step "npm dependencies are up to date"
fi

[ "${SETUP_SKIP_APT:-0}" = 1 ] && { step "SETUP_SKIP_APT=1: skipping Debian packages"; exit 0; }

if ! command -v dpkg-query >/dev/null 2>&1; then
  step "not a Debian system: install Chromium, Mesa 24+ (lavapipe) and Fashion-MNIST yourself, then set SETUP_SKIP_APT=1"
  exit 0
fi

# ---- Debian packages -----------------------------------------------------------------------
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
version_of() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null; }
major() { sed -E 's/^[0-9]+://; s/^([0-9]+).*/\1/' <<<"$1"; }

missing=()
installed chromium || missing+=(chromium)
installed dataset-fashion-mnist || missing+=(dataset-fashion-mnist)

mesa_ok=0
if installed mesa-vulkan-drivers && [ "$(major "$(version_of mesa-vulkan-drivers)")" -ge 24 ]; then mesa_ok=1; fi

if [ ${#missing[@]} -eq 0 ] && [ $mesa_ok = 1 ]; then
  step "chromium, dataset-fashion-mnist and mesa-vulkan-drivers $(version_of mesa-vulkan-drivers) are installed"
  exit 0
fi

codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
backports_file=/etc/apt/sources.list.d/${codename}-backports.sources

if [ "$(id -u)" != 0 ]; then
  need="${missing[*]}"
  [ $mesa_ok = 1 ] || need="$need mesa-vulkan-drivers"
  echo "[setup] missing Debian packages:$need" >&2
  echo "[setup] run as root:  sudo bash scripts/setup.sh" >&2
  echo "[setup] (it runs: apt-get update && apt-get install -y${missing[*]:+ ${missing[*]}}, and installs mesa-vulkan-drivers 24+ from ${codename}-backports when the release's is older)" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
step "apt-get update"
apt-get update -qq

if [ ${#missing[@]} -gt 0 ]; then
  step "apt-get install ${missing[*]}"
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ $mesa_ok = 0 ]; then
  candidate=$(apt-cache policy mesa-vulkan-drivers | awk '/Candidate:/ { print $2 }')
  if [ -n "$candidate" ] && [ "$candidate" != "(none)" ] && [ "$(major "$candidate")" -ge 24 ]; then
    step "apt-get install mesa-vulkan-drivers $candidate"
    apt-get install -y -qq --no-install-recommends mesa-vulkan-drivers >/dev/null
  else
    if [ ! -f "$backports_file" ]; then
      # Reuse the URIs and keyring of the release's own entry so that the machine's mirror is used.
      uris=$(awk -v suite="$codename" '
        /^URIs:/ { u = $2 } /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == suite) found = u }
        /^$/ { u = "" } END { print found }' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
      if [ -z "$uris" ] && [ -f /etc/apt/sources.list ]; then
        uris=$(awk -v suite="$codename" '$1 == "deb" && $3 == suite { print $2; exit }' /etc/apt/sources.list)
      fi
      [ -n "$uris" ] || { echo "[setup] no Debian source for $codename found to derive ${codename}-backports from" >&2; exit 1; }
      step "adding ${codename}-backports from $uris to $backports_file"
      printf 'Types: deb\nURIs: %s\nSuites: %s-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
        "$uris" "$codename" > "$backports_file"
      apt-get update -qq
    fi
    step "apt-get install -t ${codename}-backports mesa-vulkan-drivers"
    apt-get install -y -qq --no-install-recommends -t "${codename}-backports" mesa-vulkan-drivers >/dev/null
  fi
fi
step "done: mesa-vulkan-drivers $(version_of mesa-vulkan-drivers), chromium $(version_of chromium)"
