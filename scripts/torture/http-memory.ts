// cycles-guard-server over the memory ledger, attacked over HTTP through createHttpAuthority (one API
// key per tenant) and with raw requests.

import { attackBackend } from './lib/attack.ts';
import type { TortureModule } from './lib/figures.ts';
import { HTTP_SIZES } from './lib/http-sizes.ts';
import { httpOverMemory } from './lib/targets.ts';

export default {
  name: 'http over memory',
  run: ({ seed, log }) =>
    attackBackend({
      seed,
      log,
      open: httpOverMemory,
      replay: `pnpm torture "http over memory" --seed ${seed}`,
      httpProbes: true,
      sizes: HTTP_SIZES,
    }),
} satisfies TortureModule;
