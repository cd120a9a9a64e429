/**
 * The Fastify base both services build on: the platform's app (src/http/app.ts: logging, optional HTTPS,
 * the one error shape) with TypeBox validation in the services' wording, the services' error registry
 * (error-handler.ts), and a `GET /healthz`.
 */
import type { FastifyInstance } from 'fastify';
import { createHttpApp } from '../../http/app.js';
import type { HttpLogOptions } from '../../http/logging.js';
import { createTypeBoxValidatorCompiler } from '../../http/typebox-validator.js';
import { serviceErrorReply } from './error-handler.js';
import { ServiceError } from './errors.js';

/** Options shared by `buildProductsApp` and `buildBatteriesApp`. */
export interface BaseAppOptions {
  /** Serve HTTPS with this key and certificate (PEM). */
  tls?: { key: string | Buffer; cert: string | Buffer };
  /** Logging (default none). */
  log?: HttpLogOptions;
  /** Largest request body in bytes (default 1 MiB). */
  bodyLimit?: number;
}

const validatorCompiler = createTypeBoxValidatorCompiler({
  style: 'service',
  fail: (message) => new ServiceError('ERR_VALIDATION', message),
});

/**
 * Creates the base app for a service named `service`; `health` adds fields to `GET /healthz` (read at
 * each call).
 */
export function createServiceApp(
  service: string,
  opts: BaseAppOptions,
  health: () => Record<string, unknown> = () => ({}),
): FastifyInstance {
  const bodyLimit = opts.bodyLimit ?? 1024 * 1024;
  const app = createHttpApp({
    log: opts.log,
    bodyLimit,
    tls: opts.tls,
    // Fastify's default (`ignoreTrailingSlash` off) makes `/products/` a 404; both spellings work here.
    routerOptions: { ignoreTrailingSlash: true },
    validatorCompiler,
    toErrorReply: (err) => serviceErrorReply(err, bodyLimit),
  });
  const started = Date.now();
  app.get('/healthz', async () => ({
    status: 'ok',
    service,
    uptime_s: Math.round((Date.now() - started) / 1000),
    ...health(),
  }));
  return app;
}
