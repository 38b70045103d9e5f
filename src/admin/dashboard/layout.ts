/**
 * A deterministic layered layout of the dashboard's graph (the Sugiyama
 * recipe, kept small): callers left, callees right. The same nodes and edges
 * give the same positions whatever order they come in, so the page does not
 * jump between polls and a screenshot of a mesh is reproducible.
 *   1. cycles broken by a depth-first walk in id order (a back edge is ignored for ranking);
 *   2. rank = longest path from a node without callers (column); then a node
 *      nothing points at moves right to just before its nearest successor (a
 *      split's root service sits next to its backends, not at the far left);
 *   3. order within a column by the mean position of a node's neighbours in
 *      the column before (barycentre), a few sweeps, ties by id;
 *   4. the gap after a column as wide as the widest label of an edge leaving it
 *      (`space`: a call's figures need room, a service selecting its pods none).
 */

export interface Placed {
  /** Top-left corner, in SVG user units. */
  x: number;
  y: number;
  /** Column (0: nothing calls it) and row within the column. */
  rank: number;
  row: number;
}

export const NODE = { width: 170, height: 56 } as const;

/** Code-point order: the same in every locale, and far cheaper than localeCompare on a poll of thousands of edges. */
export function byCodePoint(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
const GAP = { column: 56, row: 34, margin: 24 } as const;
const SWEEPS = 4;

export interface LayoutEdge {
  from: string;
  to: string;
  /** Room its label needs between the two columns (user units); none: the narrowest gap. */
  space?: number;
  /**
   * Draw `from` in `to`'s column, right above it, rather than a column to its
   * left (a service nothing calls, beside the one workload it selects): one
   * column fewer for each entry point of the mesh.
   */
  attach?: boolean;
}

export function layoutGraph(nodes: readonly { id: string }[], edges: readonly LayoutEdge[]): { at: Map<string, Placed>; width: number; height: number } {
  const ids = nodes.map((n) => n.id).toSorted();
  const known = new Set(ids);
  const out = new Map<string, string[]>(ids.map((id) => [id, []]));
  const incoming = new Map<string, number>(ids.map((id) => [id, 0]));
  const valid = edges.filter((e) => known.has(e.from) && known.has(e.to) && e.from !== e.to).toSorted((a, b) => byCodePoint(`${a.from} ${a.to}`, `${b.from} ${b.to}`));
  const sortedEdges = valid.filter((e) => !e.attach);
  const attachedTo = new Map<string, string>();
  for (const e of valid) if (e.attach && !attachedTo.has(e.from)) attachedTo.set(e.from, e.to);
  for (const e of sortedEdges) {
    out.get(e.from)!.push(e.to);
    incoming.set(e.to, incoming.get(e.to)! + 1);
  }

  // 1. Depth-first from the roots (nodes nothing points at), then anything left (cycles); postorder reversed is a topological order of the forward edges.
  const state = new Map<string, 'open' | 'done'>();
  const forward = new Map<string, string[]>(ids.map((id) => [id, []]));
  const post: string[] = [];
  const visit = (root: string) => {
    const stack: Array<{ id: string; next: number }> = [{ id: root, next: 0 }];
    state.set(root, 'open');
    while (stack.length > 0) {
      const top = stack.at(-1)!;
      const succ = out.get(top.id)!;
      if (top.next < succ.length) {
        const to = succ[top.next++]!;
        const s = state.get(to);
        if (s === 'open') continue; // a back edge: part of a cycle, not used for ranking
        forward.get(top.id)!.push(to);
        if (s === undefined) {
          state.set(to, 'open');
          stack.push({ id: to, next: 0 });
        }
        continue;
      }
      state.set(top.id, 'done');
      post.push(top.id);
      stack.pop();
    }
  };
  for (const id of ids) if (incoming.get(id) === 0 && !state.has(id)) visit(id);
  for (const id of ids) if (!state.has(id)) visit(id);

  // 2. Longest path over the forward edges.
  const rank = new Map<string, number>(ids.map((id) => [id, 0]));
  for (const id of post.toReversed()) for (const to of forward.get(id)!) rank.set(to, Math.max(rank.get(to)!, rank.get(id)! + 1));
  for (const id of ids) {
    const next = forward.get(id)!.map((to) => rank.get(to)!);
    if (incoming.get(id) === 0 && next.length > 0) rank.set(id, Math.max(rank.get(id)!, Math.min(...next) - 1));
  }
  for (const [from, to] of attachedTo) if (!attachedTo.has(to)) rank.set(from, rank.get(to)!);

  // 3. Columns, ordered by barycentre of the previous column's neighbours.
  const sparse: string[][] = [];
  for (const id of ids) (sparse[rank.get(id)!] ??= []).push(id);
  // Moving nodes right can empty a column: close the gap.
  const columns = sparse.filter((c) => c !== undefined);
  columns.forEach((col, r) => col.forEach((id) => rank.set(id, r)));
  const preds = new Map<string, string[]>(ids.map((id) => [id, []]));
  for (const [from, tos] of forward) for (const to of tos) preds.get(to)!.push(from);
  const row = new Map<string, number>();
  columns.forEach((col) => col.forEach((id, i) => row.set(id, i)));
  for (let sweep = 0; sweep < SWEEPS; sweep++) {
    for (const col of columns) {
      const bary = new Map<string, number>();
      for (const id of col) {
        if (attachedTo.has(id)) continue;
        const p = preds.get(id)!.map((q) => row.get(q)!);
        bary.set(id, p.length ? p.reduce((a, b) => a + b, 0) / p.length : row.get(id)!);
      }
      // An attached node goes right before the node it is attached to (its anchor).
      const anchorOf = (id: string) => (attachedTo.has(id) && bary.has(attachedTo.get(id)!) ? attachedTo.get(id)! : id);
      const order = col
        .map((id) => ({ id, anchor: anchorOf(id), b: bary.get(anchorOf(id)) ?? row.get(id)! }))
        .toSorted((a, b) => a.b - b.b || byCodePoint(a.anchor, b.anchor) || (a.id === a.anchor ? 1 : 0) - (b.id === b.anchor ? 1 : 0) || byCodePoint(a.id, b.id));
      order.forEach(({ id }, i) => {
        col[i] = id;
        row.set(id, i);
      });
    }
  }

  const tallest = Math.max(1, ...columns.map((c) => c.length));
  const columnHeight = (n: number) => n * NODE.height + (n - 1) * GAP.row;
  const height = GAP.margin * 2 + columnHeight(tallest);
  const gapAfter = columns.map((): number => GAP.column);
  for (const e of sortedEdges) {
    const r = rank.get(e.from)!;
    if (rank.get(e.to)! > r) gapAfter[r] = Math.max(gapAfter[r]!, e.space ?? 0);
  }
  const at = new Map<string, Placed>();
  let x = GAP.margin;
  columns.forEach((col, r) => {
    const top = GAP.margin + (columnHeight(tallest) - columnHeight(col.length)) / 2;
    col.forEach((id, i) => at.set(id, { x, y: top + i * (NODE.height + GAP.row), rank: r, row: i }));
    x += NODE.width + (r < columns.length - 1 ? gapAfter[r]! : 0);
  });
  return { at, width: x + GAP.margin, height };
}
