/**
 * The one message-channel shape every transport adapter gives the protocol: a subset of the W3C
 * RTCDataChannel (node-datachannel's polyfill, a browser's channel, the WebSocket relay, an in-memory pair).
 * Text messages arrive as `string`, binary ones as `ArrayBuffer` (binaryType 'arraybuffer').
 */
export type { Channel } from '../../protocol/channel.js';
