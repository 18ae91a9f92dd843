// Whether standard output is the systemd journal, so operational lines can carry their priority.
// journald files every line of a service's stdout at SyslogLevel= (info) unless the line starts
// with a kernel-style `<N>` prefix, which it then strips and uses as the priority (systemd.exec(5),
// SyslogLevelPrefix=, on by default): with it, `journalctl -p warning` finds warnings and errors,
// and `journalctl -o cat | jq` still sees plain JSON. Anywhere else (a terminal, a container's log
// driver, a test's pipe) the prefix would break the JSON, so it is written only when systemd says
// stdout is its stream: JOURNAL_STREAM holds the device and inode of that stream (systemd.exec(5),
// "Environment variables in spawned processes"), compared with stdout's own, since a child process
// whose stdout was redirected inherits the variable too.

export interface FileIdentity {
  dev: number | bigint;
  ino: number | bigint;
}

/** `JOURNAL_STREAM=DEV:INODE` names this stream (stdout, or stderr). Pure: the caller passes the variable and the stream's stat. */
export function isJournal(journalStream: string | undefined, stream: () => FileIdentity | undefined): boolean {
  const match = /^(\d+):(\d+)$/.exec(journalStream ?? '');
  if (!match) return false;
  let stat: FileIdentity | undefined;
  try {
    stat = stream();
  } catch {
    return false; // cannot tell: plain JSON is the safe default
  }
  return stat !== undefined && String(stat.dev) === match[1] && String(stat.ino) === match[2];
}

// syslog(3) priorities of the gateway's levels.
const PRIORITY = { debug: 7, info: 6, warn: 4, error: 3 } as const;

/** `<3>` for an error line and so on, when writing to the journal; '' otherwise. */
export function priorityPrefix(journal: boolean, level: keyof typeof PRIORITY): string {
  return journal ? `<${PRIORITY[level]}>` : '';
}
