// A zip archive written byte for byte the same for the same files, so its SHA-256 is known when the
// stack is synthesized and the hosts can refuse any other archive before unpacking it (issue 20,
// item 3). A directory asset would not do: cdk-assets zips a directory when it publishes it, after
// synth, so nothing in the template could name the bytes the hosts download.
//
// The format is PKWARE's APPNOTE.TXT (version 6.3.10): a local file header and the deflated data per
// entry, then the central directory and its end record. Fixed: the entries' order (as given), their
// time (1980-01-01 00:00, the earliest a zip can say), the deflate function (the caller's, so it can
// keep the executable's deflated bytes: ~10 s of work for 120 MB), "made by" Unix (3) so unzip
// restores the permission bits kept in the external attributes. No zip64: the kit is far below 4 GiB.
import { crc32, deflateRawSync } from 'node:zlib';

export interface ArchiveEntry {
  /** Path inside the archive, `/`-separated. */
  name: string;
  data: Buffer;
  /** Unix permission bits (0o755 for executables). */
  mode: number;
}

const DOS_DATE_1980_01_01 = (0 << 9) | (1 << 5) | 1;
const DEFLATE = 8;
const VERSION_NEEDED = 20; // 2.0: deflate
const MADE_BY_UNIX = (3 << 8) | VERSION_NEEDED;
const REGULAR_FILE = 0o100000;
const MAX_32 = 0xffffffff;

/** Raw deflate (RFC 1951) at zlib's default level: the same bytes for the same input and zlib. */
export const deflate = (data: Buffer): Buffer => deflateRawSync(data, { level: 6 });

export function zipArchive(entries: ReadonlyArray<ArchiveEntry>, deflateEntry: (data: Buffer) => Buffer = deflate): Buffer {
  const parts: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const entry of entries) {
    const name = Buffer.from(entry.name, 'utf8');
    const compressed = deflateEntry(entry.data);
    if (entry.data.length > MAX_32 || offset > MAX_32) throw new Error(`${entry.name}: too large for a zip without zip64`);
    const checksum = crc32(entry.data);

    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(VERSION_NEEDED, 4);
    local.writeUInt16LE(0x0800, 6); // bit 11: the name is UTF-8
    local.writeUInt16LE(DEFLATE, 8);
    local.writeUInt16LE(0, 10); // time 00:00:00
    local.writeUInt16LE(DOS_DATE_1980_01_01, 12);
    local.writeUInt32LE(checksum, 14);
    local.writeUInt32LE(compressed.length, 18);
    local.writeUInt32LE(entry.data.length, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(0, 28);

    const header = Buffer.alloc(46);
    header.writeUInt32LE(0x02014b50, 0);
    header.writeUInt16LE(MADE_BY_UNIX, 4);
    header.writeUInt16LE(VERSION_NEEDED, 6);
    header.writeUInt16LE(0x0800, 8);
    header.writeUInt16LE(DEFLATE, 10);
    header.writeUInt16LE(0, 12);
    header.writeUInt16LE(DOS_DATE_1980_01_01, 14);
    header.writeUInt32LE(checksum, 16);
    header.writeUInt32LE(compressed.length, 20);
    header.writeUInt32LE(entry.data.length, 24);
    header.writeUInt16LE(name.length, 28);
    // extra field length, comment length, disk number, internal attributes: 0
    header.writeUInt32LE(((REGULAR_FILE | (entry.mode & 0o777)) << 16) >>> 0, 38);
    header.writeUInt32LE(offset, 42);

    parts.push(local, name, compressed);
    central.push(header, name);
    offset += local.length + name.length + compressed.length;
  }
  const directory = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...parts, directory, end]);
}
