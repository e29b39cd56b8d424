// Runs scripts/setup.sh against fakes: `dpkg-query`, `apt-get`, `apt-cache`, `id` and `npm`
// first on PATH, an installed-package database and package archives in a temporary directory,
// and a temporary /etc/apt (SETUP_APT_ROOT). Nothing on the machine is installed or changed.
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

const SETUP_SCRIPT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'scripts', 'setup.sh');

const DPKG_QUERY = `#!/usr/bin/env bash
# dpkg-query -W -f=FORMAT PACKAGE, answered from $FAKE/installed/PACKAGE (its version).
for arg; do case $arg in -W) ;; -f=*) format=\${arg#-f=} ;; *) package=$arg ;; esac; done
file="$FAKE/installed/$package"
if [ ! -f "$file" ]; then echo "dpkg-query: no packages found matching $package" >&2; exit 1; fi
if [ "$format" = '\${Status}' ]; then printf 'install ok installed'; else printf '%s' "$(cat "$file")"; fi
`;

const APT_GET = `#!/usr/bin/env bash
# Logs each call; "install" copies versions from $FAKE/archive/SUITE/PACKAGE into the database.
echo "apt-get $*" >> "$FAKE/apt.log"
suite=release; command=; packages=()
while [ $# -gt 0 ]; do
  case $1 in
    -t) suite=$2; shift ;;
    -o) shift ;;
    -*) ;;
    update|install) command=$1 ;;
    *) packages+=("$1") ;;
  esac
  shift
done
if [ "$command" = install ]; then
  for package in "\${packages[@]}"; do
    source="$FAKE/archive/$suite/$package"
    [ -f "$source" ] || { echo "E: Unable to locate package $package" >&2; exit 100; }
    cp "$source" "$FAKE/installed/$package"
  done
fi
`;

const APT_CACHE = `#!/usr/bin/env bash
# apt-cache policy PACKAGE: the candidate is the release archive's version.
file="$FAKE/archive/release/$2"
echo "$2:"
echo "  Installed: (none)"
if [ -f "$file" ]; then echo "  Candidate: $(cat "$file")"; else echo "  Candidate: (none)"; fi
`;

const ID = `#!/usr/bin/env bash
[ "$1" = -u ] && echo "$FAKE_UID"
`;

const NPM = `#!/usr/bin/env bash
echo "npm $*" >> "$FAKE/npm.log"
`;

const DEBIAN_SOURCES = `Types: deb
# http://snapshot.debian.org/archive/debian/20250520T000000Z
URIs: http://mirror.test.invalid/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://mirror.test.invalid/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
`;

const OS_RELEASE = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_CODENAME=bookworm\n';

interface Machine {
  root: string;
  fake: string;
  aptRoot: string;
  repo: string;
}

interface MachineOptions {
  /** Package name to installed version. */
  installed?: Record<string, string>;
  /** Suite (`release` for the release's own) to package name to version. */
  archive?: Record<string, Record<string, string>>;
  /** Path under /etc/apt to contents. */
  apt?: Record<string, string>;
  /** Whether node_modules is older than package-lock.json. */
  staleNodeModules?: boolean;
}

const FULL_ARCHIVE = {
  release: { chromium: '156.0.8078.114-1~deb12u1', 'dataset-fashion-mnist': '0.0~git20200523.55506a9-1', 'mesa-vulkan-drivers': '22.3.6-1+deb12u2' },
  'bookworm-backports': { 'mesa-vulkan-drivers': '25.0.7-2~bpo12+1' },
};

const roots: string[] = [];
afterEach(() => {
  for (const root of roots.splice(0)) rmSync(root, { recursive: true, force: true });
});

function writeFile(path: string, contents: string, executable = false): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, contents);
  if (executable) chmodSync(path, 0o755);
}

