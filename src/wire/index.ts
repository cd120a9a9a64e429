/**
 * The wire contract between the signaling server and its clients (docs/api.md): TypeBox schemas that are
 * at once the server's JSON Schema (validation, serialization), the TypeScript types both sides compile
 * against, and the checks the agents run on what the server sends. Isomorphic: it imports only
 * `@sinclair/typebox`, so the server, the agents and a browser share it (tsconfig.json here enforces it).
 */
export * from './auth.js';
export * from './catalog.js';
export * from './check.js';
export * from './errors.js';
export * from './keys.js';
export * from './push.js';
export * from './raw.js';
export * from './relay.js';
export * from './sessions.js';
