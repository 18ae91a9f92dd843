// install.sh into a staging root (--root DIR --no-start), as an ops engineer would run it on a
// host: fresh install, an idempotent second run, edited configuration kept, upgrade and rollback,
// uninstall and purge, refusals with clear errors. The installed unit must pass
// `systemd-analyze verify` and rate 2.0 or lower in `systemd-analyze security`.
import { beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test';
import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO, scratchTempDirs } from '../support/processes.ts';
import { buildArtifacts } from '../support/build.ts';

setDefaultTimeout(120_000);

const ARN = 'arn:aws:sagemaker:us-east-1:123456789012:mlflow-tracking-server/demo';
const HASH = 'c'.repeat(64);
const NAME = 'sagemaker-mlflow-proxy';
const ENV_ARGS = ['--env', `MLFLOW_ARN=${ARN}`, '--env', `PROXY_API_KEY_SHA256=${HASH}`];

// Every staging root holds a ~110 MB executable or two: removed when the file's tests end.
const tempDir = scratchTempDirs();

let executable: string;
let upgrade: string;

/** install.sh from a copy of the install kit (install.sh, rules.yaml, systemd/), so a test can change "the shipped files". */
function kit(): string {
  const dir = tempDir('kit');
  cpSync(join(REPO, 'install.sh'), join(dir, 'install.sh'));
  cpSync(join(REPO, 'rules.yaml'), join(dir, 'rules.yaml'));
  cpSync(join(REPO, 'systemd'), join(dir, 'systemd'), { recursive: true });
  return dir;
}

function install(kitDir: string, args: string[], env: Record<string, string> = {}) {
  const run = spawnSync('bash', [join(kitDir, 'install.sh'), ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 60_000 });
  return { code: run.status, out: `${run.stdout}${run.stderr}` };
}

function staged(root: string, path: string): string {
  return join(root, path);
}

const BIN = `/usr/local/bin/${NAME}`;
const RULES = `/etc/${NAME}/rules.yaml`;
const ENVFILE = `/etc/${NAME}/environment`;
const UNIT = `/etc/systemd/system/${NAME}.service`;

beforeAll(() => {
  executable = buildArtifacts().executable;
  const upgradeDir = tempDir('upgrade-build');
  const built = spawnSync('bash', [join(REPO, 'scripts/build.sh')], {
    cwd: REPO,
    encoding: 'utf8',
    env: { ...process.env, OUT_DIR: upgradeDir, BUILD_COMMIT: 'upgrade-test' },
  });
  if (built.status !== 0) throw new Error(built.stderr);
  upgrade = join(upgradeDir, NAME);
});

