/**
 * A real coturn (`turnserver`, Debian package `coturn`) for tests and the network lab, started with a
 * generated configuration in a temporary folder, and a minimal TURN client (RFC 8656 Allocate with the
 * long-term credential mechanism) that tells whether a credential is accepted.
 *
 * @example
 * const turn = await startCoturn({ secret: 'a-secret-of-16-chars', listenIp: '127.0.0.1' });
 * try {
 *   const r = await turnAllocate('127.0.0.1', turn.port, username, credential);
 * } finally {
 *   await turn.stop();
 * }
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';

export const TURNSERVER = '/usr/bin/turnserver';

/**
 * The `skip` option of a test that needs coturn: false when it is there, or when `SDRLINK_REQUIRE_NETLAB=1`
 * (CI: the test then runs and fails loudly); the reason otherwise.
 */
export function coturnSkip(): string | false {
  const r = spawnSync(TURNSERVER, ['--version'], { encoding: 'utf8' });
  if (r.error === undefined || process.env['SDRLINK_REQUIRE_NETLAB'] === '1') return false;
  return `needs coturn at ${TURNSERVER} (Debian: apt-get install coturn); set SDRLINK_REQUIRE_NETLAB=1 to make this a failure`;
}

/** The peer ranges a TURN server for sdrlink should refuse (README "Across networks"). */
export const PRIVATE_PEER_RANGES = [
  '0.0.0.0-0.255.255.255',
  '10.0.0.0-10.255.255.255',
  '100.64.0.0-100.127.255.255',
  '127.0.0.0-127.255.255.255',
  '169.254.0.0-169.254.255.255',
  '172.16.0.0-172.31.255.255',
  '192.168.0.0-192.168.255.255',
  '::1',
  'fc00::-fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff',
  'fe80::-febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff',
];

export interface CoturnOptions {
  secret: string;
  /** Address to listen and relay on. */
  listenIp: string;
  /** UDP/TCP listening port (default: a free UDP port on `listenIp`). */
  port?: number;
  realm?: string;
  /** `denied-peer-ip` ranges (default {@link PRIVATE_PEER_RANGES}). */
  deniedPeers?: string[];
  /** `allowed-peer-ip` ranges, which win over denied ones. */
  allowedPeers?: string[];
  /** Relay port range. */
  minPort?: number;
  maxPort?: number;
  /** Runs the process through this prefix, e.g. `['ip', 'netns', 'exec', 'ns']`. */
  prefix?: string[];
}

export interface Coturn {
  port: number;
  realm: string;
  /** The generated configuration, as written. */
  config: string;
  proc: ChildProcess;
  log(): string;
  stop(): Promise<void>;
}

