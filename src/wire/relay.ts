/**
 * The relay's own control messages (docs/api.md §6), sent by the server as text on
 * `/api/relay/{session_id}` beside the messages it forwards between the two sides: `relay-waiting` (the
 * other side is not there yet), `relay-ready` (both are in: send from now on), `relay-peer-left` (the
 * other side left; the server closes this one next).
 *
 * The transfer protocol's text messages (`{"type":"file-metadata",…}`, protocol.md) travel over the same
 * socket, so a text message is a control message if and only if it parses as a JSON object whose `type`
 * is one of these; anything else is the peer's and passes through untouched.
 */
import { Type, type Static } from '@sinclair/typebox';
import { createChecker } from './check.js';

export const RELAY_CONTROL_TYPES = ['relay-waiting', 'relay-ready', 'relay-peer-left'] as const;
export type RelayControlType = (typeof RELAY_CONTROL_TYPES)[number];

export const RelayControl = Type.Union(
  RELAY_CONTROL_TYPES.map((t) => Type.Object({ type: Type.Literal(t) })),
);
export type RelayControl = { type: RelayControlType };

const relayControl = createChecker(RelayControl);

/**
 * Recognises a relay control message.
 * @returns the message, or undefined when `text` is not one (not JSON, not an object, another `type`):
 *   then it is the peer's, to deliver as is.
 * @example parseRelayControl('{"type":"relay-ready"}') // { type: 'relay-ready' }
 * @example parseRelayControl('{"type":"file-metadata","filename":"a.npz","size":3}') // undefined
 */
export function parseRelayControl(text: string): RelayControl | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  return relayControl.check(v) ? (v as Static<typeof RelayControl>) : undefined;
}

/** The text of a control message, as the server sends it. */
export function relayControlText(type: RelayControlType): string {
  return JSON.stringify({ type } satisfies RelayControl);
}
