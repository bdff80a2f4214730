import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** A key and a self-signed certificate on disk, and their contents. */
export interface TestCertificate {
  dir: string;
  keyFile: string;
  /** Also the CA to trust (`ca_file`), the certificate being its own issuer. */
  certFile: string;
  key: Buffer;
  cert: Buffer;
}

/**
 * A self-signed certificate for 127.0.0.1 and localhost, valid for `days` (default 1), made with
 * the openssl CLI (`key.pem` and `cert.pem` in `dir`, a new temporary folder by default): for
 * plugin tests against real TLS peers (HTTPS, STARTTLS, wss).
 */
export function selfSignedCert(options: { days?: number; dir?: string } = {}): TestCertificate {
  const dir = options.dir ?? mkdtempSync(path.join(os.tmpdir(), 'praxis-cert-'));
  const keyFile = path.join(dir, 'key.pem');
  const certFile = path.join(dir, 'cert.pem');
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', String(options.days ?? 1), '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'],
    { stdio: 'ignore' },
  );
  return { dir, keyFile, certFile, key: readFileSync(keyFile), cert: readFileSync(certFile) };
}
