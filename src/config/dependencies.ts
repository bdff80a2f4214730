import type { KeyPath } from './positions';

/** `from` must start after `to`. `site` is where the dependency is declared, for error positions. */
export interface DependencyEdge {
  from: number;
  to: number;
  site: KeyPath;
}

export interface DependencyCycle {
  /** Node ids around the cycle, starting with its earliest-declared member (not repeated at the end). */
  nodes: number[];
  /** Where the first edge of the cycle is declared. */
  site: KeyPath;
}

/**
 * Start order: entries in declared order, each preceded by whatever it depends on (recursively,
 * also in declared order). So only dependencies move, and only as far forward as needed. Node ids
 * are plugin entry indices ("smaller" = "declared earlier"). The graph must be acyclic
 * ({@link findCycles} first).
 */
export function startOrder(nodes: readonly number[], edges: readonly DependencyEdge[]): number[] {
  const dependencies = new Map<number, number[]>(nodes.map((n) => [n, []]));
  for (const e of edges) if (e.from !== e.to) dependencies.get(e.from)?.push(e.to);
  const placed = new Set<number>();
  const order: number[] = [];
  const place = (n: number): void => {
    if (placed.has(n)) return;
    placed.add(n);
    for (const d of [...new Set(dependencies.get(n))].sort((a, b) => a - b)) place(d);
    order.push(n);
  };
  for (const n of [...nodes].sort((a, b) => a - b)) place(n);
  return order;
}

/** One cycle per strongly connected component that has one (Tarjan's algorithm), earliest first. */
export function findCycles(nodes: readonly number[], edges: readonly DependencyEdge[]): DependencyCycle[] {
  const successors = new Map<number, DependencyEdge[]>(nodes.map((n) => [n, []]));
  for (const e of edges) successors.get(e.from)?.push(e);
  for (const list of successors.values()) list.sort((a, b) => a.to - b.to);

  const cycles: DependencyCycle[] = [];
  for (const component of stronglyConnected(nodes, successors)) {
    const start = Math.min(...component);
    const members = new Set(component);
    const cycle = shortestCycleThrough(start, members, successors);
    if (cycle) cycles.push(cycle);
  }
  return cycles.sort((a, b) => a.nodes[0] - b.nodes[0]);
}

function stronglyConnected(nodes: readonly number[], successors: Map<number, DependencyEdge[]>): number[][] {
  let counter = 0;
  const index = new Map<number, number>();
  const low = new Map<number, number>();
  const stack: number[] = [];
  const onStack = new Set<number>();
  const components: number[][] = [];

  const visit = (n: number): void => {
    index.set(n, counter);
    low.set(n, counter);
    counter += 1;
    stack.push(n);
    onStack.add(n);
    for (const { to } of successors.get(n) ?? []) {
      if (!index.has(to)) {
        visit(to);
        low.set(n, Math.min(low.get(n) as number, low.get(to) as number));
      } else if (onStack.has(to)) {
        low.set(n, Math.min(low.get(n) as number, index.get(to) as number));
      }
    }
    if (low.get(n) === index.get(n)) {
      const component: number[] = [];
      let m: number;
      do {
        m = stack.pop() as number;
        onStack.delete(m);
        component.push(m);
      } while (m !== n);
      components.push(component);
    }
  };
  for (const n of nodes) if (!index.has(n)) visit(n);
  return components;
}

/** Breadth-first from `start` inside its component until an edge leads back to `start`. */
function shortestCycleThrough(start: number, members: Set<number>, successors: Map<number, DependencyEdge[]>): DependencyCycle | undefined {
  const cameFrom = new Map<number, DependencyEdge>();
  const queue = [start];
  while (queue.length > 0) {
    const n = queue.shift() as number;
    for (const edge of successors.get(n) ?? []) {
      if (edge.to === start) return unwind(edge, cameFrom);
      if (members.has(edge.to) && !cameFrom.has(edge.to)) {
        cameFrom.set(edge.to, edge);
        queue.push(edge.to);
      }
    }
  }
  return undefined;
}

function unwind(closing: DependencyEdge, cameFrom: Map<number, DependencyEdge>): DependencyCycle {
  const path: DependencyEdge[] = [closing];
  for (let e = cameFrom.get(closing.from); e; e = cameFrom.get(e.from)) path.unshift(e);
  return { nodes: path.map((e) => e.from), site: path[0].site };
}
