/**
 * The message channel the protocol runs over: the subset of the W3C RTCDataChannel that the sender and
 * receiver use. node-datachannel's polyfill channel, a browser's RTCDataChannel, the WebSocket relay
 * adapter and the in-memory test pair all fit it. Binary messages are delivered as ArrayBuffer
 * (set `binaryType = 'arraybuffer'` where the transport has it) or as a Uint8Array view whose memory the
 * transport never reuses (the relay adapter), text messages as string.
 *
 * Contract the sender relies on (W3C semantics): `send` takes its bytes before it returns — the caller
 * reuses the same buffer for the next frame. An adapter over a transport that keeps a reference to the
 * passed buffer (e.g. `ws` on the server side) must copy. A view (`Uint8Array` with an offset) sends
 * exactly the bytes it covers.
 *
 * While `sendFile`/`receiveFile` run they own `onmessage` and `onbufferedamountlow`, and wrap `onopen`,
 * `onclose` and `onerror` (the previous handlers are still called); all five are restored when they
 * settle. They never close the channel: the caller does, after the promise settles.
 */
export interface Channel {
  readonly readyState: 'connecting' | 'open' | 'closing' | 'closed';
  /** Bytes queued by `send` and not yet handed to the network. */
  readonly bufferedAmount: number;
  bufferedAmountLowThreshold: number;
  send(data: string | ArrayBuffer | ArrayBufferView): void;
  close(): void;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: unknown) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  onbufferedamountlow: ((ev: unknown) => void) | null;
  /**
   * Optional, not W3C: stop / restart delivering messages, where the transport can (a WebSocket can pause
   * its socket; a data channel cannot). The receiver uses it when its disk falls behind.
   */
  pauseReading?(): void;
  resumeReading?(): void;
}
