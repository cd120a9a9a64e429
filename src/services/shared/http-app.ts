/**
 * The Fastify base both services build on: TypeBox validation (validation.ts), the one error shape
 * (error-handler.ts), optional HTTPS, and a `GET /healthz`.
 */
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { installErrorHandlers } from './error-handler.js';
import { typeboxValidatorCompiler } from './validation.js';

/** Options shared by `buildProductsApp` and `buildBatteriesApp`. */
export interface BaseAppOptions {
  /** Serve HTTPS with this key and certificate (PEM). */
  tls?: { key: string | Buffer; cert: string | Buffer };
  /** Fastify's logger option (default off). */
  logger?: FastifyServerOptions['logger'];
  /** Largest request body in bytes (default 1 MiB). */
  bodyLimit?: number;
}

/** Creates the base app for a service named `service`. */
export function createServiceApp(service: string, opts: BaseAppOptions): FastifyInstance {
  const common = {
    logger: opts.logger ?? false,
    bodyLimit: opts.bodyLimit ?? 1024 * 1024,
    // Fastify's default (`ignoreTrailingSlash` off) makes `/products/` a 404; both spellings work here.
    routerOptions: { ignoreTrailingSlash: true },
  };
  const app = (opts.tls !== undefined
    ? Fastify({ ...common, https: { key: opts.tls.key, cert: opts.tls.cert } })
    : Fastify(common)) as unknown as FastifyInstance;
  app.setValidatorCompiler(typeboxValidatorCompiler);
  installErrorHandlers(app, common.bodyLimit);
  const started = Date.now();
  app.get('/healthz', async () => ({
    status: 'ok',
    service,
    uptime_s: Math.round((Date.now() - started) / 1000),
  }));
  return app;
}
