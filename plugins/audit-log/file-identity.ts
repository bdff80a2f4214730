import { stat } from 'node:fs/promises';
import type { FileBreakReason } from './record';

/** The identity of an open file: device and inode, as `fstat` gives them. */
export interface HeldFile {
  dev: number;
  ino: number;
}

/**
 * Whether `file` still leads to the file the writer holds: undefined when it does; `vanished`
 * when nothing is at the path (deleted or renamed away: appending would go to an unlinked inode),
 * `replaced` when another file is there (an editor's write-and-rename, a restore from backup),
 * `truncated` when it is the same file but shorter than the `written` bytes. One `stat` per call.
 * Other stat errors (permissions) are thrown: the writer treats them as a failed write.
 */
export async function checkHeldFile(file: string, held: HeldFile, written: number): Promise<FileBreakReason | undefined> {
  let now;
  try {
    now = await stat(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return 'vanished';
    throw error;
  }
  if (now.dev !== held.dev || now.ino !== held.ino) return 'replaced';
  if (now.size < written) return 'truncated';
  return undefined;
}
