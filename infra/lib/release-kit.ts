// The release kit the hosts install from: the single-file executable (scripts/build.sh), install.sh,
// the rules file (as rules.yaml, where install.sh looks for it) and systemd/. Staged as one folder
// that becomes one CDK asset (zipped and uploaded by `cdk deploy`), so a new executable or a
// changed rules file is a new asset hash, a new launch template version and an instance refresh.
// One staged kit per content (copies, so a later edit of a source cannot change a staged kit),
// named by its hash; kits older than an hour are removed.
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, closeSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { REPO } from './gateway-rules.ts';

export const KIT_ROOT = join(REPO, 'infra', '.kit');
const NAME = 'sagemaker-mlflow-proxy';

/** x86_64 or arm64, from the executable's ELF header (e_machine), so the stack picks a matching AMI. */
export function executableArchitecture(path: string): 'x86_64' | 'arm64' {
  const header = Buffer.alloc(20);
  const fd = openSync(path, 'r');
  try {
    readSync(fd, header, 0, 20, 0);
  } finally {
    closeSync(fd);
  }
  if (header.readUInt32BE(0) !== 0x7f454c46) throw new Error(`${path} is not a Linux executable (no ELF header): build it with \`npm run build\` on Linux`);
  const machine = header.readUInt16LE(18);
  if (machine === 0x3e) return 'x86_64';
  if (machine === 0xb7) return 'arm64';
  throw new Error(`${path}: unsupported ELF machine 0x${machine.toString(16)} (the hosts are x86_64 or arm64)`);
}

export function stageKit(binary: string, rulesFile: string): string {
  if (!existsSync(binary)) throw new Error(`no release at ${binary}: run \`npm run build\` in the repository first (or -c releaseBinary=PATH)`);
  if (!existsSync(rulesFile)) throw new Error(`no rules file at ${rulesFile} (-c rulesFile=PATH)`);
  const files: Array<[string, string]> = [
    [NAME, binary],
    ['install.sh', join(REPO, 'install.sh')],
    ['rules.yaml', rulesFile],
    ...readdirSync(join(REPO, 'systemd')).sort().map((f): [string, string] => [join('systemd', f), join(REPO, 'systemd', f)]),
  ];
  const hash = createHash('sha256');
  for (const [name, source] of files) hash.update(name).update('\0').update(readFileSync(source)).update('\0');
  const id = hash.digest('hex').slice(0, 16);
  const dir = join(KIT_ROOT, id);
  if (!existsSync(dir)) {
    const partial = `${dir}.partial-${process.pid}`;
    rmSync(partial, { recursive: true, force: true });
    for (const [name, source] of files) {
      const target = join(partial, name);
      mkdirSync(join(target, '..'), { recursive: true });
      copyFileSync(source, target);
    }
    renameSync(partial, dir);
  }
  // Older kits are not needed again (cdk.out has its own copy of what it synthesized).
  for (const entry of readdirSync(KIT_ROOT)) {
    const path = join(KIT_ROOT, entry);
    if (entry !== id && !entry.includes('.partial-') && statSync(path).isDirectory() && Date.now() - statSync(path).mtimeMs > 3_600_000) rmSync(path, { recursive: true, force: true });
  }
  return dir;
}
