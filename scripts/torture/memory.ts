// The embedded memory ledger under attack: model campaign, bad inputs, a noisy tenant, fail().

import { attackBackend } from './lib/attack.ts';
import type { TortureModule } from './lib/figures.ts';
import { memoryTarget } from './lib/targets.ts';

export default {
  name: 'memory',
  run: ({ seed, log }) =>
    attackBackend({
      seed,
      log,
      open: async () => memoryTarget(),
      replay: `pnpm torture memory --seed ${seed}`,
      sizes: {
        quick: {
          runs: 4,
          steps: 200,
          flood: { reservations: 10_050, events: 101_000, timeBoundMs: 20_000, concurrency: 1 },
        },
        full: {
          runs: 60,
          steps: 400,
          flood: { reservations: 10_050, events: 101_000, timeBoundMs: 60_000, concurrency: 1 },
        },
      },
    }),
} satisfies TortureModule;
