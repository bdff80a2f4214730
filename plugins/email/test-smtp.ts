import net from 'node:net';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';

/**
 * Real SMTP peers for the email sink's tests: an `smtp-server` on 127.0.0.1 (random port) that
 * records each accepted mail and can answer chosen reply codes, a TCP server that never greets, and
 * a small MIME reader (just enough for what nodemailer writes: multipart/alternative,
 * quoted-printable or base64 parts, RFC 2047 subjects).
 */

export interface ReceivedMail {
  envelopeFrom: string;
  envelopeTo: string[];
  raw: string;
  headers: Record<string, string>;
  subject: string;
  text: string;
  html: string;
}

export interface SmtpPeer {
  port: number;
  mails: ReceivedMail[];
  /** Every AUTH attempt: method, user name, and whether the password was right. */
  auths: Array<{ method: string; username: string; ok: boolean }>;
  /** Each DATA answer to give in turn (a reply code, or 250 when the list is used up). */
  dataReplies: number[];
  close(): Promise<void>;
}

export interface SmtpPeerOptions {
  /** Require AUTH with this user name and password (PLAIN and LOGIN offered); `echo`: a refusal quotes the password tried, as a careless server might. */
  auth?: { username: string; password: string; methods?: string[]; echo?: boolean };
  /** Recipients refused with 550 at RCPT TO. */
  rejectRcpt?: string[];
  /** STARTTLS with this key and certificate (PEM); without it STARTTLS is not offered. */
  tls?: { key: Buffer; cert: Buffer };
  /** With tls: implicit TLS from the first byte (SMTPS) instead of STARTTLS. */
  implicitTls?: boolean;
  /** Reply codes for DATA, one per message, in order (e.g. [451] then 250). */
  dataReplies?: number[];
  /** Hold each mail's DATA answer until this resolves (to test aborts). */
  holdData?: () => Promise<void>;
}

export async function startSmtpPeer(options: SmtpPeerOptions = {}): Promise<SmtpPeer> {
  const mails: ReceivedMail[] = [];
  const auths: SmtpPeer['auths'] = [];
  const dataReplies = [...(options.dataReplies ?? [])];
  const serverOptions: SMTPServerOptions = {
    logger: false,
    disabledCommands: options.tls ? [] : ['STARTTLS'],
    ...(options.tls && { key: options.tls.key, cert: options.tls.cert, secure: options.implicitTls === true }),
    authOptional: options.auth === undefined,
    authMethods: options.auth?.methods ?? ['PLAIN', 'LOGIN'],
    // Credentials over plain text are what the sink's require_tls prevents; the server accepts them so the tests can see it.
    allowInsecureAuth: true,
    onAuth(auth, _session, callback) {
      const ok = auth.username === options.auth?.username && auth.password === options.auth?.password;
      auths.push({ method: auth.method, username: auth.username ?? '', ok });
      if (!ok) {
        const err = Object.assign(new Error(`Authentication credentials invalid${options.auth?.echo ? ` for ${auth.username}:${auth.password}` : ''}`), { responseCode: 535 });
        callback(err);
        return;
      }
      callback(null, { user: auth.username });
    },
    onRcptTo(address, _session, callback) {
      if (options.rejectRcpt?.includes(address.address)) callback(Object.assign(new Error(`<${address.address}>: Recipient address rejected: User unknown`), { responseCode: 550 }));
      else callback();
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        void (async () => {
          if (options.holdData) await options.holdData();
          const code = dataReplies.shift() ?? 250;
          if (code !== 250) {
            callback(Object.assign(new Error(code >= 500 ? 'Message rejected as spam' : 'Greylisted, try again later'), { responseCode: code }));
            return;
          }
          const raw = Buffer.concat(chunks).toString('utf8');
          mails.push({
            envelopeFrom: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
            envelopeTo: session.envelope.rcptTo.map((r) => r.address),
            raw,
            ...parseMail(raw),
          });
          callback(null);
        })();
      });
    },
  };
  const server = new SMTPServer(serverOptions);
  // A client that drops the connection (a plain-text client on the TLS port, an aborted attempt) is the test's business, not a crash.
  server.on('error', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.server.address() as net.AddressInfo).port;
  return { port, mails, auths, dataReplies, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

/** A TCP server that accepts connections and never says a word (no SMTP greeting); counts connections made and still open. */
export async function startSilentPeer(): Promise<{ port: number; connections: () => number; open: () => number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  let count = 0;
  const server = net.createServer((s) => {
    count++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    connections: () => count,
    open: () => sockets.size,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}


function parseMail(raw: string): Pick<ReceivedMail, 'headers' | 'subject' | 'text' | 'html'> {
  const { headers, body } = splitHeaders(raw);
  const out = { headers, subject: decodeWords(headers.subject ?? ''), text: '', html: '' };
  const parts = partsOf(headers, body);
  for (const part of parts) {
    const type = (part.headers['content-type'] ?? 'text/plain').toLowerCase();
    // SMTP lines end in CRLF; the sink renders LF.
    const content = decodeBody(part.body, part.headers['content-transfer-encoding']).replace(/\r\n/g, '\n');
    if (type.startsWith('text/plain')) out.text = content;
    else if (type.startsWith('text/html')) out.html = content;
  }
  return out;
}

function partsOf(headers: Record<string, string>, body: string): Array<{ headers: Record<string, string>; body: string }> {
  const boundary = /boundary="?([^";]+)"?/i.exec(headers['content-type'] ?? '')?.[1];
  if (!boundary) return [{ headers, body }];
  return body
    .split(`--${boundary}`)
    .slice(1)
    .filter((p) => !p.startsWith('--'))
    .flatMap((p) => {
      // The CRLF before a boundary belongs to the boundary, not to the part.
      const part = splitHeaders(p.replace(/^\r\n/, '').replace(/\r\n$/, ''));
      return partsOf(part.headers, part.body);
    });
}

function splitHeaders(raw: string): { headers: Record<string, string>; body: string } {
  const at = raw.indexOf('\r\n\r\n');
  const head = at < 0 ? raw : raw.slice(0, at);
  const headers: Record<string, string> = {};
  for (const line of head.replace(/\r\n[ \t]+/g, ' ').split('\r\n')) {
    const i = line.indexOf(':');
    if (i > 0) headers[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
  }
  return { headers, body: at < 0 ? '' : raw.slice(at + 4) };
}

function decodeBody(body: string, encoding = '7bit'): string {
  switch (encoding.toLowerCase()) {
    case 'base64':
      return Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
    case 'quoted-printable':
      return Buffer.from(
        body
          .replace(/=\r\n/g, '')
          .replace(/=([0-9A-F]{2})/gi, (_, h: string) => String.fromCharCode(parseInt(h, 16))),
        'latin1',
      ).toString('utf8');
    default:
      return body;
  }
}

function decodeWords(text: string): string {
  return text
    .replace(/\?=\s+=\?/g, '?==?')
    .replace(/=\?utf-8\?([QB])\?([^?]*)\?=/gi, (_, enc: string, data: string) =>
      enc.toUpperCase() === 'B'
        ? Buffer.from(data, 'base64').toString('utf8')
        : Buffer.from(data.replace(/_/g, ' ').replace(/=([0-9A-F]{2})/gi, (_m, h: string) => String.fromCharCode(parseInt(h, 16))), 'latin1').toString('utf8'),
    );
}
