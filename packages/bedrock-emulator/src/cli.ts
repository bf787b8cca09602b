#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { startBedrockEmulator } from './server.ts';

const number = (value: string | undefined) => (value === undefined ? undefined : Number(value));

// No top-level await: tsup also builds this entry as CommonJS.
async function main(): Promise<void> {
  // `pnpm start -- --port N` may forward a literal leading `--`, which parseArgs would treat as "end of options".
  const argv = process.argv.slice(2);
  if (argv[0] === '--') argv.shift();
  const { values } = parseArgs({
    args: argv,
    options: {
      port: { type: 'string', default: '4010' },
      host: { type: 'string', default: '127.0.0.1' },
      seed: { type: 'string' },
      'first-byte-ms': { type: 'string' },
      'chunk-ms': { type: 'string' },
      'chunk-tokens': { type: 'string' },
    },
  });
  const emulator = await startBedrockEmulator({
    port: number(values.port),
    host: values.host,
    seed: number(values.seed),
    chunkTokens: number(values['chunk-tokens']),
    latency: { firstByteMs: number(values['first-byte-ms']), perChunkMs: number(values['chunk-ms']) },
  });
  console.log(`bedrock-emulator listening on ${emulator.url}`);
  let stopping = false;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (stopping) return;
      stopping = true;
      void emulator.close().then(() => process.exit(0));
    });
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
