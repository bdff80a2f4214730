import { createHash } from 'node:crypto';
import { nkeys } from '@nats-io/transport-node';

/**
 * NATS decentralised auth (operator mode) for tests: an operator, an account with JetStream and a
 * user, as `nsc` would make them, with the user's creds file. The JWTs are encoded here with the
 * NKey library the NATS client already ships (@nats-io/nkeys): a v2 JWT is only
 * `base64url(header).base64url(claims).base64url(ed25519 signature by the issuer's NKey)`, and the
 * real nats-server that verifies them is the judge. (`@nats-io/jwt` is 0.0.x and not installed;
 * Debian has no `nsc`.)
 */

type KeyPair = ReturnType<typeof nkeys.createUser>;

const b64url = (data: string | Uint8Array): string => Buffer.from(data).toString('base64url');

function encodeJwt(issuer: KeyPair, subject: string, name: string, nats: Record<string, unknown>): string {
  const header = b64url(JSON.stringify({ typ: 'JWT', alg: 'ed25519-nkey' }));
  const claims = { jti: '', iat: Math.floor(Date.now() / 1000), iss: issuer.getPublicKey(), name, sub: subject, nats };
  claims.jti = createHash('sha256').update(JSON.stringify(claims)).digest('hex').toUpperCase();
  const payload = b64url(JSON.stringify(claims));
  const signature = issuer.sign(new TextEncoder().encode(`${header}.${payload}`));
  return `${header}.${payload}.${b64url(signature)}`;
}

/** The creds file `nsc generate creds` writes: the user JWT and the user's NKey seed. */
function credsFile(jwt: string, seed: string): string {
  return [
    '-----BEGIN NATS USER JWT-----',
    jwt,
    '------END NATS USER JWT------',
    '',
    '************************* IMPORTANT *************************',
    'NKEY Seed printed below can be used to sign and prove identity.',
    'NKEYs are sensitive and should be treated as secrets.',
    '',
    '-----BEGIN USER NKEY SEED-----',
    seed,
    '------END USER NKEY SEED------',
    '',
    '*************************************************************',
    '',
  ].join('\n');
}

export interface OperatorSetup {
  /** nats-server configuration: the operator, and the account preloaded in a memory resolver. */
  serverConfig: string;
  /** A user of that account: its creds file's content, its JWT and its seed (the secret). */
  creds: string;
  userJwt: string;
  userSeed: string;
  /** A user signed by an account the server does not know (a creds file for another system). */
  foreignCreds: string;
  foreignSeed: string;
}

function user(account: KeyPair, name: string): { creds: string; jwt: string; seed: string } {
  const key = nkeys.createUser();
  const jwt = encodeJwt(account, key.getPublicKey(), name, { pub: {}, sub: {}, subs: -1, data: -1, payload: -1, type: 'user', version: 2 });
  const seed = new TextDecoder().decode(key.getSeed());
  return { creds: credsFile(jwt, seed), jwt, seed };
}

export function operatorSetup(): OperatorSetup {
  const operator = nkeys.createOperator();
  const operatorJwt = encodeJwt(operator, operator.getPublicKey(), 'praxis-test', { type: 'operator', version: 2 });
  const limits = { subs: -1, data: -1, payload: -1, imports: -1, exports: -1, wildcards: true, conn: -1, leaf: -1, mem_storage: -1, disk_storage: -1, streams: -1, consumer: -1 };
  const account = nkeys.createAccount();
  const accountJwt = encodeJwt(operator, account.getPublicKey(), 'fleet', { limits, default_permissions: { pub: {}, sub: {} }, type: 'account', version: 2 });
  const system = nkeys.createAccount();
  const systemJwt = encodeJwt(operator, system.getPublicKey(), 'SYS', { limits: { ...limits, mem_storage: 0, disk_storage: 0, streams: 0, consumer: 0 }, default_permissions: { pub: {}, sub: {} }, type: 'account', version: 2 });
  const good = user(account, 'web-1');
  const foreign = user(nkeys.createAccount(), 'stranger');
  const serverConfig = [
    `operator: ${operatorJwt}`,
    `system_account: ${system.getPublicKey()}`,
    'resolver: MEMORY',
    'resolver_preload: {',
    `  ${account.getPublicKey()}: ${accountJwt}`,
    `  ${system.getPublicKey()}: ${systemJwt}`,
    '}',
    '',
  ].join('\n');
  return { serverConfig, creds: good.creds, userJwt: good.jwt, userSeed: good.seed, foreignCreds: foreign.creds, foreignSeed: foreign.seed };
}
