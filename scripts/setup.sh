#!/usr/bin/env bash
# Installs what the engine, its tests and the study need, skipping whatever is already done, so
# that every run after the first takes about a second:
#   - npm dependencies (npm ci), when node_modules is missing or older than package-lock.json;
#   - Debian's chromium (the browser for the browser tests, and SwiftShader, a software Vulkan
#     driver that WebGPU can use);
#   - Debian's dataset-fashion-mnist (the four IDX files under /usr/share/datasets/fashion-mnist);
#   - mesa-vulkan-drivers 24 or newer (lavapipe, which Dawn rejects before Mesa 24): from the
#     release when its candidate is new enough, otherwise from the release's backports suite.
#     When backports is not configured, it is added with the URIs and keyring of the machine's
#     own Debian source, so the machine keeps using its mirror.
# Then it creates a WebGPU device on the adapter the tests will use and prints its name.
#
# Without root it installs nothing from apt: it lists what is missing, prints the command to run
# as root and exits 1.
#
# Environment:
#   SETUP_SKIP_APT=1    skip the Debian packages (machines that provide WebGPU, Chromium and the
#                       dataset some other way)
#   SETUP_SKIP_CHECK=1  skip the final WebGPU device check
#   SETUP_APT_ROOT      directory read and written in place of /etc/apt (for tests; apt-get itself
#                       still reads /etc/apt)
#   SETUP_OS_RELEASE    file read in place of /etc/os-release (for tests)
set -Eeuo pipefail
cd "$(dirname "$0")/.."

APT_ROOT=${SETUP_APT_ROOT:-/etc/apt}
OS_RELEASE=${SETUP_OS_RELEASE:-/etc/os-release}
MIN_NODE_MAJOR=20
MIN_NODE_MINOR=19
MIN_MESA_MAJOR=24

step() { printf '[setup] %s\n' "$*"; }
fail() {
  printf '[setup] error: %s\n' "$*" >&2
  exit 1
}
trap 'printf "[setup] error: command failed (exit %s, line %s): %s\n" "$?" "$LINENO" "$BASH_COMMAND" >&2' ERR

# ---- Node ----------------------------------------------------------------------------------
node_version=$(node -p 'process.versions.node' 2>/dev/null) ||
  fail "node not found; install Node.js ${MIN_NODE_MAJOR}.${MIN_NODE_MINOR} or newer (https://nodejs.org/en/download)"
IFS=. read -r node_major node_minor _ <<<"$node_version"
if ((node_major < MIN_NODE_MAJOR || (node_major == MIN_NODE_MAJOR && node_minor < MIN_NODE_MINOR))); then
  fail "Node.js $node_version is too old; install ${MIN_NODE_MAJOR}.${MIN_NODE_MINOR} or newer (https://nodejs.org/en/download)"
fi

# ---- npm dependencies ----------------------------------------------------------------------
# npm writes node_modules/.package-lock.json at the end of every install, so a package-lock.json
# newer than it means the dependencies changed since the last install.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  step "installing npm dependencies (npm ci)"
  npm ci --no-audit --no-fund
else
  step "npm dependencies are up to date"
fi

# ---- Debian packages -----------------------------------------------------------------------

# Prints the one-line entries (`deb [OPTIONS] URI SUITE COMPONENT...`) of the files given as
# deb822 stanzas, so that one parser reads both formats.
list_to_deb822() {
  awk '
    /^[ \t]*deb[ \t]/ {
      line = $0
      sub(/[ \t]#.*$/, "", line)
      options = ""
      if (match(line, /\[[^]]*\]/)) {
        options = substr(line, RSTART + 1, RLENGTH - 2)
        line = substr(line, 1, RSTART - 1) " " substr(line, RSTART + RLENGTH)
      }
      n = split(line, word, /[ \t]+/)
      first = (word[1] == "") ? 2 : 1
      if (n < first + 3) next
      print "Types: deb"
      print "URIs: " word[first + 1]
      print "Suites: " word[first + 2]
      components = word[first + 3]
      for (i = first + 4; i <= n; i++) components = components " " word[i]
      print "Components: " components
      count = split(options, option, /[ \t]+/)
      for (i = 1; i <= count; i++) {
        eq = index(option[i], "=")
        if (eq == 0) continue
        name = substr(option[i], 1, eq - 1)
        value = substr(option[i], eq + 1)
        if (name == "signed-by") print "Signed-By: " value
        else if (name == "arch") print "Architectures: " value
        else if (name == "trusted") print "Trusted: " value
      }
      print ""
    }' "$@"
}

