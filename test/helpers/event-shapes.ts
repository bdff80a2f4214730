/** `diagnostic_data` that makes a system.error's `data` exactly `depth` levels deep (data = 1, diagnostic_data = 2, ...). */
export function nestedDiagnostics(depth: number): Record<string, unknown> {
  let inner: unknown[] = [];
  for (let level = 3; level < depth; level++) inner = [inner];
  return { nest: inner };
}

/** `diagnostic_data` that gives a system.error's `data` (severity, message, component, diagnostic_data) exactly `members` keys and elements. */
export function wideDiagnostics(members: number): Record<string, unknown> {
  // data's 4 keys + the key "list" + its elements.
  return { list: Array.from({ length: members - 5 }, (_, i) => i) };
}
