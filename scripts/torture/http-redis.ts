// cycles-guard-server over the Redis ledger (a real redis-server), attacked over HTTP.

import { attackBackend } from './lib/attack.ts';
import type { TortureModule } from './lib/figures.ts';
import { HTTP_SIZES } from './lib/http-sizes.ts';
import { startRedisServer } from './lib/packages.ts';
import { httpOverRedis } from './lib/targets.ts';

export default {
  name: 'http over redis',
  async run({ seed, log }) {
    const server = await startRedisServer();
    try {
      return await attackBackend({
        seed,
        log,
        open: () => httpOverRedis(server.url),
        replay: `pnpm torture "http over redis" --seed ${seed}`,
        httpProbes: true,
        sizes: HTTP_SIZES,
      });
    } finally {
      await server.remove();
    }
  },
} satisfies TortureModule;