# Prints every apt source under APT_ROOT as deb822 stanzas separated by blank lines.
all_sources() {
  local file
  local lists=()
  [ -f "$APT_ROOT/sources.list" ] && lists+=("$APT_ROOT/sources.list")
  for file in "$APT_ROOT"/sources.list.d/*.list; do [ -f "$file" ] && lists+=("$file"); done
  if [ ${#lists[@]} -gt 0 ]; then list_to_deb822 "${lists[@]}"; fi
  for file in "$APT_ROOT"/sources.list.d/*.sources; do
    [ -f "$file" ] || continue
    cat "$file"
    printf '\n\n'
  done
}

# Reads deb822 stanzas on stdin. MODE=has-suite exits 0 when an enabled `deb` stanza lists
# SUITE. MODE=backports prints the stanza of the release's Debian source (suite SUITE,
# component main) rewritten for SUITE-backports: its URIs, Signed-By (inline keys included),
# Architectures and other fields are kept. Where several sources list the suite, one signed by
# the Debian archive keyring wins, then one whose URI path ends in /debian, then the first.
stanza_tool() {
  awk -v mode="$1" -v suite="$2" '
    BEGIN { RS = ""; FS = "\n"; best = -1; found = 0 }
    {
      n = 0
      delete key
      delete value
      for (i = 1; i <= NF; i++) {
        line = $i
        if (line ~ /^#/) continue
        if (line ~ /^[ \t]/ && n > 0) { value[n] = value[n] "\n" line; continue }
        if (match(line, /^[A-Za-z0-9-]+:/)) {
          n++
          key[n] = tolower(substr(line, 1, RLENGTH - 1))
          value[n] = substr(line, RLENGTH + 1)
          sub(/^[ \t]+/, "", value[n])
        }
      }
      types = ""; suites = ""; components = ""; enabled = "yes"; signed = ""; uris = ""
      for (i = 1; i <= n; i++) {
        if (key[i] == "types") types = " " value[i] " "
        else if (key[i] == "suites") suites = " " value[i] " "
        else if (key[i] == "components") components = " " value[i] " "
        else if (key[i] == "enabled") enabled = tolower(value[i])
        else if (key[i] == "signed-by") signed = value[i]
        else if (key[i] == "uris") uris = value[i]
      }
      gsub(/[ \t\n]+/, " ", types); gsub(/[ \t\n]+/, " ", suites); gsub(/[ \t\n]+/, " ", components)
      if (enabled == "no" || index(types, " deb ") == 0 || index(suites, " " suite " ") == 0) next
      found = 1
      if (mode != "backports" || index(components, " main ") == 0) next
      score = 0
      if (signed ~ /debian-archive-keyring/) score = 2
      else if (uris ~ /\/debian\/?([ \t]|$)/) score = 1
      if (score <= best) next
      best = score
      text = "Types: deb\n"
      for (i = 1; i <= n; i++) {
        if (key[i] == "types" || key[i] == "suites" || key[i] == "components" || key[i] == "enabled") continue
        name = key[i]
        if (name == "uris") name = "URIs"
        else if (name == "signed-by") name = "Signed-By"
        else if (name == "architectures") name = "Architectures"
        # A value that starts on the next line (an inline key) gets no space after the colon.
        separator = (value[i] == "" || substr(value[i], 1, 1) == "\n") ? "" : " "
        text = text name ":" separator value[i] "\n"
      }
      text = text "Suites: " suite "-backports\nComponents: main\n"
    }
    END {
      if (mode == "has-suite") exit found ? 0 : 1
      if (best < 0) exit 1
      printf "%s", text
    }'
}

# `dpkg-query -W` exits non-zero for unknown packages; the status must end in "ok installed"
# (not "config-files" or "half-installed").
installed() {
  local status
  status=$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null) || return 1
  [[ $status == *" ok installed" ]]
}
version_of() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || true; }
# Major version of a Debian version string, without its epoch: 1:25.0.7-2 gives 25.
major_of() { sed -E 's/^[0-9]+://; s/^([0-9]+).*/\1/; s/^[^0-9].*//' <<<"$1"; }
mesa_is_new_enough() {
  installed mesa-vulkan-drivers || return 1
  local major
  major=$(major_of "$(version_of mesa-vulkan-drivers)")
  [ -n "$major" ] && [ "$major" -ge "$MIN_MESA_MAJOR" ]
}

install_debian_packages() {
  if ! command -v dpkg-query >/dev/null 2>&1; then
    step "not a Debian system: install Chromium, Mesa ${MIN_MESA_MAJOR}+ (lavapipe) and Fashion-MNIST yourself, then set SETUP_SKIP_APT=1"
    return 0
  fi

  local missing=()
  installed chromium || missing+=(chromium)
  installed dataset-fashion-mnist || missing+=(dataset-fashion-mnist)
  local mesa_ok=1
  mesa_is_new_enough || mesa_ok=0

  if [ ${#missing[@]} -eq 0 ] && [ $mesa_ok = 1 ]; then
    step "Debian packages are installed: chromium $(version_of chromium), dataset-fashion-mnist $(version_of dataset-fashion-mnist), mesa-vulkan-drivers $(version_of mesa-vulkan-drivers)"
    return 0
  fi

  local wanted="${missing[*]}"
  if [ $mesa_ok = 0 ]; then
    local have
    have=$(version_of mesa-vulkan-drivers)
    wanted="${wanted:+$wanted }mesa-vulkan-drivers (${MIN_MESA_MAJOR} or newer; ${have:-not installed})"
  fi
  if [ "$(id -u)" != 0 ]; then
    printf '[setup] missing Debian packages: %s\n' "$wanted" >&2
    printf '[setup] install them by running, as root:\n' >&2
    printf '[setup]   sudo bash scripts/setup.sh\n' >&2
    exit 1
  fi
  step "installing Debian packages: $wanted"

  local codename=""
  [ -f "$OS_RELEASE" ] && codename=$(. "$OS_RELEASE" && echo "${VERSION_CODENAME:-}")
  export DEBIAN_FRONTEND=noninteractive
  # Waits for another apt or dpkg process (for example unattended-upgrades) instead of failing.
  local apt=(apt-get -q -o DPkg::Lock::Timeout=300)

  step "apt-get update"
  "${apt[@]}" update -qq
  if [ ${#missing[@]} -gt 0 ]; then
    step "apt-get install ${missing[*]}"
    "${apt[@]}" install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi

  if [ $mesa_ok = 0 ]; then
    local candidate
    candidate=$(apt-cache policy mesa-vulkan-drivers | awk '/Candidate:/ { print $2; exit }')
    local candidate_major
    candidate_major=$(major_of "$candidate")
    if [ -n "$candidate_major" ] && [ "$candidate_major" -ge "$MIN_MESA_MAJOR" ]; then
      step "apt-get install mesa-vulkan-drivers $candidate"
      "${apt[@]}" install -y -qq --no-install-recommends mesa-vulkan-drivers >/dev/null
    else
      [ -n "$codename" ] || fail "no VERSION_CODENAME in $OS_RELEASE, so the backports suite for mesa-vulkan-drivers ${MIN_MESA_MAJOR}+ is unknown; install Mesa ${MIN_MESA_MAJOR} or newer yourself"
      local backports="${codename}-backports"
      if all_sources | stanza_tool has-suite "$backports"; then
        step "$backports is already configured"
      else
        local stanza
        stanza=$(all_sources | stanza_tool backports "$codename") ||
          fail "no Debian source for $codename (component main) in $APT_ROOT to derive $backports from; add $backports yourself (https://backports.debian.org/Instructions/)"
        local file="$APT_ROOT/sources.list.d/$backports.sources"
        step "adding $backports to $file with the URIs of the $codename source"
        mkdir -p "$APT_ROOT/sources.list.d"
        {
          echo "# Added by scripts/setup.sh for mesa-vulkan-drivers ${MIN_MESA_MAJOR} or newer; derived from the $codename source."
          echo "$stanza"
        } >"$file"
        step "apt-get update"
        "${apt[@]}" update -qq
      fi
      step "apt-get install -t $backports mesa-vulkan-drivers"
      "${apt[@]}" install -y -qq --no-install-recommends -t "$backports" mesa-vulkan-drivers >/dev/null
    fi
    mesa_is_new_enough ||
      fail "mesa-vulkan-drivers is $(version_of mesa-vulkan-drivers) after installing; Dawn needs ${MIN_MESA_MAJOR} or newer"
  fi

  step "installed: chromium $(version_of chromium), dataset-fashion-mnist $(version_of dataset-fashion-mnist), mesa-vulkan-drivers $(version_of mesa-vulkan-drivers)"
}

if [ "${SETUP_SKIP_APT:-0}" = 1 ]; then
  step "SETUP_SKIP_APT=1: skipping Debian packages"
else
  install_debian_packages
fi

# ---- WebGPU check --------------------------------------------------------------------------
if [ "${SETUP_SKIP_CHECK:-0}" = 1 ]; then
  step "SETUP_SKIP_CHECK=1: skipping the WebGPU device check"
else
  node scripts/run.mjs scripts/check-webgpu.ts
fi
