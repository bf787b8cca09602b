import type { BedrockRuntimeClient } from '@aws-sdk/client-bedrock-runtime';
import type { BedrockEmulatorOptions } from '@cycles-guard/bedrock-emulator';
import type { Cycles } from '@cycles-guard/core';
import { connectBedrock } from './bedrock.ts';
import { createTenantBudgets } from './budgets.ts';
import { type ExampleConfig, readConfig } from './config.ts';

/** What a framework's app needs to serve the chat API. */
export interface ChatAppDeps {
  /** The template budgets: one daily budget per tenant. */
  cycles: Cycles;
  /** A client carrying the cycles-guard Bedrock plugin. */
  client: BedrockRuntimeClient;
  config: ExampleConfig;
}

/** A framework's server, listening. */
export interface ListeningApp {
  port: number;
  close(): Promise<void>;
}

/** A started example: where it listens and how to stop it. */
export interface RunningExample {
  url: string;
  config: ExampleConfig;
  /** `emulator at http://…` or `AWS <region>`. */
  bedrockTarget: string;
  close(): Promise<void>;
}

export interface StartExampleOptions {
  /** `PORT` when the environment sets none. */
  defaultPort: number;
  /** Builds the framework's app and listens on `config.port` and `config.host`; cleans up after itself if it fails. */
  listen(deps: ChatAppDeps): Promise<ListeningApp>;
  emulatorOptions?: BedrockEmulatorOptions;
}

/** Reads the configuration from `env`, connects Bedrock (or starts the emulator) and has the app listen. */
export async function startExample(
  env: Record<string, string | undefined>,
  { defaultPort, listen, emulatorOptions = {} }: StartExampleOptions,
): Promise<RunningExample> {
  const config = readConfig(env, defaultPort);
  const bedrock = await connectBedrock(config.awsRegion, emulatorOptions);
  const cycles = createTenantBudgets(config.dailyBudgetMicrocents, config.alertWebhook);
  let app: ListeningApp;
  try {
    app = await listen({ cycles, client: bedrock.client, config });
  } catch (error) {
    await bedrock.close();
    await cycles.close();
    throw error;
  }
  return {
    url: `http://${config.host}:${app.port}`,
    config,
    bedrockTarget: bedrock.target,
    close: async () => {
      await app.close();
      await bedrock.close();
      await cycles.close();
    },
  };
}

/**
 * `pnpm start`: starts the example with visible streaming on the emulator, prints where it listens and
 * how to try it, and stops on SIGINT/SIGTERM. A start failure is printed and exits 1.
 */
export async function runExample(
  name: string,
  start: (
    env: Record<string, string | undefined>,
    emulatorOptions: BedrockEmulatorOptions,
  ) => Promise<RunningExample>,
): Promise<void> {
  // The AWS SDK warns on every start that its 2027 releases need Node 22; the examples target Node 20.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  try {
    // Visible streaming on the emulator: first token after 200 ms, then a delta every 30 ms.
    const example = await start(process.env, { latency: { firstByteMs: 200, perChunkMs: 30 } });
    const { config } = example;
    const keys = [...config.apiKeys].map(([key, tenant]) => `${key} (${tenant})`).join(', ');
    console.log(`${name} listening on ${example.url}`);
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
    console.error(`${name} failed to start: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  }
}
