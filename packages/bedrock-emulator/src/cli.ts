#!/usr/bin/env node
import { parseCliArgs, USAGE } from './cli-options.ts';
import { startBedrockEmulator } from './server.ts';

// No top-level await: tsup also builds this entry as CommonJS.
async function main(): Promise<void> {
  let request: ReturnType<typeof parseCliArgs>;
  try {
    request = parseCliArgs(process.argv.slice(2));
  } catch (error) {
    console.error(`${error instanceof Error ? error.message : String(error)}\n\n${USAGE}`);
    process.exit(2);
  }
  if (request.help) {
    console.log(USAGE);
    return;
  }
  const emulator = await startBedrockEmulator(request.options);
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
