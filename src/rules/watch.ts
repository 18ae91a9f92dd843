// Optional file watch for `serve --watch`: a change to the rules file triggers the same reload as
// SIGHUP. The directory is watched, not the file: editors and config tools (vim, Ansible's
// template module) replace the file by renaming a new one over it, which ends a watch on the old inode.
import { watch } from 'node:fs';
import { basename, dirname } from 'node:path';

/** Calls onChange once a burst of changes to `file` has been quiet for `quietMs`. Returns a stop function. */
export function watchRulesFile(file: string, onChange: () => void, quietMs = 300): () => void {
  const name = basename(file);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const watcher = watch(dirname(file), (_event, changed) => {
    if (changed !== null && changed.toString() !== name) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(onChange, quietMs);
  });
  return () => {
    if (timer) clearTimeout(timer);
    watcher.close();
  };
}
