/**
 * Channel factories over in-memory channel pairs (./channel-pair.ts), so a real provider and a real
 * consumer run in one process with the real signaling server but no WebRTC (pion's virtual network,
 * werift's mock transport). Both agents take a factory from one {@link MemoryHub}; the two sides of a
 * session meet there by session id, one pair per leg (direct, then relay).
 *
 * The direct leg keeps the signaling the agents expect: the offerer claims the session with a stand-in
 * offer (as it does before the relay), the answerer waits for it. No answer or candidates are exchanged.
 *
 * @example
 * const hub = createMemoryHub({ cutDirectAfterBytes: 1 << 20 });
 * await startProvider({ ...opts, channels: hub.channels('provider') });
 * await requestFile({ ...opts, channels: hub.channels('consumer') });
 */
import { AgentError } from '../../src/agents/errors.js';
import {
  awaitOffer,
  type ChannelFactory,
  type OpenedChannel,
  type SessionLink,
  type TransportKind,
} from '../../src/agents/transport.js';
import {
  createChannelPair,
  type ChannelPair,
  type ChannelPairOptions,
  type MemoryChannel,
} from './channel-pair.js';

export interface MemoryHubOptions {
  /** Options of every direct pair (its `corrupt` hook sees the offerer's messages as from `a`). */
  direct?: ChannelPairOptions;
  /** Cut the direct pair once more than this many binary bytes left the offerer. */
  cutDirectAfterBytes?: number;
  /** Every direct attempt fails, on both sides, as a failed ICE check or a connect timeout would. */
  failDirect?: 'ice-failed' | 'connect-timeout';
}

export interface MemoryLeg {
  /** The name given to {@link MemoryHub.channels}. */
  who: string;
  kind: TransportKind;
  sessionId: string;
}

export interface MemoryHub {
  /** A factory for one agent; `who` names it in {@link legs}. */
  channels(who: string): ChannelFactory;
  /** Every channel opened, in order. */
  readonly legs: MemoryLeg[];
  /** Every pair made (one per session leg). */
  readonly pairs: ChannelPair[];
}

interface Waiting {
  role: 'offerer' | 'answerer' | 'either';
  resolve(side: MemoryChannel): void;
}

/** Creates a hub whose factories meet by session id. */
export function createMemoryHub(opts: MemoryHubOptions = {}): MemoryHub {
  const waiting = new Map<string, Waiting>();
  const legs: MemoryLeg[] = [];
  const pairs: ChannelPair[] = [];

  /** Resolves with this participant's side once the other one has arrived too. */
  const meet = (key: string, role: Waiting['role'], kind: TransportKind): Promise<MemoryChannel> => {
    const other = waiting.get(key);
    if (other === undefined) {
      return new Promise((resolve) => waiting.set(key, { role, resolve }));
    }
    waiting.delete(key);
    const pair = kind === 'p2p' ? createDirectPair(opts) : createChannelPair();
    pairs.push(pair);
    // The offerer is `a`, so hooks see the provider's data as from `a`; on the relay, first come is `a`.
    const mine = role === 'offerer' || other.role === 'answerer' ? pair.a : pair.b;
    other.resolve(mine === pair.a ? pair.b : pair.a);
    return Promise.resolve(mine);
  };

  const open = async (
    link: SessionLink,
    who: string,
    kind: TransportKind,
    role: Waiting['role'],
    timeoutMs: number,
  ): Promise<OpenedChannel> => {
    const key = `${link.sessionId}/${kind}`;
    const side = await bounded(meet(key, role, kind), timeoutMs, link.signal, () => waiting.delete(key));
    await opened(side);
    legs.push({ who, kind, sessionId: link.sessionId });
    return { channel: side, kind, close: () => side.close() };
  };

  return {
    legs,
    pairs,
    channels(who) {
      return {
        async openP2P(link, role, postOffer) {
          if (role === 'offerer') {
            if (postOffer === undefined) throw new Error('offerer needs postOffer');
            await postOffer(JSON.stringify({ type: 'offer', sdp: 'v=0\r\n' }));
          } else {
            await awaitOffer(link);
          }
          if (opts.failDirect === 'ice-failed') {
            throw new AgentError('ERR_ICE_FAILED', 'direct connection failed: memory hub (test)');
          }
          if (opts.failDirect === 'connect-timeout') {
            throw new AgentError('ERR_CONNECT_TIMEOUT', 'no open data channel: memory hub (test)', {
              waitingFor: 'channel',
            });
          }
          return open(link, who, 'p2p', role, link.connectTimeoutMs);
        },
        openRelay: (link) => open(link, who, 'relay', 'either', link.relayTimeoutMs),
      };
    },
  };
}

/** A direct pair, cut after `cutDirectAfterBytes` from the offerer when asked. */
function createDirectPair(opts: MemoryHubOptions): ChannelPair {
  const cutAfter = opts.cutDirectAfterBytes;
  const user = opts.direct?.corrupt;
  if (cutAfter === undefined) return createChannelPair(opts.direct);
  let bytes = 0;
  let cut = false;
  const pair: ChannelPair = createChannelPair({
    ...opts.direct,
    corrupt: (msg, index, from) => {
      if (cut) return undefined;
      if (from === 'a' && typeof msg !== 'string') bytes += msg.byteLength;
      if (bytes > cutAfter) {
        cut = true;
        // Not from inside the pair's own delivery loop.
        setImmediate(() => pair.cut());
        return undefined;
      }
      return user === undefined ? msg : user(msg, index, from);
    },
  });
  return pair;
}

/** Rejects like the agents' own waits: ERR_CONNECT_TIMEOUT after `ms`, ERR_TRANSFER on abort. */
function bounded<T>(
  p: Promise<T>,
  ms: number,
  signal: AbortSignal | undefined,
  giveUp: () => void,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const fail = (e: Error) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      giveUp();
      reject(e);
    };
    const timer = setTimeout(
      () => fail(new AgentError('ERR_CONNECT_TIMEOUT', `memory hub: nobody came within ${ms} ms`)),
      ms,
    );
    const onAbort = () => fail(new AgentError('ERR_TRANSFER', 'memory hub: aborted'));
    signal?.addEventListener('abort', onAbort);
    void p.then((v) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      resolve(v);
    });
  });
}

/** Resolves once `side` is open (a pair opens on the tick after it is made). */
function opened(side: MemoryChannel): Promise<void> {
  if (side.readyState === 'open') return Promise.resolve();
  return new Promise((resolve) => {
    side.onopen = () => {
      side.onopen = null;
      resolve();
    };
  });
}
