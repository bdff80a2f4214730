import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import path from 'node:path';
import { ensureDir } from 'praxis-agent';

/** Where forwarding stands: every event up to `offset` is in the stream (or was not to be forwarded). */
export interface Position {
  offset: number;
  /** The event at `offset` when it was forwarded: tells whether the store still is the one the offset belongs to. */
  event_id: string | null;
}

/** The checkpoint file's content; `target` names the stream and subjects it is about. */
interface CheckpointFile extends Position {
  version: 1;
  target: string;
  updated_at: string;
}

/**
 * The last acknowledged position, in a small JSON file written atomically (temporary file, fsync,
 * rename): after a crash it holds either the previous or the new position, never a torn one. It
 * may lag behind the stream by the last write interval; the forwarder then learns the rest from the
 * stream itself (its last message from this agent).
 */
export class Checkpoint {
  constructor(
    readonly file: string,
    /** `<stream>/<subject prefix>/<agent_id>`: a checkpoint about another target is not this one's. */
    private readonly target: string,
  ) {}

  /** The saved position; undefined when there is none (or it is about another target). Throws when the file exists but cannot be read or parsed. */
  load(): Position | undefined {
    let text: string;
    try {
      text = readFileSync(this.file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
    const data = JSON.parse(text) as Partial<CheckpointFile>;
    if (data.version !== 1 || typeof data.offset !== 'number' || !Number.isSafeInteger(data.offset) || data.offset < 0) throw new Error(`${this.file} is not a forwarding checkpoint`);
    if (data.target !== this.target) return undefined;
    return { offset: data.offset, event_id: typeof data.event_id === 'string' ? data.event_id : null };
  }

  save(position: Position, now: Date): void {
    ensureDir(path.dirname(this.file));
    const body: CheckpointFile = { version: 1, target: this.target, offset: position.offset, event_id: position.event_id, updated_at: now.toISOString() };
    const tmp = `${this.file}.tmp`;
    const fd = openSync(tmp, 'w', 0o600);
    try {
      writeSync(fd, JSON.stringify(body));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.file);
  }
}
