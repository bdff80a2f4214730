/**
 * The codes of the system.error events config-watcher publishes. Declared in this plugin's
 * `definePlugin({ errors })`; the README's error table and /stats list them under the plugin's
 * name.
 */
export const CONFIG_WATCH_ERRORS = {
  CONFIG_WATCH_PARSE: 'config-watcher cannot parse a watched file (YAML, JSON or .env); the last good version stays the baseline.',
  CONFIG_WATCH_READ: 'config-watcher cannot read or watch a watched file or its folder (permissions, not a file).',
} as const;

type ConfigWatchErrors = typeof CONFIG_WATCH_ERRORS;

declare module 'praxis-agent' {
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type
  interface ErrorCodeMap extends ConfigWatchErrors {}
}
