/**
 * The error codes the webhook sink raises, declared in its `definePlugin({ errors })`; the README's
 * error table and /stats list them under the plugin's name.
 */
export const WEBHOOK_ERRORS = {
  WEBHOOK_FILE: 'A file the webhook sink reads at start (url_file, credentials_file, password_file, ca_file, cert_file, key_file) is missing, unreadable, too large or does not hold what it should.',
} as const;

type WebhookErrors = typeof WEBHOOK_ERRORS;

declare module 'praxis-agent' {
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type
  interface ErrorCodeMap extends WebhookErrors {}
}
