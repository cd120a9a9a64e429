/**
 * Test faults for the agents, kept out of the production path: the provider's session sees them only
 * through {@link SendHooks} (a channel decorator and the announced file name), and the candidate fault
 * only through the channel factory it is given. `sdrlink provide` sets them from environment variables
 * (src/cli/provide.ts), for the end-to-end tests; never in normal use.
 */
import type { Channel } from '../protocol/channel.js';
import { createChannelFactory, type ChannelFactory, type OpenedChannel } from './transport.js';

export interface ProviderFaults {
  /** Flip one payload byte of the n-th data frame (1-based) sent, once per provider: tests CRC detection. */
  corruptFrame?: number;
  /** Withhold ICE candidates so no direct path forms: tests the relay fallback. */
  withholdCandidates?: boolean;
  /** Close the direct channel after this many payload bytes: tests mid-transfer failover. */
  dropChannelAfterBytes?: number;
  /** Kill this process (SIGKILL) after this many bytes sent: tests a provider dying mid-transfer. */
  killAfterBytes?: number;
  /** Announce these file names instead of the real one, one per session in turn: tests hostile names. */
  fileNames?: string[];
}

/** The one seam through which a provider session's sending can be altered (by test faults). */
export interface SendHooks {
  /** The channel the protocol writes to on this leg: `opened.channel` itself, or a decorator of it. */
  channel(opened: OpenedChannel): Channel;
  /** The file name announced to the consumer for a file really named `filename`. */
  filename(filename: string): string;
}

/** Hooks that change nothing. */
export const NO_SEND_HOOKS: SendHooks = {
  channel: (opened) => opened.channel,
  filename: (filename) => filename,
};

/**
 * The channel factory for agents with these faults: WebRTC and the relay, withholding candidates when
 * asked to.
 */
export function channelsWithFaults(faults: { withholdCandidates?: boolean } | undefined): ChannelFactory {
  return createChannelFactory(faults?.withholdCandidates === true ? { withholdCandidates: true } : {});
}

/**
 * Send hooks applying `faults`. They keep state for the whole provider: a frame is corrupted and a direct
 * channel dropped once per provider, and the file names are taken one per session.
 */
export function createFaultHooks(faults: ProviderFaults | undefined): SendHooks {
  const f: ProviderFaults = { ...faults };
  if (f.fileNames !== undefined) f.fileNames = [...f.fileNames];
  return {
    channel: (opened) => wrapFaults(opened, f),
    filename: (filename) =>
      f.fileNames !== undefined && f.fileNames.length > 0 ? (f.fileNames.shift() as string) : filename,
  };
}

/** Applies the frame faults to the channel the protocol sees. */
function wrapFaults(o: OpenedChannel, faults: ProviderFaults): Channel {
  const ch = o.channel;
  const corruptAt = faults.corruptFrame;
  const dropAfter = o.kind === 'p2p' ? faults.dropChannelAfterBytes : undefined;
  const killAfter = faults.killAfterBytes;
  if (corruptAt === undefined && dropAfter === undefined && killAfter === undefined) return ch;
  let frames = 0;
  let bytes = 0;
  let dropping = false;
  const send = (data: string | ArrayBuffer | ArrayBufferView): void => {
    if (dropping) return; // the link is "dead": nothing more goes out
    if (typeof data === 'string') return ch.send(data);
    frames++;
    const view = ArrayBuffer.isView(data)
      ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
      : new Uint8Array(data);
    bytes += view.byteLength;
    if (corruptAt !== undefined && frames === corruptAt && faults.corruptFrame !== undefined) {
      delete faults.corruptFrame; // once per provider
      return ch.send(flipLastByte(view));
    }
    if (killAfter !== undefined && bytes > killAfter) process.kill(process.pid, 'SIGKILL');
    if (dropAfter !== undefined && bytes > dropAfter && faults.dropChannelAfterBytes !== undefined) {
      delete faults.dropChannelAfterBytes; // once per provider
      dropping = true;
      closeWhenDrained(o);
      return;
    }
    ch.send(data);
  };
  return new Proxy(ch, {
    get(target, prop) {
      if (prop === 'send') return send;
      const v = Reflect.get(target, prop, target) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
    set(target, prop, value) {
      return Reflect.set(target, prop, value, target);
    },
  });
}

function flipLastByte(view: Uint8Array): Uint8Array {
  const copy = view.slice();
  const i = copy.byteLength - 1;
  copy[i] = (copy[i] as number) ^ 0xff;
  return copy;
}

/**
 * The link dies once what was sent has left: closing at once would discard up to the high-water mark
 * still buffered here, and the consumer might have received nothing.
 */
function closeWhenDrained(o: OpenedChannel): void {
  const started = Date.now();
  const poll = setInterval(() => {
    if (o.channel.bufferedAmount > 0 && Date.now() - started < 5000) return;
    clearInterval(poll);
    setTimeout(() => o.close(), 100);
  }, 10);
}
