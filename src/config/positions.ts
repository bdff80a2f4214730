import { isAlias, isMap, isScalar, isSeq, type Document, type LineCounter, type Node, type Pair, type YAMLMap } from 'yaml';

export type KeyPath = readonly PropertyKey[];

/** Where a problem should point, relative to the node found at its key path. */
export type Anchor =
  /** The key of the last path segment (an unknown key). */
  | 'key'
  /** The value at the path (a wrong value). */
  | 'value'
  /** The map that should contain the last path segment (a missing key). */
  | 'parent';

export interface Position {
  line: number;
  column: number;
}

interface Located {
  /** The deepest node reached. */
  node: Node | null;
  /** The key of the pair holding `node`, when `node` is a map value. */
  key: Node | null;
  /** How many path segments were found in the document. */
  depth: number;
}

/**
 * Maps key paths of the parsed document back to line/column positions in the source, so a
 * schema issue (which only knows `['plugins', 0, 'use']`) can point at the text to fix.
 */
export class SourcePositions {
  /** Each map's pairs by key text, built on first use: a lookup per problem stays O(1), not O(keys). */
  private readonly pairsOf = new WeakMap<YAMLMap, Map<string, Pair>>();

  constructor(
    private readonly doc: Document,
    private readonly lines: LineCounter,
  ) {}

  positionOf(path: KeyPath, anchor: Anchor): Position {
    if (anchor === 'parent') {
      // A missing key: point at the map that lacks it (or as close to it as the document goes).
      return this.toPosition(startOf(this.locate(path.slice(0, -1))));
    }
    const found = this.locate(path);
    if (anchor === 'key' && found.depth === path.length && found.key?.range) {
      return this.toPosition(found.key.range[0]);
    }
    return this.toPosition(startOf(found));
  }

  /** Follows `path` through maps and sequences as far as the document goes. */
  locate(path: KeyPath): Located {
    let node = this.resolve(this.doc.contents as Node | null);
    let key: Node | null = null;
    let depth = 0;
    for (const segment of path) {
      let next: Node | null | undefined;
      if (isMap(node)) {
        const pair = this.pairsByKey(node).get(String(segment));
        if (!pair) break;
        key = pair.key as Node | null;
        next = pair.value as Node | null;
      } else if (isSeq(node) && typeof segment === 'number' && segment < node.items.length) {
        key = null;
        next = node.items[segment] as Node | null;
      } else {
        break;
      }
      node = this.resolve(next ?? null);
      depth += 1;
    }
    return { node, key, depth };
  }

  private pairsByKey(map: YAMLMap): Map<string, Pair> {
    let pairs = this.pairsOf.get(map);
    if (!pairs) {
      pairs = new Map();
      for (const pair of map.items) {
        const text = keyText(pair.key);
        // The first of two equal keys, as a linear search would find (duplicates are reported apart).
        if (text !== undefined && !pairs.has(text)) pairs.set(text, pair);
      }
      this.pairsOf.set(map, pairs);
    }
    return pairs;
  }

  private resolve(node: Node | null): Node | null {
    // An alias points at the anchored node; positions are reported at the anchor's definition.
    return isAlias(node) ? ((node.resolve(this.doc) as Node | undefined) ?? node) : node;
  }

  private toPosition(offset: number): Position {
    const { line, col } = this.lines.linePos(offset);
    return { line, column: col };
  }
}

function keyText(key: unknown): string | undefined {
  if (isScalar(key)) return String(key.value);
  return typeof key === 'string' ? key : undefined;
}

/**
 * The offset to report for a located node. A key with nothing after it (`port:`) yields a
 * zero-length null scalar placed after the colon; the key itself is the more useful place.
 */
function startOf({ node, key }: Located): number {
  const emptyValue = !node || (isScalar(node) && node.value === null && node.range?.[0] === node.range?.[1]);
  if (emptyValue && key?.range) return key.range[0];
  return node?.range?.[0] ?? 0;
}
