#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { CyclesError } from '@cycles-guard/core';
import { applyServerEnv, loadServerConfig, parseServerConfig } from './config.ts';
import { startCyclesServer } from './server.ts';

const USAGE = `Usage: cycles-guard-server [--config cycles.json]

Serves the Cycles protocol over a memory or Redis ledger.
  --config <file>   JSON config: host, port, ledger, apiKeys, adminApiKey, ledgers, templates, tenants
                    (default: $CYCLES_SERVER_CONFIG)
Environment (overrides the file): CYCLES_SERVER_HOST, CYCLES_SERVER_PORT, CYCLES_REDIS_URL,
  CYCLES_REDIS_CLUSTER_NODES (host:port,...), CYCLES_REDIS_KEY_PREFIX,
  CYCLES_ADMIN_API_KEY, CYCLES_SERVER_API_KEYS (key=tenant,...), CYCLES_LOG_LEVEL`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { config: { type: 'string', short: 'c' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help === true) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const file = values.config ?? process.env.CYCLES_SERVER_CONFIG;
  const config = applyServerEnv(file === undefined ? parseServerConfig({}) : loadServerConfig(file));
  const server = await startCyclesServer(config);
  server.app.log.info(
    { url: server.url, ledger: config.ledger.type, tenants: new Set(Object.values(config.apiKeys)).size },
    'cycles-guard-server listening',
  );
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    server.app.log.info({ signal }, 'shutting down: finishing in-flight requests');
    // A hung request must not keep the process alive forever.
    setTimeout(() => process.exit(1), 10_000).unref();
    server.close().then(
      () => process.exit(0),
      (error: unknown) => {
        server.app.log.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((error: unknown) => {
  const message = CyclesError.isInstance(error)
    ? error.message
    : error instanceof Error
      ? error.message
      : String(error);
  process.stderr.write(
    `cycles-guard-server: ${message}\n${CyclesError.isInstance(error) ? '' : `${USAGE}\n`}`,
  );
  process.exit(1);
});
