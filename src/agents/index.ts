/** The agents: the provider (Type1) and the consumer (Type2). */
export { startProvider } from './provider.js';
export type { Provider, ProviderEvent, ProviderFaults, ProviderOptions } from './provider.js';
export { requestFile } from './consumer.js';
export type { RequestOptions, RequestResult } from './consumer.js';
export { AGENT_ERROR_CODES, AgentError } from './errors.js';
export type { AgentErrorCode, AgentWait } from './errors.js';
export { cleanupWebRtc } from './channel/webrtc.js';
export { SignalingClient } from './signaling-client.js';
export { parsePin, pinMatches, tokenTravelsInClear, warnIfCleartext } from './server-trust.js';
export type { ServerTrust } from './server-trust.js';
export { createChannelFactory, directFailure, parseTransportChoice } from './transport.js';
export type {
  ChannelFactory,
  FallbackReason,
  OpenedChannel,
  RelayFallback,
  TransportChoice,
  TransportKind,
} from './transport.js';
/** The data-channel protocol's name, as consumers declare it in their sessions' `capabilities`. */
export { PROTOCOL_NAME as SDRLINK_PROTOCOL } from '../protocol/codec.js';
