/** The agents: the provider (Type1) and the consumer (Type2). */
export { startProvider, SDRLINK_PROTOCOL } from './provider.js';
export type { Provider, ProviderEvent, ProviderFaults, ProviderOptions } from './provider.js';
export { requestFile } from './consumer.js';
export type { RequestOptions, RequestResult } from './consumer.js';
export { AgentError } from './errors.js';
export type { AgentErrorCode } from './errors.js';
export { cleanupWebRtc } from './channel/webrtc.js';
export { parseTransportChoice } from './transport.js';
export type { TransportChoice, TransportKind } from './transport.js';