function makeMachine(options: MachineOptions = {}): Machine {
  const root = mkdtempSync(join(tmpdir(), 'setup-test-'));
  roots.push(root);
  const machine = { root, fake: join(root, 'fake'), aptRoot: join(root, 'etc-apt'), repo: join(root, 'repo') };

  for (const [name, text] of Object.entries({ 'dpkg-query': DPKG_QUERY, 'apt-get': APT_GET, 'apt-cache': APT_CACHE, id: ID, npm: NPM })) {
    writeFile(join(root, 'bin', name), text, true);
  }
  mkdirSync(join(machine.fake, 'installed'), { recursive: true });
  for (const [name, version] of Object.entries(options.installed ?? {})) writeFile(join(machine.fake, 'installed', name), version);
  for (const [suite, packages] of Object.entries(options.archive ?? FULL_ARCHIVE)) {
    for (const [name, version] of Object.entries(packages)) writeFile(join(machine.fake, 'archive', suite, name), version);
  }
  mkdirSync(join(machine.aptRoot, 'sources.list.d'), { recursive: true });
  for (const [path, text] of Object.entries(options.apt ?? { 'sources.list.d/debian.sources': DEBIAN_SOURCES })) {
    writeFile(join(machine.aptRoot, path), text);
  }
  writeFile(join(root, 'os-release'), OS_RELEASE);

  // The script runs from its own copy, so that its npm step looks at a fake node_modules.
  mkdirSync(join(machine.repo, 'scripts'), { recursive: true });
  copyFileSync(SETUP_SCRIPT, join(machine.repo, 'scripts', 'setup.sh'));
  writeFile(join(machine.repo, 'package-lock.json'), '{}');
  writeFile(join(machine.repo, 'node_modules', '.package-lock.json'), '{}');
  const lockTime = new Date('2026-01-01T00:00:00Z');
  const installTime = new Date(lockTime.getTime() + (options.staleNodeModules ? -60_000 : 60_000));
  utimesSync(join(machine.repo, 'package-lock.json'), lockTime, lockTime);
  utimesSync(join(machine.repo, 'node_modules', '.package-lock.json'), installTime, installTime);

  return machine;
}