describe('install.sh', () => {
  test('is shellcheck-clean (so are the build and tool scripts)', () => {
    const run = spawnSync('shellcheck', ['-x', 'install.sh', 'scripts/build.sh', 'scripts/setup-tools.sh'], { cwd: REPO, encoding: 'utf8' });
    expect(run.error).toBeUndefined();
    expect(run.stdout + run.stderr).toBe('');
    expect(run.status).toBe(0);
  });

  test('fresh install lays out binary, rules, environment and unit, and validates the rules', () => {
    const root = tempDir('root');
    const { code, out } = install(kit(), ['--root', root, '--no-start', '--binary', executable, ...ENV_ARGS]);
    expect(out).toContain('rules.yaml: OK');
    expect(code).toBe(0);
    expect(statSync(staged(root, BIN)).mode & 0o777).toBe(0o755);
    expect(statSync(staged(root, RULES)).mode & 0o777).toBe(0o644);
    expect(statSync(staged(root, ENVFILE)).mode & 0o777).toBe(0o600);
    expect(readFileSync(staged(root, ENVFILE), 'utf8')).toContain(`MLFLOW_ARN=${ARN}\n`);
    expect(readFileSync(staged(root, UNIT), 'utf8')).toBe(readFileSync(join(REPO, 'systemd', `${NAME}.service`), 'utf8'));
    const version = spawnSync(staged(root, BIN), ['version'], { encoding: 'utf8' });
    expect(version.stdout).toMatch(/^sagemaker-mlflow-proxy \d+\.\d+\.\d+ \(commit [0-9a-f]{12}(-dirty)?\)\n$/);
  });

  test('a second run changes nothing and writes no .new files', () => {
    const root = tempDir('root');
    const dir = kit();
    expect(install(dir, ['--root', root, '--no-start', '--binary', executable, ...ENV_ARGS]).code).toBe(0);
    const before = [BIN, RULES, ENVFILE, UNIT].map((p) => statSync(staged(root, p)).mtimeMs);
    const again = install(dir, ['--root', root, '--no-start', '--binary', executable]);
    expect(again.code).toBe(0);
    expect(again.out).toContain('is already sagemaker-mlflow-proxy');
    expect([BIN, RULES, ENVFILE, UNIT].map((p) => statSync(staged(root, p)).mtimeMs)).toEqual(before);
    expect(existsSync(staged(root, `${RULES}.new`)) || existsSync(staged(root, `${ENVFILE}.new`))).toBe(false);
    expect(existsSync(staged(root, `${BIN}.previous`))).toBe(false);
  });

  test('an edited rules.yaml is kept; a changed shipped version goes beside it as .new; an unedited one is updated', () => {
    const root = tempDir('root');
    const dir = kit();
    expect(install(dir, ['--root', root, '--no-start', '--binary', executable, ...ENV_ARGS]).code).toBe(0);
    // A new release ships a different rules.yaml.
    writeFileSync(join(dir, 'rules.yaml'), readFileSync(join(dir, 'rules.yaml'), 'utf8').replace('maxPathLength: 2048', 'maxPathLength: 4096'));

    // Not edited by the operator: updated in place.
    const untouched = install(dir, ['--root', root, '--no-start', '--binary', executable]);
    expect(untouched.code).toBe(0);
    expect(untouched.out).toContain('updated');
    expect(readFileSync(staged(root, RULES), 'utf8')).toContain('maxPathLength: 4096');

    // Edited by the operator, and a newer release again: the edit stays, the release goes to .new.
    const edited = readFileSync(staged(root, RULES), 'utf8').replace('timeoutSeconds: 120', 'timeoutSeconds: 90');
    writeFileSync(staged(root, RULES), edited);
    writeFileSync(join(dir, 'rules.yaml'), readFileSync(join(dir, 'rules.yaml'), 'utf8').replace('maxPathLength: 4096', 'maxPathLength: 8192'));
    const run = install(dir, ['--root', root, '--no-start', '--binary', executable]);
    expect(run.code).toBe(0);
    expect(run.out).toContain(`kept your edited ${staged(root, RULES)}`);
    expect(readFileSync(staged(root, RULES), 'utf8')).toBe(edited);
    expect(readFileSync(staged(root, `${RULES}.new`), 'utf8')).toContain('maxPathLength: 8192');
  });

  test('--upgrade swaps the binary and keeps the previous one; --rollback brings it back (twice undoes it)', () => {
    const root = tempDir('root');
    const dir = kit();
    const versionOf = (path: string) => spawnSync(staged(root, path), ['version'], { encoding: 'utf8' }).stdout.trim();
    expect(install(dir, ['--upgrade', '--root', root, '--no-start', '--binary', upgrade]).out).toContain('nothing installed');
    expect(install(dir, ['--root', root, '--no-start', '--binary', executable, ...ENV_ARGS]).code).toBe(0);
    const original = versionOf(BIN);

    const upgraded = install(dir, ['--upgrade', '--root', root, '--no-start', '--binary', upgrade]);
    expect(upgraded.code).toBe(0);
    expect(versionOf(BIN)).toContain('(commit upgrade-test)');
    expect(versionOf(`${BIN}.previous`)).toBe(original);
    expect(existsSync(staged(root, `${BIN}.new`))).toBe(false);

    expect(install(dir, ['--rollback', '--root', root, '--no-start']).code).toBe(0);
    expect(versionOf(BIN)).toBe(original);
    expect(versionOf(`${BIN}.previous`)).toContain('(commit upgrade-test)');
    expect(install(dir, ['--rollback', '--root', root, '--no-start']).code).toBe(0);
    expect(versionOf(BIN)).toContain('(commit upgrade-test)');
  });

  test('--upgrade whose rules check fails keeps the installed release: the executable, rules.yaml and .previous are as before', () => {
    const root = tempDir('root');
    const dir = kit();
    const versionOf = (path: string) => spawnSync(staged(root, path), ['version'], { encoding: 'utf8' }).stdout.trim();
    expect(install(dir, ['--root', root, '--no-start', '--binary', executable, ...ENV_ARGS]).code).toBe(0);
    const original = versionOf(BIN);
    const rulesBefore = readFileSync(staged(root, RULES), 'utf8');
    // The new release ships rules that need a variable this host's environment file does not set.
    writeFileSync(join(dir, 'rules.yaml'), rulesBefore.replace('maxPathLength: 2048', 'maxPathLength: ${NEW_RELEASE_PATH_LIMIT}'));

    const failed = install(dir, ['--upgrade', '--root', root, '--no-start', '--binary', upgrade]);
    expect(failed.code).toBe(1);
    expect(failed.out).toContain('environment variable NEW_RELEASE_PATH_LIMIT is not set');
    expect(failed.out).toContain('the installed release was kept');
    expect(versionOf(BIN)).toBe(original);
    expect(existsSync(staged(root, `${BIN}.previous`))).toBe(false);
    expect(existsSync(staged(root, `${BIN}.new`))).toBe(false);
    expect(readFileSync(staged(root, RULES), 'utf8')).toBe(rulesBefore);
    // The shipped copy is the one in force too, so the next run still knows the file was not edited.
    expect(install(dir, ['--upgrade', '--root', root, '--no-start', '--binary', upgrade, '--dry-run']).out).toContain(`would update ${staged(root, RULES)}`);
  });

  test('the environment file is read as systemd reads it: no command substitution, spaces and quotes as systemd.exec(5) says', () => {
    const root = tempDir('root');
    const marker = join(tempDir('marker'), 'ran');
    const { code, out } = install(kit(), [
      '--root', root, '--no-start', '--binary', executable,
      '--env', `MLFLOW_ARN="${ARN}"`, '--env', `PROXY_API_KEY_SHA256='${HASH}'`,
      '--env', `OPERATOR_NOTE=$(touch ${marker})`, '--env', 'OPERATOR_TEAM=data platform',
    ]);
    expect(out).toContain('rules.yaml: OK');
    expect(code).toBe(0);
    expect(existsSync(marker)).toBe(false);
    expect(readFileSync(staged(root, ENVFILE), 'utf8')).toContain(`OPERATOR_NOTE=$(touch ${marker})\n`);
  });

  test('--uninstall removes what it installed and keeps the configuration; --purge removes that too', () => {
    const root = tempDir('root');
    const dir = kit();
    expect(install(dir, ['--root', root, '--no-start', '--binary', executable, ...ENV_ARGS]).code).toBe(0);
    const removed = install(dir, ['--uninstall', '--root', root, '--no-start']);
    expect(removed.code).toBe(0);
    for (const path of [BIN, UNIT, `/usr/local/share/${NAME}`]) expect(existsSync(staged(root, path))).toBe(false);
    for (const path of [RULES, ENVFILE]) expect(existsSync(staged(root, path))).toBe(true);
    expect(install(dir, ['--uninstall', '--purge', '--root', root, '--no-start']).code).toBe(0);
    expect(existsSync(staged(root, `/etc/${NAME}`))).toBe(false);
  });

  test('rules that do not validate stop the install before any (re)start, with the problems shown', () => {
    const root = tempDir('root');
    const { code, out } = install(kit(), ['--root', root, '--no-start', '--binary', executable]);
    expect(code).toBe(1);
    expect(out).toContain('environment variable PROXY_API_KEY_SHA256 is not set');
    expect(out).toContain('the service was not (re)started');
  });

  test('an empty --env value (an unset variable) is refused before anything is written; so is a setting without "="', () => {
    for (const setting of ['PROXY_API_KEY_SHA256=', 'PROXY_API_KEY_SHA256=""', "PROXY_API_KEY_SHA256=''", 'PROXY_API_KEY_SHA256=  ', 'PROXY_API_KEY_SHA256']) {
      const root = tempDir('root');
      const { code, out } = install(kit(), ['--root', root, '--no-start', '--binary', executable, '--env', `MLFLOW_ARN=${ARN}`, '--env', setting]);
      expect({ setting, code, said: out.includes(`--env ${setting}`) }).toEqual({ setting, code: 1, said: true });
      expect({ setting, written: existsSync(staged(root, '/etc')) || existsSync(staged(root, '/usr')) }).toEqual({ setting, written: false });
    }
  });

  test('a run that fails keeps no file of its own: a fresh install whose rules do not validate leaves nothing, and the rerun with the right value takes it', () => {
    const root = tempDir('root');
    const dir = kit();
    // A key hash that is not a SHA-256 (a typo): the check refuses it.
    const failed = install(dir, ['--root', root, '--no-start', '--binary', executable, '--env', `MLFLOW_ARN=${ARN}`, '--env', 'PROXY_API_KEY_SHA256=c0ffee']);
    expect(failed.code).toBe(1);
    expect(failed.out).toContain('the service was not (re)started');
    for (const path of [RULES, ENVFILE, BIN, UNIT, `/usr/local/share/${NAME}`, `/etc/${NAME}`]) expect({ path, kept: existsSync(staged(root, path)) }).toEqual({ path, kept: false });

    const rerun = install(dir, ['--root', root, '--no-start', '--binary', executable, ...ENV_ARGS]);
    expect(rerun.out).not.toContain('--env ignored');
    expect(rerun.code).toBe(0);
    expect(readFileSync(staged(root, ENVFILE), 'utf8')).toContain(`PROXY_API_KEY_SHA256=${HASH}\n`);
  });

  test('the shipped environment file does not trust X-Forwarded-For (the address could be spoofed on a host reachable other than through the ALB); its comment says when to turn it on', () => {
    const root = tempDir('root');
    expect(install(kit(), ['--root', root, '--no-start', '--binary', executable, ...ENV_ARGS]).code).toBe(0);
    const environment = readFileSync(staged(root, ENVFILE), 'utf8');
    expect(environment.match(/^TRUST_FORWARDED_FOR=.*$/gm)).toEqual(['TRUST_FORWARDED_FOR=false']);
    const comment = /((?:^#.*\n)+)TRUST_FORWARDED_FOR=/m.exec(environment)?.[1] ?? '';
    expect(comment).toMatch(/only way in/);
    expect(comment).toContain('true');
  });

  test('--dry-run prints the steps and changes nothing', () => {
    const root = tempDir('root');
    const { code, out } = install(kit(), ['--dry-run', '--root', root, '--no-start', '--binary', executable, ...ENV_ARGS]);
    expect(code).toBe(0);
    expect(out).toContain(`+ install -D -m 0755 ${executable} ${staged(root, BIN)}.new`);
    expect(out).toContain(`+ ${executable} check --rules ${staged(root, RULES)}`); // the new executable checks before it is swapped in
    expect(existsSync(staged(root, '/usr'))).toBe(false);
    expect(existsSync(staged(root, '/etc'))).toBe(false);
  });

  test('--dry-run says only what it would do: no "created", "installed", "removed"... for what it did not do, in every mode', () => {
    const root = tempDir('root');
    const dir = kit();
    // What a real run reports as done; a dry run must say "would ..." instead.
    const done = /^install\.sh: (created|installed|updated|kept your edited|kept the current executable|rolled back|removed|uninstalled)\b/m;
    const tree = () => spawnSync('bash', ['-c', 'cd "$1" && find . -printf "%p %s %T@\\n" | sort', '-', root], { encoding: 'utf8' }).stdout;

    const fresh = install(dir, ['--dry-run', '--root', root, '--no-start', '--binary', executable, ...ENV_ARGS]);
    expect({ code: fresh.code, done: done.exec(fresh.out)?.[0] ?? null }).toEqual({ code: 0, done: null });
    expect(fresh.out).toContain(`install.sh: would create ${staged(root, RULES)}`);
    expect(fresh.out).toContain(`install.sh: would install ${staged(root, BIN)}`);

    // Installed, then upgraded (so there is a previous executable to roll back to), then a release
    // with other shipped rules: each dry run below has something to say.
    expect(install(dir, ['--root', root, '--no-start', '--binary', executable, ...ENV_ARGS]).code).toBe(0);
    expect(install(dir, ['--upgrade', '--root', root, '--no-start', '--binary', upgrade]).code).toBe(0);
    writeFileSync(join(dir, 'rules.yaml'), readFileSync(join(dir, 'rules.yaml'), 'utf8').replace('maxPathLength: 2048', 'maxPathLength: 4096'));
    const before = tree();
    const said: Record<string, string> = {};
    for (const args of [['--upgrade', '--binary', executable], ['--rollback'], ['--uninstall', '--purge']]) {
      const run = install(dir, ['--dry-run', '--root', root, '--no-start', ...args]);
      expect({ args, code: run.code, done: done.exec(run.out)?.[0] ?? null }).toEqual({ args, code: 0, done: null });
      expect(tree()).toBe(before);
      said[args[0]!] = run.out;
    }
    expect(said['--upgrade']).toContain(`install.sh: would update ${staged(root, RULES)} to the shipped version`);
    expect(said['--upgrade']).toContain(`install.sh: would keep the current executable as ${staged(root, BIN)}.previous`);
    expect(said['--upgrade']).toContain(`install.sh: would install ${staged(root, BIN)}: sagemaker-mlflow-proxy`);
    expect(said['--rollback']).toMatch(/install\.sh: would roll back to sagemaker-mlflow-proxy \S+ \(commit (?!upgrade-test)/);
    expect(said['--uninstall']).toContain(`install.sh: would remove ${staged(root, `/etc/${NAME}`)}`);
  });

  test('missing prerequisites are clear errors with a non-zero exit', () => {
    const dir = kit();
    const arch = install(dir, ['--root', tempDir('root'), '--no-start', '--binary', executable], { INSTALL_ARCH: 'armv7l' });
    expect(arch.code).toBe(1);
    expect(arch.out).toContain('unsupported architecture armv7l');
    const noBinary = install(dir, ['--root', tempDir('root'), '--no-start', '--binary', '/nonexistent/proxy']);
    expect(noBinary.code).toBe(1);
    expect(noBinary.out).toContain('no executable at /nonexistent/proxy');
    if (!existsSync('/run/systemd/system')) {
      const noSystemd = install(dir, ['--binary', executable]);
      expect(noSystemd.code).toBe(1);
      expect(noSystemd.out).toContain('systemd is not running');
    }
    if (process.getuid?.() === 0 && existsSync('/usr/bin/setpriv')) {
      chmodSync(dir, 0o755); // a temp dir is private to root; the unprivileged user must read install.sh
      const run = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'bash', join(dir, 'install.sh'), '--no-start'], { encoding: 'utf8' });
      expect(run.status).toBe(1);
      expect(run.stderr).toContain('must run as root');
    }
  });
});

describe('the installed systemd unit', () => {
  let root: string;
  beforeAll(() => {
    root = tempDir('root');
    expect(install(kit(), ['--root', root, '--no-start', '--binary', executable, ...ENV_ARGS]).code).toBe(0);
    // Offline verification resolves the unit's dependencies (sysinit.target, ...) inside --root:
    // give the staging root the system's own unit directory.
    for (const dir of ['/usr/lib/systemd/system', '/lib/systemd/system']) {
      if (existsSync(dir)) {
        mkdirSync(join(root, dir), { recursive: true });
        cpSync(dir, join(root, dir), { recursive: true, dereference: false, verbatimSymlinks: true });
        break;
      }
    }
  });

  test('passes systemd-analyze verify (its commands exist in the installed tree)', () => {
    const run = spawnSync('systemd-analyze', ['verify', `--root=${root}`, `${NAME}.service`], { encoding: 'utf8' });
    expect(run.error).toBeUndefined();
    expect(run.stdout + run.stderr).toBe('');
    expect(run.status).toBe(0);
  });

  test('is rated 2.0 or lower by systemd-analyze security --offline=true', () => {
    const run = spawnSync('systemd-analyze', ['security', '--offline=true', '--threshold=20', '--no-pager', staged(root, UNIT)], { encoding: 'utf8' });
    const match = /Overall exposure level for .*: (\d+\.\d+)/.exec(run.stdout);
    expect(match).not.toBeNull();
    expect(Number(match![1])).toBeLessThanOrEqual(2.0);
    expect(run.status).toBe(0);
  });

  test('sends stdout to the journal with the priority prefix on, as the gateway writes it (observability/journal.ts)', () => {
    const unit = readFileSync(staged(root, UNIT), 'utf8');
    expect(unit).toContain('StandardOutput=journal');
    expect(unit).toContain('SyslogLevelPrefix=yes');
  });

  test('reloads with check then SIGHUP, starts only after check, and stops after the drain', () => {
    const unit = readFileSync(staged(root, UNIT), 'utf8');
    expect(unit).toContain(`ExecStartPre=/usr/local/bin/${NAME} check --rules /etc/${NAME}/rules.yaml`);
    expect(unit).toContain('ExecReload=/bin/kill -HUP $MAINPID');
    expect(unit).toContain('Restart=on-failure');
    expect(unit).toContain(`EnvironmentFile=/etc/${NAME}/environment`);
    const stopSeconds = Number(/TimeoutStopSec=(\d+)s/.exec(unit)![1]);
    const shipped = readFileSync(join(REPO, 'rules.yaml'), 'utf8');
    const drain = Number(/drainSeconds: (\d+)/.exec(shipped)![1]) + Number(/finishSeconds: (\d+)/.exec(shipped)![1]);
    expect(stopSeconds).toBeGreaterThan(drain);
  });
});
