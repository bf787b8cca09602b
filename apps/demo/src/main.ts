// The SDK warns about Node 20 on every start; the demo pins Node 20.19+ on purpose.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

import { parseArgs } from 'node:util';
import { DemoDashboard } from './dashboard.ts';
import { type DemoResult, MICROCENTS_PER_DOLLAR } from './scenario.ts';
import { SCENARIOS } from './scenarios.ts';

const dollars = (microcents: number) => `$${(microcents / MICROCENTS_PER_DOLLAR).toFixed(2)}`;
const seconds = (milliseconds: number) => `${(milliseconds / 1000).toFixed(1)} s`;

/** The human summary printed on stderr at the end of the run. */
export function summary(result: DemoResult, real: boolean, title = SCENARIOS.express?.title): string {
  return [
    '',
    `== Runaway agent vs cycles-guard: ${title} (${real ? 'real Bedrock' : 'Bedrock emulator'}, Claude Sonnet 4) ==`,
    result.stoppedByGuard
      ? `First denial at ${seconds(result.stoppedAtMs ?? 0)}: ${result.stopReason}` +
        (result.retryAfterSeconds === undefined
          ? ''
          : ` (Retry-After ${result.retryAfterSeconds} s: the daily window resets at midnight UTC)`)
      : 'The loop reached its deadline without exhausting the budget.',
    result.retryAfterSeconds === undefined
      ? `All ${result.workers} workers were stopped by ${seconds(result.elapsedMs)}.`
      : `All ${result.workers} workers honoured Retry-After and stopped by ${seconds(result.elapsedMs)}.`,
    `Calls: ${result.calls} (${result.allowed} allowed, ${result.capped} capped to fit the budget, ${result.denied} denied)`,
    ...(result.capped > 0
      ? [
          `Capped calls asked for 4096 output tokens and were granted ${result.cappedGrantedMaxTokens.join(', ')}` +
            ' so that their worst case still fit what was left.',
        ]
      : []),
    `Spent: $${(result.spentMicrocents / MICROCENTS_PER_DOLLAR).toFixed(4)} of ${dollars(result.budgetMicrocents)} budget (${result.spentMicrocents} µ¢ of ${result.budgetMicrocents} µ¢)`,
    `Unguarded: ~${dollars(result.unguardedMicrocents)} over the loop's ${seconds(result.projectionMs)} schedule =` +
      ` ${result.unguardedCalls} calls (${result.workers} workers back to back at ${result.averageUncappedCallMs} ms per uncapped call)` +
      ` × ${dollars(result.averageUncappedCostMicrocents)} (average cost of this run's uncapped calls).`,
    'The emulator streams ~25× faster than real Bedrock. At real speed (estimate: 0.5 s to first token,' +
      ` 60 tokens/s) the unguarded loop costs ~${dollars(result.unguardedPerHourAtRealSpeedMicrocents)}/hour,` +
      ` ~${dollars(result.unguardedPerHourAtRealSpeedMicrocents * 8)} over an 8-hour night;` +
      ` guarded, it stops at ${dollars(result.budgetMicrocents)} a day.`,
    `Finished in ${seconds(result.elapsedMs)}.`,
  ].join('\n');
}

function usage(message: string): never {
  process.stderr.write(
    `${message}\nUsage: pnpm demo [-- --scenario ${Object.keys(SCENARIOS).join('|')}] [--json] [--real] [--dashboard [--port N]]\n`,
  );
  process.exit(2);
}

async function main(): Promise<void> {
  let values: { json?: boolean; real?: boolean; scenario?: string; dashboard?: boolean; port?: string };
  try {
    ({ values } = parseArgs({
      // `pnpm demo -- --json` passes the `--` through; it is not an end-of-options marker here.
      args: process.argv.slice(2).filter((arg) => arg !== '--'),
      options: {
        json: { type: 'boolean' },
        real: { type: 'boolean' },
        scenario: { type: 'string', default: 'express' },
        dashboard: { type: 'boolean' },
        port: { type: 'string', default: '7879' },
      },
    }));
  } catch (error) {
    usage((error as Error).message);
  }
  const name = values.scenario ?? 'express';
  const scenario = SCENARIOS[name];
  if (scenario === undefined) usage(`Unknown scenario '${name}'.`);
  const region = process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION;
  if (values.real === true && !scenario.supportsReal) usage(`Scenario '${name}' runs on the emulator only.`);
  if (values.real === true && region === undefined) {
    usage('--real needs AWS_REGION (and AWS credentials); running on the emulator needs neither.');
  }
  const real = values.real === true;
  const port = Number(values.port);
  if (values.dashboard === true && name !== 'express') usage('--dashboard runs with the express scenario.');
  if (!Number.isInteger(port) || port < 0 || port > 65_535)
    usage(`--port must be a port number, got '${values.port}'.`);
  const dashboard = values.dashboard === true ? new DemoDashboard(port) : undefined;
  const result = await scenario.run({
    ...(real && region !== undefined ? { realRegion: region } : {}),
    onProgress: (line) => process.stderr.write(`${line}\n`),
    ...(dashboard === undefined
      ? {}
      : {
          onEvent: dashboard.onEvent,
          onCycles: async (cycles) => {
            const url = await dashboard.start(cycles);
            process.stderr.write(
              `Dashboard: ${url}  (admin key ${dashboard.adminKey}); the loop starts in 5 s\n`,
            );
            await new Promise((resolve) => setTimeout(resolve, 5_000));
          },
        }),
  });
  process.stderr.write(`${summary(result, real, scenario.title)}\n`);
  if (values.json === true) process.stdout.write(`${JSON.stringify(result)}\n`);
  if (dashboard !== undefined) {
    process.stderr.write('The dashboard stays up: Ctrl-C to stop.\n');
    await new Promise((resolve) => process.once('SIGINT', resolve));
    await dashboard.close();
  }
}

await main();
