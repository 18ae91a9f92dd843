// The release kit the hosts install from: the single-file executable (scripts/build.sh), install.sh,
// the rules file (as rules.yaml, where install.sh looks for it) and systemd/. One zip archive per
// content (kit-archive.ts: the same bytes for the same files), uploaded as one CDK file asset, so a
// new executable or a changed rules file is a new asset, a new launch template version and an
// instance refresh; and its SHA-256, known at synth, goes into the user data, which refuses any
// other archive (issue 20, item 3). The unpacked folder (stageKit) is what tests install from.
// Kits are named by their content's hash; kits older than an hour are removed.
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, closeSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO } from './gateway-rules.ts';
import { deflate, zipArchive } from './kit-archive.ts';

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

/** The kit's files: [name in the kit, source path], in the kit's (fixed) order. */
function kitFiles(binary: string, rulesFile: string): Array<[string, string]> {
  if (!existsSync(binary)) throw new Error(`no release at ${binary}: run \`npm run build\` in the repository first (or -c releaseBinary=PATH)`);
  if (!existsSync(rulesFile)) throw new Error(`no rules file at ${rulesFile} (-c rulesFile=PATH)`);
  return [
    [NAME, binary],
    ['install.sh', join(REPO, 'install.sh')],
    ['rules.yaml', rulesFile],
    ...readdirSync(join(REPO, 'systemd')).sort().map((f): [string, string] => [join('systemd', f), join(REPO, 'systemd', f)]),
  ];
}

function kitId(files: Array<[string, string]>): string {
  const hash = createHash('sha256');
  for (const [name, source] of files) hash.update(name).update('\0').update(readFileSync(source)).update('\0');
  return hash.digest('hex').slice(0, 16);
}

/** The kit unpacked, as the hosts have it after unzip (tests install from it). */
export function stageKit(binary: string, rulesFile: string): string {
  const files = kitFiles(binary, rulesFile);
  const id = kitId(files);
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
  removeOldKits(id);
  return dir;
}

export interface KitArchive {
  /** The zip file (the CDK asset's path). */
  file: string;
  /** Hex SHA-256 of its bytes: what the hosts check before unpacking. */
  sha256: string;
}

/** The kit as one zip archive, and its SHA-256. */
export function kitArchive(binary: string, rulesFile: string): KitArchive {
  const files = kitFiles(binary, rulesFile);
  const id = kitId(files);
  const file = join(KIT_ROOT, `${id}.zip`);
  if (!existsSync(file)) {
    mkdirSync(KIT_ROOT, { recursive: true });
    const entries = files.map(([name, source]) => ({ name, data: readFileSync(source), mode: name === NAME || name === 'install.sh' ? 0o755 : 0o644 }));
    const partial = `${file}.partial-${process.pid}`;
    writeFileSync(partial, zipArchive(entries, cachedDeflate));
    renameSync(partial, file);
  }
  removeOldKits(id);
  return { file, sha256: createHash('sha256').update(readFileSync(file)).digest('hex') };
}

// The executable's deflated bytes (~10 s of work) are kept by content: every rules file shares them.
const deflated = new Map<string, Buffer>();
function cachedDeflate(data: Buffer): Buffer {
  if (data.length < 1 << 20) return deflate(data);
  const key = createHash('sha256').update(data).digest('hex');
  const cached = deflated.get(key);
  if (cached) return cached;
  const onDisk = join(KIT_ROOT, `deflated-${key}`);
  let result: Buffer;
  if (existsSync(onDisk)) {
    result = readFileSync(onDisk);
    utimesSync(onDisk, new Date(), new Date()); // in use: not an old kit
  } else {
    result = deflate(data);
    writeFileSync(`${onDisk}.partial-${process.pid}`, result);
    renameSync(`${onDisk}.partial-${process.pid}`, onDisk);
  }
  deflated.set(key, result);
  return result;
}

/** Kits (folders, archives, deflated executables) of other content older than an hour are not needed again (cdk.out has its own copy). */
function removeOldKits(keep: string): void {
  for (const entry of readdirSync(KIT_ROOT)) {
    const path = join(KIT_ROOT, entry);
    if (entry.startsWith(keep) || entry.includes('.partial-')) continue;
    if (Date.now() - statSync(path).mtimeMs > 3_600_000) rmSync(path, { recursive: true, force: true });
  }
}
