import 'reflect-metadata';
import { startExample } from './server.ts';

// The AWS SDK warns on every start that its 2027 releases need Node 22; this example targets Node 20.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

try {
  // Visible streaming on the emulator: first token after 200 ms, then a delta every 30 ms.
  const example = await startExample(process.env, { latency: { firstByteMs: 200, perChunkMs: 30 } });
  const { config } = example;
  const keys = [...config.apiKeys].map(([key, tenant]) => `${key} (${tenant})`).join(', ');
  console.log(`nestjs-example listening on ${example.url}`);
  console.log(`  Bedrock: ${example.bedrockTarget}, model ${config.modelId}`);
  console.log(
    `  Budget: $${config.dailyBudgetMicrocents / 100_000_000} per tenant per day; API keys: ${keys}`,
  );
  console.log(
    `  Try: curl -s ${example.url}/chat -H 'x-api-key: demo-key-acme' -H 'content-type: application/json' -d '{"message":"Hello"}'`,
  );
  const stop = () => void example.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
} catch (error) {
  console.error(`nestjs-example failed to start: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
