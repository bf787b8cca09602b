import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { BudgetAuthority } from '../authority.ts';
import { InvalidConfigError } from '../protocol/errors.ts';
import { createLazyAuthority } from './lazy-authority.ts';

/** The package that provides the Redis ledger. Core has no dependency on it: it is loaded on first use. */
export const REDIS_PACKAGE = '@cycles-guard/redis';

/** The part of `@cycles-guard/redis` core needs. */
export interface RedisLedgerModule {
  createRedisLedger(options: { url: string; keyPrefix?: string }): BudgetAuthority;
}

function isRedisModule(value: unknown): value is RedisLedgerModule {
  return typeof (value as Partial<RedisLedgerModule> | undefined)?.createRedisLedger === 'function';
}

/** Directories `@cycles-guard/redis` is resolved from: core's own location, then the application's. */
function resolutionBases(): string[] {
  const bases: string[] = [];
  try {
    bases.push(fileURLToPath(import.meta.url));
  } catch {
    // CommonJS build: import.meta is empty there, but __filename names this file.
    if (typeof __filename === 'string') bases.push(__filename);
  }
  bases.push(join(process.cwd(), 'package.json'));
  return bases;
}

/** Where `@cycles-guard/redis` resolves to, or undefined when it is not installed. */
export function resolveRedisPackage(): string | undefined {
  for (const base of resolutionBases()) {
    try {
      return createRequire(base).resolve(REDIS_PACKAGE);
    } catch {
      // Not resolvable from here: try the next base.
    }
  }
  return undefined;
}

function notInstalled(cause?: unknown): InvalidConfigError {
  return new InvalidConfigError(
    `CYCLES_REDIS_URL is set but ${REDIS_PACKAGE} could not be loaded: install it next to @cycles-guard/core ` +
      `(pnpm add ${REDIS_PACKAGE}) or unset CYCLES_REDIS_URL`,
    { details: { field: 'CYCLES_REDIS_URL' }, cause },
  );
}

/**
 * Imports `@cycles-guard/redis`: first as a bare import (resolved from core's own location, which works
 * with npm and with pnpm's default hoisting), then from the application's directory (`process.cwd()`),
 * which covers strict layouts where only the app depends on it.
 */
export async function importRedisPackage(): Promise<RedisLedgerModule> {
  // A variable specifier keeps bundlers and tsc from resolving a package core does not depend on.
  const specifier: string = REDIS_PACKAGE;
  const attempts: Array<() => Promise<unknown>> = [
    () => import(specifier),
    () => {
      const resolved = resolveRedisPackage();
      if (resolved === undefined) throw notInstalled();
      return import(pathToFileURL(resolved).href);
    },
  ];
  let lastError: unknown;
  for (const attempt of attempts) {
    try {
      const module = await attempt();
      if (isRedisModule(module)) return module;
      lastError = new Error(`${REDIS_PACKAGE} has no createRedisLedger export`);
    } catch (error) {
      lastError = error;
    }
  }
  throw notInstalled(lastError);
}

/**
 * The Redis ledger for `url` (keys under `keyPrefix`, default the package's), imported and created on first use (core cannot depend on the package).
 * With the default loader, a package that does not resolve fails at once with InvalidConfigError naming
 * CYCLES_REDIS_URL, so a misconfigured process stops at start-up rather than at its first call.
 */
export function createRedisAuthorityFromUrl(
  url: string,
  load?: () => Promise<RedisLedgerModule>,
  keyPrefix?: string,
): BudgetAuthority {
  if (load === undefined && resolveRedisPackage() === undefined) throw notInstalled();
  const loader = load ?? importRedisPackage;
  const options = keyPrefix === undefined ? { url } : { url, keyPrefix };
  const authority = createLazyAuthority(async () => (await loader()).createRedisLedger(options));
  // The same identity the Redis ledger gives itself, so its outbox journal is found either way.
  return { ...authority, identity: redisIdentity(url, keyPrefix ?? 'cycles:') };
}

/** The outbox identity of a Redis ledger: its URL and key prefix, as a digest (the URL may hold a password). */
export function redisIdentity(url: string, keyPrefix: string): string {
  return `redis ${createHash('sha256').update(`${url}\n${keyPrefix}`).digest('hex').slice(0, 24)}`;
}
