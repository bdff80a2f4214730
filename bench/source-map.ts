/**
 * Positions in the agent's bundle (dist/praxis-agent.js) back to the modules they came from,
 * through the bundle's source map, so that a profile of the bundled agent still says which file
 * and package the time went to. Only what profile-top needs: a "mappings" decoder and a lookup.
 */
import fs from 'node:fs';
import path from 'node:path';

interface RawSourceMap {
  sources: string[];
  sourceRoot?: string;
  mappings: string;
}

/** One mapped segment of a generated line: its column, and the original source, line and column (0-based). */
type Segment = [column: number, source: number, line: number, sourceColumn: number];

export interface OriginalPosition {
  /** Absolute path of the original file. */
  file: string;
  /** 0-based. */
  line: number;
}

const BASE64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const DIGIT = new Map([...BASE64].map((c, i) => [c, i]));

/** The base64 VLQ numbers of one segment ("AAgBC" → [0, 0, 16, 1]). */
export function decodeVlq(text: string): number[] {
  const values: number[] = [];
  let value = 0;
  let shift = 0;
  for (const char of text) {
    const digit = DIGIT.get(char);
    if (digit === undefined) throw new Error(`not a base64 VLQ digit: ${char}`);
    value += (digit & 31) * 2 ** shift;
    if (digit & 32) {
      shift += 5;
      continue;
    }
    values.push(value & 1 ? -Math.floor(value / 2) : Math.floor(value / 2));
    value = 0;
    shift = 0;
  }
  return values;
}

/** A source map's segments per generated line; the source, line and column fields are deltas across the whole map. */
export function decodeMappings(mappings: string): Segment[][] {
  const lines: Segment[][] = [];
  let source = 0;
  let line = 0;
  let sourceColumn = 0;
  for (const text of mappings.split(';')) {
    const segments: Segment[] = [];
    let column = 0;
    for (const part of text.split(',')) {
      if (!part) continue;
      const [dColumn = 0, dSource, dLine, dSourceColumn] = decodeVlq(part);
      column += dColumn;
      if (dSource === undefined) continue; // a segment that maps to no source
      source += dSource;
      line += dLine ?? 0;
      sourceColumn += dSourceColumn ?? 0;
      segments.push([column, source, line, sourceColumn]);
    }
    lines.push(segments);
  }
  return lines;
}

export class SourceMap {
  private readonly lines: Segment[][];
  private readonly sources: string[];

  constructor(raw: RawSourceMap, mapDir: string) {
    this.lines = decodeMappings(raw.mappings);
    this.sources = raw.sources.map((s) => path.resolve(mapDir, raw.sourceRoot ?? '', s));
  }

  /** The number of original files (a bundle has many, tsc's one-file maps one). */
  get sourceCount(): number {
    return this.sources.length;
  }

  /** Where the generated (0-based) line and column came from: the last segment at or before the column. */
  originalPosition(line: number, column: number): OriginalPosition | undefined {
    const segments = this.lines[line];
    if (!segments?.length) return undefined;
    let lo = 0;
    let hi = segments.length - 1;
    if (segments[0]![0] > column) return undefined;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (segments[mid]![0] <= column) lo = mid;
      else hi = mid - 1;
    }
    const [, source, originalLine] = segments[lo]!;
    const file = this.sources[source];
    return file === undefined ? undefined : { file, line: originalLine };
  }
}

const loaded = new Map<string, SourceMap | undefined>();

/** The source map of a bundle (`<file>.map`, with more than one source), read once; undefined for any other file. */
export function bundleSourceMap(file: string): SourceMap | undefined {
  if (loaded.has(file)) return loaded.get(file);
  let map: SourceMap | undefined;
  try {
    const raw = JSON.parse(fs.readFileSync(`${file}.map`, 'utf8')) as RawSourceMap;
    map = new SourceMap(raw, path.dirname(file));
    if (map.sourceCount < 2) map = undefined;
  } catch {
    map = undefined;
  }
  loaded.set(file, map);
  return map;
}
