import type { BedrockEmulatorOptions } from '@cycles-guard/bedrock-emulator';
import { type RunningExample, startExample as startChatExample } from '@cycles-guard/example-chat';
import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ChatModule, type ChatModuleOptions } from './chat.module.ts';

/** The Nest application of the chat API (Express platform), not listening yet. */
export function createChatApp(options: ChatModuleOptions): Promise<INestApplication> {
  return NestFactory.create(ChatModule.register(options), {
    logger: ['error', 'warn'],
    forceCloseConnections: true,
  });
}

/** Reads the configuration from `env`, connects Bedrock (or starts the emulator) and listens (default port 3001). */
export function startExample(
  env: Record<string, string | undefined>,
  emulatorOptions: BedrockEmulatorOptions = {},
): Promise<RunningExample> {
  return startChatExample(env, {
    defaultPort: 3001,
    emulatorOptions,
    listen: async ({ cycles, client, config }) => {
      let app: INestApplication | undefined;
      try {
        app = await createChatApp({ cycles, client, modelId: config.modelId, apiKeys: config.apiKeys });
        await app.listen(config.port, config.host);
      } catch (error) {
        await app?.close();
        throw error;
      }
      const started = app;
      return {
        port: (started.getHttpServer().address() as { port: number }).port,
        close: () => started.close(),
      };
    },
  });
}
