// One backend under the whole campaign: seeded model runs, the bad-input catalog, the noisy tenant
// and the fail() checks, each on a fresh target; figures summed into one report.

import { runBadInputs } from './bad-inputs.ts';
import { runCampaign } from './campaign.ts';
import { Tally } from './figures.ts';
import { type FloodOptions, runFlood } from './flood.ts';
import { runHttpProbes } from './http-probes.ts';
import { runFailCharges } from './llm-fail.ts';
import { quick } from './mode.ts';
import { subSeed } from './random.ts';
import type { Target } from './targets.ts';

export interface BackendSizes {
  runs: number;
  steps: number;
  flood: Pick<
    FloodOptions,
    'reservations' | 'events' | 'timeBoundMs' | 'concurrency' | 'floodInProcess' | 'finishBy'
  >;
}

export interface AttackOptions {
  seed: number;
  log: (line: string) => void;
  /** A fresh target (closed after each phase). */
  open: () => Promise<Target>;
  replay: string;
  /** Also send raw HTTP probes (server targets). */
  httpProbes?: boolean;
  sizes: { quick: BackendSizes; full: BackendSizes };
}

async function on<T>(
  open: () => Promise<Target>,
  work: (target: Target) => Promise<T>,
): Promise<[T, number]> {
  const target = await open();
  try {
    return [await work(target), target.serverErrors()];
  } finally {
    await target.close();
  }
}

export async function attackBackend(options: AttackOptions): Promise<Record<string, number | string>> {
  const sizes = quick() ? options.sizes.quick : options.sizes.full;
  const replay = quick() ? `${options.replay} --quick` : options.replay;
  const tally = new Tally(options.log);
  let operations = 0;
  let fiveXx = 0;
  const phase = async (name: string, work: (target: Target) => Promise<number>) => {
    const started = performance.now();
    const [count, errors] = await on(options.open, work);
    operations += count;
    fiveXx += errors;
    options.log(`  ${name}: ${count} operations in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  };
  for (let run = 0; run < sizes.runs; run += 1) {
    const seed = subSeed(options.seed, run);
    await phase(`run ${run} (seed ${seed})`, (target) =>
      runCampaign(target, tally, {
        seed,
        tenantPrefix: `r${run}x`,
        steps: sizes.steps,
        tenants: 3,
        timeSteps: true,
        replay: replay,
      }),
    );
  }
  await phase('bad inputs', (target) => runBadInputs(target, tally, 'malformed', replay));
  if (options.httpProbes === true) {
    await phase('raw HTTP probes', (target) => runHttpProbes(target, tally, replay));
  }
  await phase('fail() charges', (target) => runFailCharges(target, tally, 'failing', replay));
  let floodFigures: Record<string, number> = {};
  await phase('noisy tenant', async (target) => {
    floodFigures = await runFlood(target, tally, { ...sizes.flood, prefix: 'f', replay: replay });
    return floodFigures.operations ?? 0;
  });
  const { operations: _counted, ...flood } = floodFigures;
  // Server 5xx answers the HTTP authority saw but no incident named (e.g. inside a model step, where
  // the typed error counted as a mismatch): the figure is the larger of the two counts.
  tally.add('5xx answers', Math.max(0, fiveXx - (tally.counts.get('5xx answers') ?? 0)));
  return { runs: sizes.runs, operations, ...tally.figures(), ...flood };
}
