/**
 * Trusting an https:// signaling server (server-trust.ts): pin parsing and comparison, the loopback and
 * cleartext decisions, the once-per-process warning, and the {@link TrustAgent} against a real TLS server
 * (a certificate made here by openssl): a matching pin or CA connects; a wrong pin or an untrusted
 * certificate is refused with its code, and the server never receives the HTTP request (nor its token).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, request, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AgentError } from './errors.js';
import {
  TrustAgent,
  isLoopbackHost,
  parsePin,
  pinMatches,
  tlsFailureOf,
  tokenTravelsInClear,
  warnIfCleartext,
} from './server-trust.js';

const FP = 'AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89';

describe('parsePin / pinMatches', () => {
  it('accepts the printed form in either case, with or without colons or a sha256 prefix', () => {
    for (const text of [
      FP,
      FP.toLowerCase(),
      FP.replace(/:/g, ''),
      ` ${FP.replace(/:/g, '').toLowerCase()} `,
      `sha256/${FP}`,
      `SHA256:${FP.replace(/:/g, '')}`,
    ]) {
      assert.equal(parsePin(text), FP, text);
    }
  });

  it('refuses what is not 32 bytes of hex with ERR_CONFIG naming the flag', () => {
    for (const text of ['', 'AB:CD', FP.slice(3), `${FP}:00`, FP.replace('AB', 'ZZ')]) {
      assert.throws(
        () => parsePin(text, 'SDRLINK_PIN'),
        (err: unknown) =>
          err instanceof AgentError && err.code === 'ERR_CONFIG' && err.message.includes('SDRLINK_PIN'),
        text,
      );
    }
  });

  it('compares case- and colon-insensitively, and one differing byte is a mismatch', () => {
    assert.equal(pinMatches(FP, FP.toLowerCase()), true);
    assert.equal(pinMatches(FP.replace(/:/g, ''), FP), true);
    assert.equal(pinMatches(FP, `00${FP.slice(2)}`), false);
    assert.equal(pinMatches('', ''), false);
  });
});

describe('tokens in clear', () => {
  it('loopback: localhost, 127.0.0.0/8, ::1; not a LAN or public address', () => {
    for (const h of ['localhost', 'LOCALHOST', 'a.localhost', '127.0.0.1', '127.9.8.7', '::1', '[::1]'])
      assert.equal(isLoopbackHost(h), true, h);
    for (const h of ['192.0.2.2', '10.0.0.1', 'example.org', '0.0.0.0', 'fd00::2', '128.0.0.1'])
      assert.equal(isLoopbackHost(h), false, h);
  });

  it('http:// or ws:// to a non-loopback host travels in clear; https:// or loopback does not', () => {
    assert.equal(tokenTravelsInClear('http://192.0.2.2:8080'), true);
    assert.equal(tokenTravelsInClear('ws://signal.example.org/api/ws'), true);
    assert.equal(tokenTravelsInClear('http://127.0.0.1:8080'), false);
    assert.equal(tokenTravelsInClear('http://[::1]:8080'), false);
    assert.equal(tokenTravelsInClear('https://192.0.2.2:8443'), false);
    assert.equal(tokenTravelsInClear('not a url'), false);
  });

  it('warns once per process, only for a cleartext URL', () => {
    const lines: string[] = [];
    const write = (l: string) => lines.push(l);
    assert.equal(warnIfCleartext('http://127.0.0.1:8080', write), false);
    assert.equal(warnIfCleartext('https://192.0.2.2', write), false);
    assert.equal(warnIfCleartext('http://192.0.2.2:8080', write), true);
    assert.equal(warnIfCleartext('http://198.51.100.1', write), false);
    assert.equal(lines.length, 1);
    assert.match(lines[0] as string, /http:\/\/192\.0\.2\.2:8080 is plain http:\/\/.*travels unencrypted/);
  });
});

describe('TrustAgent against a real TLS server', () => {
  let dir: string;
  let server: Server;
  let url: string;
  let cert: string;
  let otherCert: string;
  let requests = 0;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sdrlink-trust-'));
    for (const name of ['server', 'other']) {
      execFileSync(
        'openssl',
        [
          'req',
          '-x509',
          '-newkey',
          'ec',
          '-pkeyopt',
          'ec_paramgen_curve:P-256',
          '-nodes',
          '-keyout',
          join(dir, `${name}.key`),
          '-out',
          join(dir, `${name}.crt`),
          '-days',
          '2',
          '-subj',
          `/CN=${name}`,
          '-addext',
          'subjectAltName=IP:127.0.0.1',
        ],
        { stdio: 'ignore' },
      );
    }
    cert = readFileSync(join(dir, 'server.crt'), 'utf8');
    otherCert = readFileSync(join(dir, 'other.crt'), 'utf8');
    server = createServer({ cert, key: readFileSync(join(dir, 'server.key')) }, (_req, res) => {
      requests++;
      res.end('{"ok":true}');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/x`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
    await rm(dir, { recursive: true, force: true });
  });

  function get(agent: TrustAgent): Promise<string> {
    return new Promise((resolve, reject) => {
      const req = request(url, { agent, headers: { authorization: 'Bearer secret-token' } }, (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (c: string) => (text += c));
        res.on('end', () => resolve(text));
      });
      req.on('error', reject);
      req.end();
    });
  }

  it('connects with the matching pin (chain unchecked) and with the certificate as CA', async () => {
    const fp = new X509Certificate(cert).fingerprint256;
    const before = requests;
    assert.equal(await get(new TrustAgent({ pin: parsePin(fp.toLowerCase()) })), '{"ok":true}');
    assert.equal(await get(new TrustAgent({ ca: cert })), '{"ok":true}');
    assert.equal(requests, before + 2);
  });

  it('refuses a wrong pin with ERR_TLS_PIN, and the server receives no request', async () => {
    const before = requests;
    const wrong = parsePin(new X509Certificate(otherCert).fingerprint256);
    const err = await get(new TrustAgent({ pin: wrong })).then(
      () => assert.fail('connected'),
      (e: unknown) => e,
    );
    assert.equal(tlsFailureOf(err)?.code, 'ERR_TLS_PIN');
    assert.equal(requests, before);
  });

  it('refuses an untrusted certificate (no CA, or another CA) with ERR_TLS, and the server receives no request', async () => {
    const before = requests;
    for (const agent of [new TrustAgent({}), new TrustAgent({ ca: otherCert })]) {
      const err = await get(agent).then(
        () => assert.fail('connected'),
        (e: unknown) => e,
      );
      assert.equal(tlsFailureOf(err)?.code, 'ERR_TLS');
      assert.match((err as Error).message, /not trusted/);
    }
    assert.equal(requests, before);
  });
});
