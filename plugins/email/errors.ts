/**
 * The error codes the email sink raises. Declared in this plugin's `definePlugin({ errors })`; the
 * README's error table and /stats list them under the plugin's name. Delivery failures are not
 * errors of the plugin: they are the SinkResult the delivery pipeline records and dead-letters.
 */
export const EMAIL_ERRORS = {
  EMAIL_FILE_UNREADABLE: 'A file the email sink reads (tls.ca_file, auth.password_file) could not be read or is empty; the sink does not start.',
} as const;

type EmailErrors = typeof EMAIL_ERRORS;

declare module 'praxis-agent' {
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type
  interface ErrorCodeMap extends EmailErrors {}
}
