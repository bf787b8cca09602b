// Run in a child process by telemetry-loading.test.ts: one guarded call, then which modules loaded.
import { createRequire } from 'node:module';
import { createCycles } from '../../cycles.ts';

const cycles = createCycles({
  ledgers: [{ scope: 'tenant:acme', unit: 'USD_MICROCENTS', allocated: 1_000_000 }],
  subject: { tenant: 'acme' },
  heartbeat: false,
  telemetry: process.argv[2] === 'on',
});
const call = await cycles.beginLlmCall({
  model: 'anthropic.claude-3-5-haiku-20241022-v1:0',
  inputTokens: 10,
  maxOutputTokens: 10,
});
await call.commit({ inputTokens: 10, outputTokens: 5 });
const loaded = Object.keys(createRequire(import.meta.url).cache).filter((path) =>
  path.includes('@opentelemetry'),
);
process.stdout.write(JSON.stringify({ loaded: loaded.length }));
