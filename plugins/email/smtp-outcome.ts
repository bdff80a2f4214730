import { redactText, type SinkResult } from 'praxis-agent';

/**
 * How the email sink turns what nodemailer reports into the notifier contract's result, the SMTP
 * counterpart of `httpOutcome`: a reply code 4xx (451 greylisting, 421 shutting down, 452 full
 * mailbox) is temporary and retried; 5xx (550 no such user, 554 rejected, 535 bad password) is
 * permanent, the same message would be refused again. Without a reply code, a failure to connect,
 * a missing greeting, a timeout, a TLS failure or a dropped connection is retried (the server may be
 * back soon; the pipeline's max_age bounds it); only a message nodemailer itself refuses to send
 * (no recipient, bad configuration) is permanent.
 *
 * The reason names the SMTP command and reply and the server's answer, with the password and its
 * base64 forms (what AUTH PLAIN/LOGIN put on the wire) masked, never nodemailer's full error (its
 * message may quote the envelope).
 */

/** What nodemailer puts on its errors (`smtp-connection` `_formatError`). */
interface SmtpError {
  code?: string;
  originalCode?: string;
  responseCode?: number;
  response?: string;
  command?: string;
  message?: string;
  name?: string;
}

/** nodemailer error codes that say the message itself can never go: no point retrying. */
const PERMANENT_CODES = new Set(['EENVELOPE', 'ECONFIG', 'EMESSAGE', 'EREQUIRETLS', 'ENOAUTH']);

const REASON_MAX = 300;

export function smtpOutcome(error: unknown, secrets: readonly string[] = []): SinkResult {
  const e = (typeof error === 'object' && error !== null ? error : { message: String(error) }) as SmtpError;
  const mask = (text: string): string => maskSecrets(redactText(text), secrets);
  const command = e.command && /^[A-Z][A-Z -]*[A-Z0-9]$/.test(e.command) ? e.command : undefined;
  if (e.code === 'EABORT' || e.name === 'AbortError') {
    return { outcome: 'retry', afterMs: 0, reason: 'SMTP attempt aborted (timed out or the agent is stopping)' };
  }
  if (typeof e.responseCode === 'number' && e.responseCode >= 400 && e.responseCode < 600) {
    const answer = e.response ? `: ${cut(mask(e.response.trim()))}` : '';
    const reason = `SMTP server answered ${e.responseCode} to ${command ?? 'the session'}${answer}`;
    return e.responseCode >= 500 ? { outcome: 'permanent', reason } : { outcome: 'retry', afterMs: 0, reason };
  }
  const code = [e.code, e.originalCode].filter(Boolean).join('/') || 'error';
  const reason = `SMTP ${command ? `${command} ` : ''}failed (${code}): ${cut(mask(e.message ?? 'unknown error'))}`;
  // EAUTH without a reply code: nodemailer refused before asking (no credentials, unknown method).
  if (e.code !== undefined && (PERMANENT_CODES.has(e.code) || (e.code === 'EAUTH' && command === 'API'))) return { outcome: 'permanent', reason };
  return { outcome: 'retry', afterMs: 0, reason };
}

/** `text` with each secret, and the base64 forms AUTH PLAIN and AUTH LOGIN send, replaced by `***`. */
export function maskSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) {
    if (secret.length === 0) continue;
    for (const form of [secret, Buffer.from(secret).toString('base64')]) out = out.split(form).join('***');
  }
  return out;
}

function cut(text: string): string {
  const flat = text.replace(/\s+/g, ' ');
  return flat.length > REASON_MAX ? `${flat.slice(0, REASON_MAX - 1)}…` : flat;
}