function runSetup(machine: Machine, uid = 0): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync('bash', [join(machine.repo, 'scripts', 'setup.sh')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      PATH: `${join(machine.root, 'bin')}:${process.env.PATH}`,
      HOME: machine.root,
      FAKE: machine.fake,
      FAKE_UID: String(uid),
      SETUP_APT_ROOT: machine.aptRoot,
      SETUP_OS_RELEASE: join(machine.root, 'os-release'),
      SETUP_SKIP_CHECK: '1',
    },
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function readLog(machine: Machine, name: string): string {
  const path = join(machine.fake, name);
  return existsSync(path) ? readFileSync(path, 'utf8') : '';
}

const INSTALLED = { chromium: '156.0.8078.114-1~deb12u1', 'dataset-fashion-mnist': '0.0~git20200523.55506a9-1', 'mesa-vulkan-drivers': '25.0.7-2~bpo12+1' };
const OLD_MESA = { ...INSTALLED, 'mesa-vulkan-drivers': '22.3.6-1+deb12u2' };
const BACKPORTS_FILE = 'sources.list.d/bookworm-backports.sources';

describe('setup.sh', () => {
  it('does nothing when everything is installed', () => {
    const machine = makeMachine({ installed: INSTALLED });
    const run = runSetup(machine);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(run.stdout).toContain('[setup] npm dependencies are up to date');
    expect(run.stdout).toContain('[setup] Debian packages are installed: chromium 156.0.8078.114-1~deb12u1');
    expect(run.stdout).toContain('mesa-vulkan-drivers 25.0.7-2~bpo12+1');
    expect(run.stdout).toContain('[setup] SETUP_SKIP_CHECK=1: skipping the WebGPU device check');
    expect(readLog(machine, 'apt.log')).toBe('');
    expect(readLog(machine, 'npm.log')).toBe('');
  });

  it('runs npm ci for a stale node_modules', () => {
    const machine = makeMachine({ installed: INSTALLED, staleNodeModules: true });
    const run = runSetup(machine);
    expect(run.status).toBe(0);
    expect(run.stdout).toContain('[setup] installing npm dependencies (npm ci)');
    expect(readLog(machine, 'npm.log')).toBe('npm ci --no-audit --no-fund\n');
  });

  it('prints the root command without root', () => {
    const machine = makeMachine({ installed: { 'mesa-vulkan-drivers': '22.3.6-1+deb12u2' } });
    const run = runSetup(machine, 1000);
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('[setup] missing Debian packages: chromium dataset-fashion-mnist mesa-vulkan-drivers (24 or newer; 22.3.6-1+deb12u2)');
    expect(run.stderr).toContain('[setup]   sudo bash scripts/setup.sh\n');
    expect(readLog(machine, 'apt.log')).toBe('');
    expect(existsSync(join(machine.aptRoot, BACKPORTS_FILE))).toBe(false);
  });

  it('installs missing packages as root', () => {
    const machine = makeMachine({ installed: { 'mesa-vulkan-drivers': '25.0.7-2~bpo12+1' } });
    const run = runSetup(machine);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const log = readLog(machine, 'apt.log');
    expect(log).toContain('update');
    expect(log).toContain('install -y -qq --no-install-recommends chromium dataset-fashion-mnist');
    expect(log).not.toContain('mesa-vulkan-drivers');
    expect(existsSync(join(machine.aptRoot, BACKPORTS_FILE))).toBe(false);
  });

  it('adds backports from the Debian source', () => {
    const machine = makeMachine({
      installed: OLD_MESA,
      apt: {
        // A third-party source for the same suite and component comes first and must be passed over.
        'sources.list': 'deb [signed-by=/usr/share/keyrings/vendor.gpg] https://vendor.test.invalid/apt bookworm main\n',
        'sources.list.d/debian.sources': DEBIAN_SOURCES,
      },
    });
    const run = runSetup(machine);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);

    const added = readFileSync(join(machine.aptRoot, BACKPORTS_FILE), 'utf8');
    expect(added).toContain('\nTypes: deb\n');
    expect(added).toContain('\nURIs: http://mirror.test.invalid/debian\n');
    expect(added).toContain('\nSuites: bookworm-backports\n');
    expect(added).toContain('\nComponents: main\n');
    expect(added).toContain('\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n');
    expect(added).not.toContain('deb.debian.org');
    expect(added).not.toContain('vendor');

    const log = readLog(machine, 'apt.log').trim().split('\n');
    expect(log.filter((line) => line.includes(' update'))).toHaveLength(2);
    expect(log.at(-1)).toContain('install -y -qq --no-install-recommends -t bookworm-backports mesa-vulkan-drivers');
    expect(readFileSync(join(machine.fake, 'installed', 'mesa-vulkan-drivers'), 'utf8')).toBe('25.0.7-2~bpo12+1');
  });

  it('is idempotent after adding backports', () => {
    const machine = makeMachine({ installed: OLD_MESA });
    expect(runSetup(machine).status).toBe(0);
    const calls = readLog(machine, 'apt.log');
    const second = runSetup(machine);
    expect(second.status).toBe(0);
    expect(second.stdout).toContain('[setup] Debian packages are installed');
    expect(readLog(machine, 'apt.log')).toBe(calls);
  });

  it('reads one-line and inline-key sources', () => {
    const inlineKey = [
      'Types: deb',
      'Suites: bookworm',
      'Components: main contrib',
      'URIs: http://inline.test.invalid/debian/',
      'Signed-By:',
      ' -----BEGIN PGP PUBLIC KEY BLOCK-----',
      ' .',
      ' mQINBGPL0BUBEADmW5NdOOHwPIJlgPu6JDcKw/NZJPR8lsD9K7UxXkU',
      ' -----END PGP PUBLIC KEY BLOCK-----',
      '',
    ].join('\n');
    const oneLine = makeMachine({
      installed: OLD_MESA,
      apt: { 'sources.list': '# the release\ndeb [arch=amd64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://list.test.invalid/debian bookworm main contrib # mirror\n' },
    });
    expect(runSetup(oneLine).status).toBe(0);
    const fromList = readFileSync(join(oneLine.aptRoot, BACKPORTS_FILE), 'utf8');
    expect(fromList).toContain('\nURIs: http://list.test.invalid/debian\n');
    expect(fromList).toContain('\nArchitectures: amd64\n');
    expect(fromList).toContain('\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n');
    expect(fromList).toContain('\nSuites: bookworm-backports\n');

    const inline = makeMachine({ installed: OLD_MESA, apt: { 'sources.list.d/debian.sources': inlineKey } });
    expect(runSetup(inline).status).toBe(0);
    const fromInline = readFileSync(join(inline.aptRoot, BACKPORTS_FILE), 'utf8');
    expect(fromInline).toContain('\nURIs: http://inline.test.invalid/debian/\n');
    expect(fromInline).toContain('\nSigned-By:\n -----BEGIN PGP PUBLIC KEY BLOCK-----\n .\n mQINBGPL0BUBEADmW5NdOOHwPIJlgPu6JDcKw/NZJPR8lsD9K7UxXkU\n -----END PGP PUBLIC KEY BLOCK-----\n');
    expect(fromInline).toContain('\nComponents: main\n');
  });

  it('reuses configured backports', () => {
    const machine = makeMachine({
      installed: OLD_MESA,
      apt: {
        'sources.list': 'deb http://list.test.invalid/debian bookworm main\ndeb http://list.test.invalid/debian bookworm-backports main\n',
      },
    });
    const run = runSetup(machine);
    expect(run.status).toBe(0);
    expect(run.stdout).toContain('[setup] bookworm-backports is already configured');
    expect(existsSync(join(machine.aptRoot, BACKPORTS_FILE))).toBe(false);
    expect(readLog(machine, 'apt.log')).toContain('-t bookworm-backports mesa-vulkan-drivers');
  });

  it('ignores disabled backports', () => {
    const disabled = 'Types: deb\nURIs: http://old.test.invalid/debian\nSuites: bookworm-backports\nComponents: main\nEnabled: no\n';
    const machine = makeMachine({
      installed: OLD_MESA,
      apt: { 'sources.list.d/debian.sources': DEBIAN_SOURCES, 'sources.list.d/old.sources': disabled },
    });
    expect(runSetup(machine).status).toBe(0);
    expect(readFileSync(join(machine.aptRoot, BACKPORTS_FILE), 'utf8')).toContain('\nURIs: http://mirror.test.invalid/debian\n');
  });

  it('fails without a Debian source', () => {
    const machine = makeMachine({
      installed: OLD_MESA,
      apt: { 'sources.list.d/security.sources': DEBIAN_SOURCES.split('\n\n')[1] },
    });
    const run = runSetup(machine);
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('no Debian source for bookworm (component main)');
    expect(existsSync(join(machine.aptRoot, BACKPORTS_FILE))).toBe(false);
  });

  it('installs a new enough release Mesa', () => {
    const machine = makeMachine({
      installed: { ...INSTALLED, 'mesa-vulkan-drivers': '22.3.6-1+deb12u2' },
      archive: { release: { 'mesa-vulkan-drivers': '1:24.2.8-1' } },
    });
    const run = runSetup(machine);
    expect(run.status).toBe(0);
    expect(run.stdout).toContain('[setup] apt-get install mesa-vulkan-drivers 1:24.2.8-1');
    expect(existsSync(join(machine.aptRoot, BACKPORTS_FILE))).toBe(false);
  });

  it('fails when backports has old Mesa', () => {
    const machine = makeMachine({
      installed: OLD_MESA,
      archive: { release: FULL_ARCHIVE.release, 'bookworm-backports': { 'mesa-vulkan-drivers': '23.1.0-1~bpo12+1' } },
    });
    const run = runSetup(machine);
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('mesa-vulkan-drivers is 23.1.0-1~bpo12+1 after installing; Dawn needs 24 or newer');
  });
});
