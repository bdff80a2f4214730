import { isAlias, isMap, isPair, isScalar, isSeq, type Document, type Node } from 'yaml';

/**
 * Source offsets of every key that repeats an earlier key of the same map, in document order.
 * yaml's own `uniqueKeys` check compares each key with every earlier one (quadratic: a file of
 * 40,000 keys took a minute), so the loader parses with it off and asks this instead: one hash
 * lookup per key. Keys compare like yaml's check does (scalar values, so `1` and `"1"` differ);
 * the merge key `<<` may repeat, complex keys are not compared. Walks without recursion, so a
 * deeply nested file cannot overflow the stack.
 */
export function duplicateKeyOffsets(doc: Document): number[] {
  const offsets: number[] = [];
  const pending: unknown[] = [doc.contents];
  while (pending.length > 0) {
    const node = pending.pop() as Node | null | undefined;
    if (!node || isAlias(node)) continue;
    if (isMap(node)) {
      const seen = new Set<unknown>();
      for (const pair of node.items) {
        if (isScalar(pair.key) && pair.key.value !== '<<') {
          if (seen.has(pair.key.value) && pair.key.range) offsets.push(pair.key.range[0]);
          seen.add(pair.key.value);
        }
        pending.push(pair.value);
      }
    } else if (isSeq(node)) {
      // A flow sequence of single pairs (`[a: 1]`) holds pairs, not maps.
      for (const item of node.items) pending.push(isPair(item) ? item.value : item);
    }
  }
  return offsets.sort((a, b) => a - b);
}
