import type { INestApplication, ModuleMetadata } from '@nestjs/common';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';

/** The HTTP platforms every Nest test runs on. */
export type Platform = 'express' | 'fastify';

/**
 * A real Nest app of `metadata` on `platform`, listening on a loopback port; `configure` runs before
 * it listens. Its URL names 127.0.0.1 even where Nest reports the IPv6 loopback.
 */
export async function startNestApp(
  platform: Platform,
  metadata: Pick<ModuleMetadata, 'imports' | 'controllers'>,
  configure?: (app: INestApplication) => void,
): Promise<{ app: INestApplication; url: string }> {
  const testingModule = await Test.createTestingModule(metadata).compile();
  // Without forcing, close() waits for the keep-alive sockets of disconnected clients.
  const options = { logger: false as const, forceCloseConnections: true };
  const app =
    platform === 'fastify'
      ? testingModule.createNestApplication(new FastifyAdapter(), options)
      : testingModule.createNestApplication(options);
  configure?.(app);
  await app.listen(0, '127.0.0.1');
  const url = (await app.getUrl()).replace('[::1]', '127.0.0.1');
  return { app, url };
}
