// Installs what a fresh Debian machine with only Node 20 lacks, before anything else runs.
// Plain Node (no dependencies): it runs before the npm packages are installed.
const { spawnSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const LOCK_STAMP = path.join(ROOT, 'node_modules', '.strongroom-lock.sha256');

function run(command, args, options = {}) {
  const result = spawnSync(command, args, { cwd: ROOT, stdio: 'inherit', ...options });
  if (result.error) throw result.error;
  return result.status ?? 1;
}

function lockDigest() {
  return crypto
    .createHash('sha256')
    .update(fs.readFileSync(path.join(ROOT, 'package-lock.json')))
    .digest('hex');
}

/** `npm install` (which follows the lockfile) when node_modules is missing or was installed from another lockfile. */
function ensureNpmPackages() {
  const wanted = lockDigest();
  const installed = fs.existsSync(LOCK_STAMP) ? fs.readFileSync(LOCK_STAMP, 'utf8').trim() : '';
  if (installed === wanted && fs.existsSync(path.join(ROOT, 'node_modules', '.bin', 'turbo'))) return;
  console.log('[strongroom] installing npm packages (npm install)...');
  if (run('npm', ['install', '--no-audit', '--no-fund']) !== 0) {
    console.error('[strongroom] npm install failed; see the output above.');
    process.exit(1);
  }
  fs.writeFileSync(LOCK_STAMP, `${wanted}\n`);
}

const NATS_CANDIDATES = ['/usr/sbin/nats-server', '/usr/bin/nats-server', '/usr/local/bin/nats-server'];

function findNatsServer() {
  if (process.env.NATS_SERVER_BIN)
    return fs.existsSync(process.env.NATS_SERVER_BIN) ? process.env.NATS_SERVER_BIN : null;
  for (const candidate of NATS_CANDIDATES) if (fs.existsSync(candidate)) return candidate;
  const which = spawnSync('sh', ['-c', 'command -v nats-server'], { encoding: 'utf8' });
  return which.status === 0 ? which.stdout.trim() : null;
}

/** The bus needs a nats-server binary: Debian's package, installed when we are root. */
function ensureNatsServer() {
  if (findNatsServer()) return;
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const hasApt = spawnSync('sh', ['-c', 'command -v apt-get'], { encoding: 'utf8' }).status === 0;
  if (isRoot && hasApt) {
    console.log('[strongroom] installing nats-server (apt-get install nats-server)...');
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    if (
      run('apt-get', ['update', '-qq'], { env }) === 0 &&
      run('apt-get', ['install', '-y', '-qq', 'nats-server'], { env }) === 0
    ) {
      if (findNatsServer()) return;
    }
  }
  console.error(
    [
      '[strongroom] nats-server is not installed.',
      '  On Debian/Ubuntu run:  sudo apt-get install nats-server',
      '  Elsewhere: install nats-server >= 2.9 and put it on PATH, or set NATS_SERVER_BIN=/path/to/nats-server.',
    ].join('\n'),
  );
  process.exit(1);
}

module.exports = { ROOT, run, ensureNpmPackages, ensureNatsServer, findNatsServer };
