import { parseArgs } from 'node:util';
import { createCycles, createMemoryLedger } from '@cycles-guard/core';
import { runResearchAgent } from './agent.ts';
import { type BedrockTarget, emulatedBedrock, realBedrock } from './bedrock.ts';

const MICROCENTS_PER_DOLLAR = 100_000_000;
const { values } = parseArgs({
  // `pnpm start -- --flag` passes the `--` through.
  args: process.argv.slice(2).filter((arg) => arg !== '--'),
  options: {
    'budget-usd': { type: 'string', default: '0.05' },
    'tool-calls': { type: 'string', default: 'Infinity' },
    'max-tokens': { type: 'string', default: '1024' },
    model: { type: 'string', default: 'anthropic.claude-3-5-haiku-20241022-v1:0' },
    real: { type: 'string' },
  },
});

const budgetMicrocents = Math.round(Number(values['budget-usd']) * MICROCENTS_PER_DOLLAR);
const SCOPE = 'tenant:acme/agent:research';
const ledger = createMemoryLedger({
  ledgers: [{ scope: SCOPE, unit: 'USD_MICROCENTS', allocated: budgetMicrocents }],
});
const cycles = createCycles({ authority: ledger, subject: { tenant: 'acme', agent: 'research' } });
const target: BedrockTarget =
  values.real === undefined ? await emulatedBedrock(Number(values['tool-calls'])) : realBedrock(values.real);
const dollars = (microcents: number) => `$${(microcents / MICROCENTS_PER_DOLLAR).toFixed(6)}`;

console.log(
  `budget ${dollars(budgetMicrocents)} for ${SCOPE} on ${target.emulator?.url ?? `Bedrock ${values.real}`}`,
);
let turnCount = 0;
try {
  const result = await runResearchAgent({
    cycles,
    client: target.client,
    question: 'Which Claude model on Bedrock is cheapest for a 2,000-token answer?',
    model: values.model,
    maxTokens: Number(values['max-tokens']),
    onTurn: (turn) => {
      turnCount += 1;
      const charged = turn.settlement.status === 'committed' ? turn.settlement.charged : 0;
      console.log(
        `turn ${turnCount} (graph step ${turn.turn ?? '-'}): maxTokens ${turn.grantedMaxOutputTokens}${turn.capped ? ` (cut from ${turn.requestedMaxOutputTokens})` : ''}, held ${dollars(turn.reserved)}, ${turn.settlement.status} ${dollars(charged)}${turn.usage === undefined ? '' : ` (${turn.usage.inputTokens} in / ${turn.usage.outputTokens} out)`}`,
      );
    },
  });
  const balance = await ledger.getLedger(SCOPE, 'USD_MICROCENTS');
  console.log(
    result.status === 'answered'
      ? `answer: ${result.answer}`
      : `stopped: ${result.error?.code} ${result.error?.message}`,
  );
  console.log(
    `turns ${result.turns.length}, spent ${dollars(balance?.spent ?? 0)} of ${dollars(budgetMicrocents)}, still held ${dollars(balance?.reserved ?? 0)}`,
  );
} finally {
  await target.close();
  await cycles.close();
}
