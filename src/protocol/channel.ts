/**
 * The message channel the protocol runs over: the subset of the W3C RTCDataChannel that the sender and
 * receiver use. node-datachannel's polyfill channel, a browser's RTCDataChannel, the WebSocket relay
 * adapter and the in-memory test pair all fit it. Binary messages are delivered as ArrayBuffer
 * (set `binaryType = 'arraybuffer'` where the transport has it), text messages as string.
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
}
