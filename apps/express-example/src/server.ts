import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { BedrockEmulatorOptions } from '@cycles-guard/bedrock-emulator';
import { createChatApp, createTenantBudgets } from './app.ts';
import { connectBedrock } from './bedrock.ts';
import { type ExampleConfig, readConfig } from './config.ts';

/** A started example: where it listens and how to stop it. */
export interface RunningExample {
  url: string;
  config: ExampleConfig;
  /** `emulator at http://…` or `AWS <region>`. */
  bedrockTarget: string;
  close(): Promise<void>;
}

/** Reads the configuration from `env`, connects Bedrock (or starts the emulator) and listens. */
export async function startExample(
  env: Record<string, string | undefined>,
  emulatorOptions: BedrockEmulatorOptions = {},
): Promise<RunningExample> {
  const config = readConfig(env, 3000);
  const bedrock = await connectBedrock(config.awsRegion, emulatorOptions);
  const cycles = createTenantBudgets(config.dailyBudgetMicrocents);
  const app = createChatApp({
    cycles,
    bedrock: bedrock.client,
    modelId: config.modelId,
    apiKeys: config.apiKeys,
  });
  let server: Server;
  try {
    server = await new Promise<Server>((resolve, reject) => {
      const listening = app.listen(config.port, config.host, (error?: Error) =>
        error ? reject(error) : resolve(listening),
      );
    });
  } catch (error) {
    await bedrock.close();
    throw error;
  }
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${config.host}:${port}`,
    config,
    bedrockTarget: bedrock.target,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await bedrock.close();
      await cycles.close();
    },
  };
}
