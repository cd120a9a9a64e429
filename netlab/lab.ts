/**
 * The network lab (README "Across networks"): real `sdrlink` processes in Linux network namespaces behind
 * emulated home routers, a real coturn, and the signaling server on a "public" segment.
 *
 * ```
 *   provider (10.1.0.2) ─ br ─ router A ─ wan 203.0.113.10 ┐
 *   [consumer 10.1.0.3, row 1]                              ├─ br ─ public 203.0.113.1: server (HTTP + STUN), coturn
 *   consumer (10.2.0.2) ─ br ─ router B ─ wan 203.0.113.20 ┘
 * ```
 *
 * Routers masquerade (endpoint-independent mapping, or `fully-random` ports: a symmetric NAT) and drop
 * every new connection coming in on the WAN, like home routers. Conditions are applied with nftables
 * (`numgen` random drop, UDP blocked, a path cut mid-transfer, the server cut for the provider) and `tc tbf`
 * (rate). No delay is emulated: this kernel has no netem, and the lab claims no condition it did not apply.
 *
 * Every name carries a per-run prefix `sdl<pid in base 36>-`; {@link cleanStale} removes the namespaces of
 * runs whose process is gone, and {@link Lab.destroy} kills what the run started and deletes its
 * namespaces (their links, rules and qdiscs go with them). Addresses are the lab's own, inside its
 * namespaces (TEST-NET-3 for "public", 10/8 for the LANs); nothing is sent anywhere else.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { startCoturn, TURNSERVER, type Coturn } from '../test/helpers/turn.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url)); // dist/netlab/ → the checkout
const CLI = join(ROOT, 'dist', 'src', 'cli', 'main.js');

export const PUBLIC_IP = '203.0.113.1';
export const WAN_A = '203.0.113.10';
export const WAN_B = '203.0.113.20';
export const HTTP_PORT = 8080;
export const TURN_PORT = 3478;
const TURN_SECRET = 'netlab-turn-secret-0123456789';
const PREFIX_RE = /^sdl([0-9a-z]+)-/;

/** Why the lab cannot run here (not root, a tool missing), or undefined. */
export function labMissing(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (network namespaces, nftables)';
  for (const [cmd, args] of [
    ['ip', ['netns', 'list']],
    ['nft', ['--version']],
    ['tc', ['-V']],
    [TURNSERVER, ['--version']],
  ] as const) {
    const r = spawnSync(cmd, [...args], { encoding: 'utf8' });
    if (r.error !== undefined || r.status !== 0)
      return `needs ${cmd} (${r.error?.message ?? r.stderr.trim()}; Debian: iproute2 nftables coturn)`;
  }
  const probe = `sdlprobe${process.pid.toString(36)}`;
  const r = spawnSync('ip', ['netns', 'add', probe], { encoding: 'utf8' });
  if (r.status !== 0) return `cannot create a network namespace: ${r.stderr.trim()}`;
  spawnSync('ip', ['netns', 'del', probe]);
  return undefined;
}

