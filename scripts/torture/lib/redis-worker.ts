// A child process of the Redis module: the model campaign (no clock moves: the processes share one
// key prefix and a sweep would use this process's clock) plus its slice of the crowd. Prints its
// figures as the last line of stdout.

import { runCampaign } from './campaign.ts';
import { crowdSlice } from './crowd.ts';
import { Tally } from './figures.ts';
import { subSeed } from './random.ts';
import { redisTarget } from './targets.ts';

const [url, prefix, seedText, workerText, stepsText, crowdText, replay] = process.argv.slice(2) as string[];
const seed = Number(seedText);
const worker = Number(workerText);
const tally = new Tally((line) => process.stderr.write(`${line}\n`));
const target = redisTarget(url as string, prefix);
try {
  const campaignSeed = subSeed(seed, 1000 + worker);
  const campaign = runCampaign(target, tally, {
    seed: campaignSeed,
    tenantPrefix: `w${worker}x`,
    steps: Number(stepsText),
    tenants: 2,
    timeSteps: false,
    replay: `${replay} (worker ${worker})`,
  });
  const crowd = crowdSlice(await target.authority('crowd'), tally, {
    seed: subSeed(seed, 2000 + worker),
    worker,
    operations: Number(crowdText),
    replay: replay as string,
  });
  const [operations, slice] = await Promise.all([campaign, crowd]);
  process.stdout.write(
    `\n${JSON.stringify({ figures: tally.figures(), operations: operations + slice.operations, charged: slice.charged })}\n`,
  );
} finally {
  await target.close();
}