/** A free UDP port on `ip` (bound and released: another process could take it, which tests accept). */
export async function freeUdpPort(ip: string): Promise<number> {
  const s = createSocket(ip.includes(':') ? 'udp6' : 'udp4');
  await new Promise<void>((r) => s.bind(0, ip, () => r()));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** The coturn configuration sdrlink recommends (README "Across networks"), for `o`. */
export function coturnConfig(
  o: Required<Omit<CoturnOptions, 'prefix' | 'allowedPeers'>> & { allowedPeers?: string[]; dir: string },
): string {
  return [
    `listening-ip=${o.listenIp}`,
    `relay-ip=${o.listenIp}`,
    `listening-port=${o.port}`,
    `min-port=${o.minPort}`,
    `max-port=${o.maxPort}`,
    'use-auth-secret',
    `static-auth-secret=${o.secret}`,
    `realm=${o.realm}`,
    'fingerprint',
    'no-tls',
    'no-dtls',
    'no-tcp-relay',
    'no-cli',
    'no-multicast-peers',
    'no-software-attribute',
    'no-rfc5780',
    'no-stun-backward-compatibility',
    ...o.deniedPeers.map((r) => `denied-peer-ip=${r}`),
    ...(o.allowedPeers ?? []).map((r) => `allowed-peer-ip=${r}`),
    `userdb=${join(o.dir, 'turndb')}`,
    `pidfile=${join(o.dir, 'turnserver.pid')}`,
    `log-file=${join(o.dir, 'turn.log')}`,
    'simple-log',
    'verbose',
  ].join('\n');
}

/** Starts coturn and resolves once it answers a STUN Binding request on its port. */
export async function startCoturn(opts: CoturnOptions): Promise<Coturn> {
  const dir = await mkdtemp(join(tmpdir(), 'sdrlink-coturn-'));
  const port = opts.port ?? (await freeUdpPort(opts.listenIp));
  const realm = opts.realm ?? 'sdrlink.test';
  const minPort = opts.minPort ?? 49152;
  const config = coturnConfig({
    secret: opts.secret,
    listenIp: opts.listenIp,
    port,
    realm,
    deniedPeers: opts.deniedPeers ?? PRIVATE_PEER_RANGES,
    minPort,
    maxPort: opts.maxPort ?? minPort + 200,
    dir,
    ...(opts.allowedPeers === undefined ? {} : { allowedPeers: opts.allowedPeers }),
  });
  const file = join(dir, 'turnserver.conf');
  await writeFile(file, config + '\n');
  const prefix = opts.prefix ?? [];
  const argv = [...prefix, TURNSERVER, '-c', file];
  const proc = spawn(argv[0] as string, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  const stop = async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(t);
    }
    await rm(dir, { recursive: true, force: true });
  };
  const log = () => out;
  try {
    const deadline = Date.now() + 10_000;
    for (;;) {
      if (proc.exitCode !== null) throw new Error(`turnserver exited (${proc.exitCode}):\n${out}`);
      if (await stunAnswers(opts.listenIp, port, prefix)) break;
      if (Date.now() > deadline)
        throw new Error(`turnserver did not answer on ${opts.listenIp}:${port}:\n${out}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { port, realm, config, proc, log, stop };
}

/** One Binding request (from this process; with a prefix, the check is skipped and a delay stands in). */
async function stunAnswers(ip: string, port: number, prefix: string[]): Promise<boolean> {
  if (prefix.length > 0) {
    // In another namespace this process cannot reach it; the lab checks with its own probe.
    await new Promise((r) => setTimeout(r, 300));
    return true;
  }
  const tid = randomBytes(12);
  const req = Buffer.concat([Buffer.from('000100002112a442', 'hex'), tid]);
  const res = await exchange(ip, port, [req], 300);
  return res !== undefined;
}

const MAGIC = Buffer.from('2112a442', 'hex');

function attr(type: number, value: Buffer): Buffer {
  const pad = (4 - (value.length % 4)) % 4;
  const a = Buffer.alloc(4 + value.length + pad);
  a.writeUInt16BE(type, 0);
  a.writeUInt16BE(value.length, 2);
  value.copy(a, 4);
  return a;
}

function stunMessage(type: number, tid: Buffer, attrs: Buffer[], key?: Buffer): Buffer {
  let body = Buffer.concat(attrs);
  const header = (len: number) => {
    const h = Buffer.alloc(20);
    h.writeUInt16BE(type, 0);
    h.writeUInt16BE(len, 2);
    MAGIC.copy(h, 4);
    tid.copy(h, 8);
    return h;
  };
  if (key !== undefined) {
    const mac = createHmac('sha1', key)
      .update(Buffer.concat([header(body.length + 24), body]))
      .digest();
    body = Buffer.concat([body, attr(0x0008, mac)]);
  }
  const withoutFp = Buffer.concat([header(body.length + 8), body]);
  const fp = Buffer.alloc(4);
  fp.writeUInt32BE((crc32(withoutFp) ^ 0x5354554e) >>> 0, 0);
  return Buffer.concat([withoutFp, attr(0x8028, fp)]);
}

function attrsOf(msg: Buffer): Map<number, Buffer> {
  const out = new Map<number, Buffer>();
  let off = 20;
  while (off + 4 <= msg.length) {
    const t = msg.readUInt16BE(off);
    const l = msg.readUInt16BE(off + 2);
    out.set(t, msg.subarray(off + 4, off + 4 + l));
    off += 4 + l + ((4 - (l % 4)) % 4);
  }
  return out;
}

async function exchange(
  ip: string,
  port: number,
  msgs: Buffer[],
  timeoutMs: number,
): Promise<Buffer | undefined> {
  const s = createSocket(ip.includes(':') ? 'udp6' : 'udp4');
  try {
    return await new Promise<Buffer | undefined>((resolve) => {
      const t = setTimeout(() => resolve(undefined), timeoutMs);
      s.on('message', (m) => {
        clearTimeout(t);
        resolve(m);
      });
      s.on('error', () => resolve(undefined));
      for (const m of msgs) s.send(m, port, ip);
    });
  } finally {
    s.close();
  }
}

export interface AllocateResult {
  /** The final answer's STUN type: 0x0103 success, 0x0113 error. */
  type: number;
  /** The error code of an error answer (401, 438, …). */
  errorCode?: number;
  /** The relayed address of a success. */
  relayed?: string;
}

/**
 * An Allocate (UDP) with the long-term credential mechanism (RFC 8489 §9.2): the first request gets 401 with
 * REALM and NONCE, the second carries USERNAME, REALM, NONCE and MESSAGE-INTEGRITY keyed with
 * MD5(username:realm:password). Resolves with the second answer. One socket: the allocation is left to
 * expire (its lifetime) or to the server's stop.
 */
export async function turnAllocate(
  ip: string,
  port: number,
  username: string,
  password: string,
): Promise<AllocateResult> {
  const s = createSocket(ip.includes(':') ? 'udp6' : 'udp4');
  const next = () =>
    new Promise<Buffer>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no answer from TURN ${ip}:${port}`)), 3000);
      s.once('message', (m) => {
        clearTimeout(t);
        resolve(m);
      });
    });
  try {
    await new Promise<void>((r) => s.bind(0, () => r()));
    const transport = attr(0x0019, Buffer.from([17, 0, 0, 0])); // REQUESTED-TRANSPORT: UDP
    const first = next();
    s.send(stunMessage(0x0003, randomBytes(12), [transport]), port, ip);
    const a1 = attrsOf(await first);
    const realm = a1.get(0x0014);
    const nonce = a1.get(0x0015);
    if (realm === undefined || nonce === undefined)
      throw new Error('the first answer carried no REALM/NONCE');
    const key = createHash('md5').update(`${username}:${realm.toString()}:${password}`).digest();
    const second = next();
    s.send(
      stunMessage(
        0x0003,
        randomBytes(12),
        [transport, attr(0x0006, Buffer.from(username)), attr(0x0014, realm), attr(0x0015, nonce)],
        key,
      ),
      port,
      ip,
    );
    const res = await second;
    const type = res.readUInt16BE(0);
    const attrs = attrsOf(res);
    const out: AllocateResult = { type };
    const err = attrs.get(0x0009);
    if (err !== undefined) out.errorCode = (err[2] as number) * 100 + (err[3] as number);
    const xr = attrs.get(0x0016); // XOR-RELAYED-ADDRESS
    if (xr !== undefined && xr[1] === 0x01) {
      const p = xr.readUInt16BE(2) ^ 0x2112;
      const a = [0, 1, 2, 3].map((i) => (xr[4 + i] as number) ^ (MAGIC[i] as number)).join('.');
      out.relayed = `${a}:${p}`;
    }
    return out;
  } finally {
    s.close();
  }
}
