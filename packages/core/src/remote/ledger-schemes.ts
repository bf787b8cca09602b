import type { BudgetAuthority } from '../authority.ts';
import { InvalidConfigError } from '../protocol/errors.ts';
import { createLazyAuthority } from './lazy-authority.ts';

// Ledgers named by a URL (`CYCLES_REDIS_URL`): a ledger package registers its URL schemes when it is
// imported, so core selects it from the environment without knowing the package.

/** What a ledger package registers for its URL schemes. */
export interface LedgerScheme {
  /** Creates the ledger for `url`; called on the first operation, not at configuration time. */
  create(options: { url: string; keyPrefix?: string }): BudgetAuthority;
  /** The ledger's outbox identity for these options, known before it is created (no secrets in clear). */
  identity(options: { url: string; keyPrefix?: string }): string;
}

// Per process, and shared by every copy of core (ESM and CJS builds, duplicate installs) through a
// global symbol: a handful of entries, one per registered scheme, holding no tenant data.
const REGISTRY_KEY = Symbol.for('cycles-guard.ledger-schemes');
const globalRegistry = globalThis as { [REGISTRY_KEY]?: Map<string, LedgerScheme> };
globalRegistry[REGISTRY_KEY] ??= new Map();
const registry = globalRegistry[REGISTRY_KEY];

const SCHEME = /^[a-z][a-z0-9+.-]*:$/;

/**
 * Registers the ledger for URLs of the given schemes (e.g. `['redis:', 'rediss:']`); a later
 * registration of the same scheme replaces the earlier one. Returns a function that removes it.
 */
export function registerLedgerScheme(schemes: readonly string[], scheme: LedgerScheme): () => void {
  for (const name of schemes) {
    if (!SCHEME.test(name)) {
      throw new InvalidConfigError(
        `schemes: "${name}" is not a URL scheme: pass it lower-case with its colon, e.g. "redis:"`,
        { details: { field: 'schemes' } },
      );
    }
  }
  for (const name of schemes) registry.set(name, scheme);
  return () => {
    for (const name of schemes) if (registry.get(name) === scheme) registry.delete(name);
  };
}

/**
 * The ledger that `url`'s scheme was registered for, created on its first operation. Throws
 * InvalidConfigError naming `variable` when no package registered the scheme.
 */
export function ledgerFromUrl(
  url: string,
  options: { keyPrefix?: string | undefined; variable: string; provider: string },
): BudgetAuthority {
  const schemeName = `${url.slice(0, url.indexOf(':')).toLowerCase()}:`;
  const scheme = registry.get(schemeName);
  if (scheme === undefined) {
    throw new InvalidConfigError(
      `${options.variable} is set but no ledger is registered for ${schemeName} URLs: import ` +
        `'${options.provider}' once at start-up, before the Cycles instance is created (install it ` +
        `with pnpm add ${options.provider}), or unset ${options.variable}`,
      { details: { field: options.variable } },
    );
  }
  const ledgerOptions = options.keyPrefix === undefined ? { url } : { url, keyPrefix: options.keyPrefix };
  const authority = createLazyAuthority(async () => scheme.create(ledgerOptions));
  // The identity the ledger gives itself, so its outbox journal is the same either way.
  return { ...authority, identity: scheme.identity(ledgerOptions) };
}
