/**
 * The codes of `error` messages the broadcaster sends on the wire (kept from the protocol older
 * clients speak). Declared in this plugin's `definePlugin({ errors })`; the README's error table
 * and /stats list them under the plugin's name.
 */
export const WEBSOCKET_ERRORS = {
  INVALID_JSON: 'A WebSocket message that is not valid JSON.',
  INVALID_MESSAGE: 'A WebSocket message that is not {type, payload} or whose payload has the wrong shape; or a malformed since/epoch parameter of the upgrade URL (HTTP 400).',
  UNKNOWN_TYPE: 'A WebSocket message type other than SUBSCRIBE_EVENTS, UNSUBSCRIBE_EVENTS or PING.',
  INVALID_EVENT_TYPES: 'Some requested event types are not known types, `prefix.*` or `*`; the others were applied (in the upgrade URL\'s event_types: the upgrade is refused with HTTP 400).',
} as const;

type WebsocketErrors = typeof WEBSOCKET_ERRORS;

declare module 'praxis-agent' {
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type
  interface ErrorCodeMap extends WebsocketErrors {}
}
