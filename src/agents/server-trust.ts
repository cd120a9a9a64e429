/**
 * How an agent trusts an `https://` signaling server (docs/security.md "Transport"): the system's CAs by
 * default, an extra CA or certificate (`--ca FILE`, PEM), or a pinned certificate (`--pin SHA256`, the
 * fingerprint `sdrlink server --tls` prints) instead of CA verification. One {@link TrustAgent} carries it
 * for both the REST calls (node:https) and the WebSockets (ws takes the same agent): the socket is handed
 * to HTTP only once the certificate passed, so no byte of a request (nor its token) reaches a server that
 * fails the check.
 *
 * And the warning for a token sent in clear: an `http://` server that is not on this machine.
 */
import { Agent as HttpsAgent, type AgentOptions } from 'node:https';
import type { ClientRequestArgs } from 'node:http';
import { isIP } from 'node:net';
import type { Duplex } from 'node:stream';
import { connect as tlsConnect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import { AgentError } from './errors.js';

/** What the agent trusts beyond (or instead of) the system's CAs. */
export interface ServerTrust {
  /** Extra trusted CA or server certificate(s), PEM. */
  ca?: string | Buffer | undefined;
  /** The server certificate's SHA-256 fingerprint, canonical (`AB:CD:…`, {@link parsePin}). */
  pin?: string | undefined;
}

const HEX64 = /^[0-9a-f]{64}$/;

/**
 * Parses a certificate fingerprint as `sdrlink server --tls` prints it (`AB:CD:…`), in either case, with or
 * without the colons (also `sha256/…` or `SHA256:` prefixes), into the canonical upper-case `AB:CD:…`.
 * @throws AgentError ERR_CONFIG naming `name` when it is not 32 bytes of hex.
 * @example parsePin('ab:cd…', '--pin') // 'AB:CD:…'
 */
export function parsePin(text: string, name = '--pin'): string {
  const hex = text
    .trim()
    .replace(/^sha-?256[:/=]?/i, '')
    .replace(/[:\s-]/g, '')
    .toLowerCase();
  if (!HEX64.test(hex)) {
    throw new AgentError(
      'ERR_CONFIG',
      `${name}: not a SHA-256 certificate fingerprint (64 hex digits, colons optional, as sdrlink server --tls prints it), got ${JSON.stringify(text.slice(0, 120))}`,
    );
  }
  return hex.match(/../g)!.join(':').toUpperCase();
}

/** Whether `fingerprint256` (Node's `AB:CD:…`) is the pinned one; both sides normalised first. */
export function pinMatches(pin: string, fingerprint256: string): boolean {
  const norm = (s: string) => s.replace(/:/g, '').toLowerCase();
  const a = norm(pin);
  return HEX64.test(a) && a === norm(fingerprint256);
}

/** Whether `host` (a URL's hostname, IPv6 in brackets or not) names this machine's loopback. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) return h === '::1' || h.startsWith('::ffff:127.');
  return false;
}

/**
 * Whether a token sent to `server` travels unencrypted over a network: an `http:`/`ws:` URL to a host that
 * is not loopback (to 127.0.0.1 or `localhost` it never leaves the machine).
 */
export function tokenTravelsInClear(server: string): boolean {
  let u: URL;
  try {
    u = new URL(server);
  } catch {
    return false;
  }
  return (u.protocol === 'http:' || u.protocol === 'ws:') && !isLoopbackHost(u.hostname);
}

let cleartextWarned = false;

/**
 * Writes the one line saying the token travels unencrypted, once per process, when {@link tokenTravelsInClear}.
 * Returns whether it wrote it now.
 */
export function warnIfCleartext(
  server: string,
  write: (line: string) => void = (l) => process.stderr.write(l),
): boolean {
  if (cleartextWarned || !tokenTravelsInClear(server)) return false;
  cleartextWarned = true;
  write(
    `sdrlink: warning: ${new URL(server).origin} is plain http:// on a network address; the token (and a password at login) travels unencrypted — run the server with --tls and use https://\n`,
  );
  return true;
}

/** How long a TLS handshake may take once the TCP connection is up. */
export const HANDSHAKE_TIMEOUT_MS = 15_000;

/** Node's codes for a certificate the chain check refused (an untrusted, expired or misnamed one). */
function describeTlsError(err: NodeJS.ErrnoException, host: string): string {
  const code = err.code ?? '';
  switch (code) {
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
    case 'SELF_SIGNED_CERT_IN_CHAIN':
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
    case 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY':
    case 'UNABLE_TO_GET_ISSUER_CERT':
      return `the certificate of ${host} is not trusted (${code}); give --ca FILE (the server's certificate or its CA, PEM) or --pin SHA256 (the fingerprint the server printed)`;
    case 'CERT_HAS_EXPIRED':
    case 'CERT_NOT_YET_VALID':
      return `the certificate of ${host} is not valid now (${code})`;
    case 'ERR_TLS_CERT_ALTNAME_INVALID':
      return `the certificate of ${host} does not name that host (${code}): ${err.message}`;
    case 'ERR_SSL_WRONG_VERSION_NUMBER':
    case 'ERR_SSL_PACKET_LENGTH_TOO_LONG':
      return `TLS handshake with ${host} failed (${code}): it does not speak TLS — is it a plain http:// server?`;
    default:
      return `TLS handshake with ${host} failed (${code || 'no code'}): ${err.message}`;
  }
}

/**
 * An https agent whose connections are checked before HTTP (or a WebSocket upgrade) may use them: with a
 * pin, the peer certificate's SHA-256 must equal it (the chain is not checked: the pin is the trust);
 * otherwise the usual chain and host-name checks, with `ca` added to the trusted roots. Failures are
 * AgentError `ERR_TLS_PIN` (a pin that does not match) or `ERR_TLS` (any other TLS failure).
 */
export class TrustAgent extends HttpsAgent {
  readonly trust: ServerTrust;

  constructor(trust: ServerTrust, options: AgentOptions = {}) {
    super(options);
    this.trust = trust;
  }

  override createConnection(
    options: ClientRequestArgs,
    callback?: (err: Error | null, stream: Duplex) => void,
  ): undefined {
    const o = options as ConnectionOptions & { host?: string | null; servername?: string };
    const host = o.servername || o.host || 'the server';
    const pin = this.trust.pin;
    const opts: ConnectionOptions = { ...o, host: o.host ?? undefined };
    if (this.trust.ca !== undefined) opts.ca = this.trust.ca;
    if (pin !== undefined) opts.rejectUnauthorized = false;
    // a host name, not an IP address, goes in SNI
    if (opts.servername !== undefined && isIP(opts.servername) !== 0) delete opts.servername;
    let tcpUp = false;
    let done = false;
    const finish = (err: Error | null, socket?: TLSSocket) => {
      if (done) return;
      done = true;
      callback?.(err, socket as Duplex);
    };
    const socket = tlsConnect(opts);
    socket.once('connect', () => (tcpUp = true));
    const onError = (err: NodeJS.ErrnoException) => {
      socket.destroy();
      if (!tcpUp) {
        finish(err);
        return;
      }
      finish(new AgentError('ERR_TLS', describeTlsError(err, host), { cause: err }));
    };
    socket.on('error', onError);
    // a peer that accepts the connection and never completes the handshake is given up on
    socket.setTimeout(HANDSHAKE_TIMEOUT_MS, () =>
      onError(
        Object.assign(new Error(`no TLS handshake within ${HANDSHAKE_TIMEOUT_MS} ms`), { code: 'ETIMEDOUT' }),
      ),
    );
    socket.once('secureConnect', () => {
      socket.setTimeout(0);
      socket.off('error', onError);
      if (pin !== undefined) {
        const fp = socket.getPeerCertificate().fingerprint256;
        if (typeof fp !== 'string' || !pinMatches(pin, fp)) {
          socket.destroy();
          finish(
            new AgentError(
              'ERR_TLS_PIN',
              `the certificate of ${host} does not match --pin: it is ${fp ?? 'absent'}, the pin is ${pin}; nothing was sent`,
            ),
          );
          return;
        }
      }
      finish(null, socket);
    });
    return undefined;
  }
}

/** Whether `err` (or its cause) is one of ours about TLS, to be passed on unchanged. */
export function tlsFailureOf(err: unknown): AgentError | undefined {
  for (let e: unknown = err, i = 0; e !== undefined && e !== null && i < 4; i++) {
    if (e instanceof AgentError && (e.code === 'ERR_TLS' || e.code === 'ERR_TLS_PIN')) return e;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}
