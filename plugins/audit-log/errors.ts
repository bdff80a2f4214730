/**
 * The codes of the system.error events and errors the audit log raises. Declared in this plugin's
 * `definePlugin({ errors })`; the README's error table and /stats list them under the plugin's
 * name.
 */
export const AUDIT_ERRORS = {
  AUDIT_WRITE_FAILED: 'The audit log could not be written (disk full, read-only, permissions); events stay queued and writes are retried.',
  AUDIT_EVENTS_DROPPED: "The audit writer's queue was full while the log was unwritable; further events were dropped and counted.",
  AUDIT_LOG_DAMAGED: "At start the audit log's last line was torn or unreadable; the file was rotated aside and writing continued in a new file.",
  AUDIT_KEY_UNAVAILABLE: 'The audit-log HMAC key (hmac.key_env / hmac.key_file) is unset, unreadable or shorter than 16 bytes.',
  AUDIT_FILE_VANISHED: 'The audit file vanished (deleted or moved away) while being written; a new file starts with an audit.file_break record, and records written to the old one may be lost.',
  AUDIT_FILE_REPLACED: "Another file took the audit file's place while it was being written (editor save, restore); it was kept among the rotated files and a new file starts with an audit.file_break record.",
  AUDIT_FILE_TRUNCATED: "The audit file was truncated behind the writer's back; it was kept among the rotated files and a new file starts with an audit.file_break record.",
  AUDIT_SEALER_FAILED: "The audit log's sealing worker thread failed; lines are sealed (hashed, assembled) on the main thread from then on, and none are lost.",
} as const;

type AuditErrors = typeof AUDIT_ERRORS;

declare module 'praxis-agent' {
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type
  interface ErrorCodeMap extends AuditErrors {}
}