/** Runs a command; throws with its stderr when it fails. */
export function sh(argv: string[], input?: string): string {
  const r = spawnSync(argv[0] as string, argv.slice(1), { encoding: 'utf8', input });
  if (r.status !== 0)
    throw new Error(`${argv.join(' ')}: ${r.stderr.trim() || r.error?.message || `exit ${r.status}`}`);
  return r.stdout;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function killNamespace(ns: string): void {
  const pids = spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' })
    .stdout.split(/\s+/)
    .filter(Boolean);
  for (const p of pids) {
    try {
      process.kill(Number(p), 'SIGKILL');
    } catch {
      // gone
    }
  }
  spawnSync('ip', ['netns', 'del', ns]);
}

/** Removes the namespaces (and kills the processes) of lab runs whose process is gone. */
export function cleanStale(): string[] {
  const removed: string[] = [];
  for (const line of spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout.split('\n')) {
    const ns = line.split(' ')[0] ?? '';
    const m = PREFIX_RE.exec(ns);
    if (m === null) continue;
    if (pidAlive(parseInt(m[1] as string, 36))) continue;
    killNamespace(ns);
    removed.push(ns);
  }
  return removed;
}

export type Nat = 'eim' | 'symmetric';

export interface Topology {
  natA: Nat;
  natB: Nat;
  /** The consumer sits on the provider's LAN (behind router A). */
  sameLan?: boolean;
  /** Router B drops every UDP packet from its LAN (TCP passes). */
  udpBlockedB?: boolean;
  /** Router A drops this share of forwarded packets, both ways (nftables numgen). */
  lossA?: number;
  /** Router A's WAN egress is rate-limited to this many Mbit/s (tc tbf). */
  rateMbitA?: number;
}

export interface AgentProcess {
  proc: ChildProcess;
  lines: Array<Record<string, unknown>>;
  stderr(): string;
  /** Resolves with the first JSON line `pred` accepts. */
  waitFor(
    pred: (l: Record<string, unknown>) => boolean,
    ms: number,
    what: string,
  ): Promise<Record<string, unknown>>;
  exited: Promise<number | null>;
}

let runCounter = 0;

/** One topology, built; {@link destroy} removes everything. */
export class Lab {
  readonly prefix: string;
  readonly ns: { pub: string; ra: string; rb: string; prov: string; cons: string };
  readonly #procs: ChildProcess[] = [];
  #coturn: Coturn | undefined;
  #dirs: string[] = [];
  readonly url = `http://${PUBLIC_IP}:${HTTP_PORT}`;

  private constructor(readonly topo: Topology) {
    this.prefix = `sdl${process.pid.toString(36)}-${(runCounter++).toString(36)}`;
    const n = (s: string) => `${this.prefix}${s}`;
    this.ns = { pub: n('pub'), ra: n('ra'), rb: n('rb'), prov: n('p'), cons: n('c') };
  }

  static build(topo: Topology): Lab {
    cleanStale();
    const lab = new Lab(topo);
    try {
      lab.#build();
    } catch (err) {
      lab.#removeNamespaces();
      throw err;
    }
    return lab;
  }

  exec(ns: string, argv: string[]): string {
    return sh(['ip', 'netns', 'exec', ns, ...argv]);
  }

  #build(): void {
    const { pub, ra, rb, prov, cons } = this.ns;
    const t = this.topo;
    for (const ns of [pub, ra, rb, prov, cons]) {
      sh(['ip', 'netns', 'add', ns]);
      this.exec(ns, ['ip', 'link', 'set', 'lo', 'up']);
      this.exec(ns, ['sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1']);
      this.exec(ns, ['sysctl', '-qw', 'net.ipv6.conf.default.disable_ipv6=1']);
    }
    const link = (a: string, ifA: string, b: string, ifB: string) =>
      sh(['ip', '-n', a, 'link', 'add', ifA, 'type', 'veth', 'peer', 'name', ifB, 'netns', b]);
    const up = (ns: string, dev: string) => this.exec(ns, ['ip', 'link', 'set', dev, 'up']);
    const addr = (ns: string, dev: string, cidr: string) =>
      this.exec(ns, ['ip', 'addr', 'add', cidr, 'dev', dev]);
    const bridge = (ns: string, br: string, ports: string[]) => {
      this.exec(ns, ['ip', 'link', 'add', br, 'type', 'bridge']);
      up(ns, br);
      for (const p of ports) {
        this.exec(ns, ['ip', 'link', 'set', p, 'master', br]);
        up(ns, p);
      }
    };
    // Public segment: a bridge with the server's address and one port per router.
    link(pub, 'toa', ra, 'wan');
    link(pub, 'tob', rb, 'wan');
    bridge(pub, 'br0', ['toa', 'tob']);
    addr(pub, 'br0', `${PUBLIC_IP}/24`);
    // LANs: a bridge in each router, hosts on veths.
    const consumerRouter = t.sameLan === true ? ra : rb;
    link(ra, 'lp', prov, 'eth0');
    link(consumerRouter, 'lc', cons, 'eth0');
    bridge(ra, 'br1', t.sameLan === true ? ['lp', 'lc'] : ['lp']);
    if (t.sameLan !== true) bridge(rb, 'br1', ['lc']);
    addr(ra, 'br1', '10.1.0.1/24');
    if (t.sameLan !== true) addr(rb, 'br1', '10.2.0.1/24');
    addr(ra, 'wan', `${WAN_A}/24`);
    addr(rb, 'wan', `${WAN_B}/24`);
    up(ra, 'wan');
    up(rb, 'wan');
    addr(prov, 'eth0', '10.1.0.2/24');
    addr(cons, 'eth0', t.sameLan === true ? '10.1.0.3/24' : '10.2.0.2/24');
    up(prov, 'eth0');
    up(cons, 'eth0');
    this.exec(prov, ['ip', 'route', 'add', 'default', 'via', '10.1.0.1']);
    this.exec(cons, ['ip', 'route', 'add', 'default', 'via', t.sameLan === true ? '10.1.0.1' : '10.2.0.1']);
    this.#router(ra, t.natA, { ...(t.lossA !== undefined ? { loss: t.lossA } : {}) });
    this.#router(rb, t.natB, { udpBlocked: t.udpBlockedB === true });
    if (t.rateMbitA !== undefined) {
      // tbf on router A's WAN egress: what the provider sends (a home uplink).
      this.exec(ra, [
        'tc',
        'qdisc',
        'add',
        'dev',
        'wan',
        'root',
        'tbf',
        'rate',
        `${t.rateMbitA}mbit`,
        'burst',
        '32kb',
        'latency',
        '100ms',
      ]);
    }
  }

  #router(ns: string, nat: Nat, o: { loss?: number; udpBlocked?: boolean }): void {
    this.exec(ns, ['sysctl', '-qw', 'net.ipv4.ip_forward=1']);
    const rules = [
      'table ip lab {',
      '  chain post {',
      '    type nat hook postrouting priority srcnat; policy accept;',
      `    oifname "wan" masquerade${nat === 'symmetric' ? ' fully-random' : ''}`,
      '  }',
      // New inbound on the WAN is dropped before conntrack confirms it: an early ICE check from the peer
      // would otherwise leave an entry that takes the host's mapping (port) and moves it elsewhere.
      '  chain input {',
      '    type filter hook input priority filter; policy accept;',
      '    iifname "wan" ct state established,related accept',
      '    iifname "wan" counter drop',
      '  }',
      '  chain forwarding {',
      '    type filter hook forward priority filter; policy accept;',
      ...(o.loss !== undefined
        ? [`    numgen random mod 10000 < ${Math.round(o.loss * 10000)} counter drop`]
        : []),
      '    iifname "wan" ct state established,related accept',
      '    iifname "wan" counter drop',
      ...(o.udpBlocked === true ? ['    iifname "br1" meta l4proto udp counter drop'] : []),
      '  }',
      '}',
    ];
    sh(['ip', 'netns', 'exec', ns, 'nft', '-f', '-'], rules.join('\n') + '\n');
  }

  /** Adds a rule at the top of a router's forward chain (a condition applied mid-run). */
  addForwardRule(ns: string, rule: string): void {
    this.exec(ns, ['nft', 'insert', 'rule', 'ip', 'lab', 'forwarding', ...rule.split(' ')]);
  }

  async tempDir(what: string): Promise<string> {
    const d = await mkdtemp(join(tmpdir(), `sdrlink-netlab-${what}-`));
    this.#dirs.push(d);
    return d;
  }

  /** Starts coturn and the signaling server on the public segment. */
  async startPublic(): Promise<void> {
    this.#coturn = await startCoturn({
      secret: TURN_SECRET,
      listenIp: PUBLIC_IP,
      port: TURN_PORT,
      prefix: ['ip', 'netns', 'exec', this.ns.pub],
    });
    const dir = await this.tempDir('server');
    const srv = this.spawnIn(
      this.ns.pub,
      [
        'server',
        '--host',
        '0.0.0.0',
        '--port',
        String(HTTP_PORT),
        '--db',
        join(dir, 'db.sqlite'),
        '--turn-url',
        `turn:${PUBLIC_IP}:${TURN_PORT}`,
        '--log-level',
        'warn',
        // The lab registers its two users through the API (registration is closed by default).
        '--open-registration',
        // Row 6: the provider notices a dead direct path only at its 30 s send idle timeout.
        '--relay-join-timeout',
        '60000',
      ],
      { SDRLINK_TURN_SECRET: TURN_SECRET },
    );
    await srv.waitFor((l) => l['event'] === 'listening', 20_000, 'the server listening');
  }

  /** `sdrlink <args>` in a namespace, one JSON line per event collected. */
  spawnIn(ns: string, args: string[], env: Record<string, string> = {}): AgentProcess {
    const proc = spawn('ip', ['netns', 'exec', ns, process.execPath, CLI, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
    });
    this.#procs.push(proc);
    const lines: Array<Record<string, unknown>> = [];
    const waiters: Array<() => void> = [];
    let err = '';
    proc.stderr?.on('data', (d: Buffer) => {
      err += d.toString();
      if (err.length > 200_000) err = err.slice(-100_000);
    });
    createInterface({ input: proc.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      try {
        const v = JSON.parse(line) as unknown;
        if (typeof v === 'object' && v !== null) lines.push(v as Record<string, unknown>);
      } catch {
        return;
      }
      for (const w of waiters.splice(0)) w();
    });
    const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
    const waitFor: AgentProcess['waitFor'] = (pred, ms, what) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`${what}: not within ${ms} ms\n${err.slice(-3000)}`)),
          ms,
        );
        const check = () => {
          const hit = lines.find(pred);
          if (hit !== undefined) {
            clearTimeout(timer);
            resolve(hit);
            return;
          }
          if (proc.exitCode !== null) {
            clearTimeout(timer);
            reject(new Error(`${what}: the process exited (${proc.exitCode})\n${err.slice(-3000)}`));
            return;
          }
          waiters.push(check);
        };
        void exited.then(() => waiters.push(check) && check());
        check();
      });
    return { proc, lines, stderr: () => err, waitFor, exited };
  }

  /** Registers a user from inside the public segment; resolves with its token. */
  register(username: string, clientType: 1 | 2): string {
    const body = JSON.stringify({ username, password: 'netlab-password-1', client_type: clientType });
    const code = [
      `const post = (p, b) => fetch(${JSON.stringify(this.url)} + p, { method: 'POST', headers: { 'content-type': 'application/json' }, body: b });`,
      `const r = await post('/api/auth/register', ${JSON.stringify(body)});`,
      `if (r.status !== 201) { console.error(await r.text()); process.exit(1); }`,
      `const l = await post('/api/auth/login', ${JSON.stringify(JSON.stringify({ username, password: 'netlab-password-1' }))});`,
      `const b = await l.json(); if (!l.ok) { console.error(JSON.stringify(b)); process.exit(1); }`,
      `console.log(b.token);`,
    ].join('\n');
    return this.exec(this.ns.pub, [process.execPath, '--input-type=module', '-e', code]).trim();
  }

  /** The server's transfer record of a session (`GET /api/transfers`, from inside the public segment). */
  transferRecord(token: string, sessionId: string): Record<string, unknown> | undefined {
    const code = [
      `const r = await fetch(${JSON.stringify(this.url + '/api/transfers')}, { headers: { authorization: 'Bearer ' + ${JSON.stringify(token)} } });`,
      `const list = await r.json();`,
      `console.log(JSON.stringify(Array.isArray(list) ? list.find((t) => t.session_id === ${JSON.stringify(sessionId)}) ?? null : null));`,
    ].join('\n');
    const v = JSON.parse(
      this.exec(this.ns.pub, [process.execPath, '--input-type=module', '-e', code]),
    ) as unknown;
    return typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : undefined;
  }

  async destroy(): Promise<void> {
    for (const p of this.#procs) {
      if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    }
    await this.#coturn?.stop().catch(() => undefined);
    this.#removeNamespaces();
    for (const d of this.#dirs) await rm(d, { recursive: true, force: true });
  }

  #removeNamespaces(): void {
    for (const ns of Object.values(this.ns)) killNamespace(ns);
  }
}

export async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}
