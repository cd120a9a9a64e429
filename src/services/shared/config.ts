/**
 * The services' environment variables, read here and nowhere else in `src/services/`. Flags win over
 * them. Tokens are not commander defaults on purpose: `--help` prints defaults.
 */

/** Environment settings of the products and batteries services. */
export interface ServiceEnv {
  /** `SDRLINK_PRODUCTS_TOKEN`: the products service's write token. */
  productsToken: string | undefined;
  /** `SDRLINK_BATTERIES_TOKEN`: the batteries service's write token. */
  batteriesToken: string | undefined;
  /** `SDRLINK_SERVER`: signaling server URL. */
  server: string | undefined;
  /** `SDRLINK_CONSUMER_TOKEN`: consumer JWT the products service asks for reports with. */
  consumerToken: string | undefined;
  /** `SDRLINK_PROVIDER_TOKEN`: provider JWT the batteries service serves reports with. */
  providerToken: string | undefined;
  /** `SDRLINK_FAULT_CORRUPT_FRAME`: test fault, corrupt the n-th data frame the provider sends. */
  faultCorruptFrame: string | undefined;
}

const get = (name: string): string | undefined => {
  const v = process.env[name];
  return v === undefined || v === '' ? undefined : v;
};

/** Reads the environment. */
export function readServiceEnv(): ServiceEnv {
  return {
    productsToken: get('SDRLINK_PRODUCTS_TOKEN'),
    batteriesToken: get('SDRLINK_BATTERIES_TOKEN'),
    server: get('SDRLINK_SERVER'),
    consumerToken: get('SDRLINK_CONSUMER_TOKEN'),
    providerToken: get('SDRLINK_PROVIDER_TOKEN'),
    faultCorruptFrame: get('SDRLINK_FAULT_CORRUPT_FRAME'),
  };
}
