import type { BedrockEmulatorOptions } from '@cycles-guard/bedrock-emulator';
import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { connectBedrock } from './bedrock.ts';
import { ChatModule, type ChatModuleOptions, createTenantBudgets } from './chat.module.ts';
import { type ExampleConfig, readConfig } from './config.ts';

/** The Nest application of the chat API (Express platform), not listening yet. */
export function createChatApp(options: ChatModuleOptions): Promise<INestApplication> {
  return NestFactory.create(ChatModule.register(options), {
    logger: ['error', 'warn'],
    forceCloseConnections: true,
  });
}

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
  const config = readConfig(env, 3001);
  const bedrock = await connectBedrock(config.awsRegion, emulatorOptions);
  const cycles = createTenantBudgets(config.dailyBudgetMicrocents);
  let app: INestApplication | undefined;
  try {
    app = await createChatApp({
      cycles,
      client: bedrock.client,
      modelId: config.modelId,
      apiKeys: config.apiKeys,
    });
    await app.listen(config.port, config.host);
  } catch (error) {
    await app?.close();
    await bedrock.close();
    throw error;
  }
  const { port } = app.getHttpServer().address() as { port: number };
  const started = app;
  return {
    url: `http://${config.host}:${port}`,
    config,
    bedrockTarget: bedrock.target,
    close: async () => {
      await started.close();
      await bedrock.close();
      await cycles.close();
    },
  };
}
