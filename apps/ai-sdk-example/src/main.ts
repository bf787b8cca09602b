import { createBudgets, createChatApp } from './app.ts';
import { readConfig } from './config.ts';
import { connectModel } from './model.ts';

const config = readConfig(process.env);
const connection = await connectModel({
  awsRegion: config.awsRegion,
  modelId: config.modelId,
  emulatorToolCalls: config.emulatorToolCalls,
});
const cycles = createBudgets(config.dailyBudgetMicrocents, config.runBudgetMicrocents);
const app = createChatApp({ cycles, model: connection.model, apiKeys: config.apiKeys });
const server = app.listen(config.port, config.host, () => {
  const url = `http://${config.host}:${config.port}`;
  console.log(`ai-sdk-example on ${url} (model ${config.modelId}, Bedrock: ${connection.target})`);
  const [key] = config.apiKeys.keys();
  console.log(`  curl -N ${url}/chat -H 'x-api-key: ${key}' -H 'content-type: application/json' \\`);
  console.log(`    -d '{"prompt":"What is the weather in Lisbon?"}'`);
  console.log(`  curl ${url}/balances -H 'x-api-key: ${key}'`);
});

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    server.close();
    void connection.close().then(() => cycles.close());
  });
}
