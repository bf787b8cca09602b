import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { BedrockEmulatorOptions } from '@cycles-guard/bedrock-emulator';
import { type RunningExample, startExample as startChatExample } from '@cycles-guard/example-chat';
import { createChatApp } from './app.ts';

/** Reads the configuration from `env`, connects Bedrock (or starts the emulator) and listens (default port 3000). */
export function startExample(
  env: Record<string, string | undefined>,
  emulatorOptions: BedrockEmulatorOptions = {},
): Promise<RunningExample> {
  return startChatExample(env, {
    defaultPort: 3000,
    emulatorOptions,
    listen: async ({ cycles, client, config }) => {
      const app = createChatApp({
        cycles,
        bedrock: client,
        modelId: config.modelId,
        apiKeys: config.apiKeys,
      });
      const server = await new Promise<Server>((resolve, reject) => {
        const listening = app.listen(config.port, config.host, (error?: Error) =>
          error ? reject(error) : resolve(listening),
        );
      });
      return {
        port: (server.address() as AddressInfo).port,
        close: async () => {
          server.closeAllConnections();
          await new Promise((resolve) => server.close(resolve));
        },
      };
    },
  });
}
