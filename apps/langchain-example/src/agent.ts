import type { BedrockRuntimeClient } from '@aws-sdk/client-bedrock-runtime';
import type { Cycles, CyclesError } from '@cycles-guard/core';
import {
  CyclesCallbackHandler,
  type CyclesRunSettlement,
  findCyclesError,
  guardChatModel,
} from '@cycles-guard/langchain';
import { ChatBedrockConverse } from '@langchain/aws';
import { tool } from '@langchain/core/tools';
import { createAgent } from 'langchain';
import { z } from 'zod';

/** Options of {@link runResearchAgent}. */
export interface ResearchAgentOptions {
  cycles: Cycles;
  client: BedrockRuntimeClient;
  question: string;
  /** Bedrock model id (or inference profile) the agent uses. */
  model: string;
  /** Output tokens the agent asks for on every turn; the budget may cut them. */
  maxTokens: number;
  /** Turns the graph may take before LangGraph stops it (the budget usually stops it first). */
  recursionLimit?: number;
  /** Called when each model turn settles. */
  onTurn?: (turn: CyclesRunSettlement) => void;
}

/** How the run ended and what each turn cost. */
export interface ResearchAgentResult {
  status: 'answered' | 'stopped-by-budget';
  answer: string | undefined;
  /** The cycles-guard error that stopped it (typed: `code`, `message`, `details`). */
  error: CyclesError | undefined;
  turns: CyclesRunSettlement[];
}

/**
 * A LangChain agent with a price-lookup tool on Bedrock, every model turn under the budget: the
 * handler reserves before each turn, the capped client sends the granted max tokens, the turn's real
 * usage is committed, and a turn the budget cannot pay for stops the agent with BudgetExceededError.
 */
export async function runResearchAgent(options: ResearchAgentOptions): Promise<ResearchAgentResult> {
  const turns: CyclesRunSettlement[] = [];
  const handler = new CyclesCallbackHandler({
    cycles: options.cycles,
    onSettled: (turn) => {
      turns.push(turn);
      options.onTurn?.(turn);
    },
  });
  const lookupPrice = tool(
    async ({ model }: { model: string }) => {
      const { price } = options.cycles.catalog.resolve(model);
      return `${model}: $${price.inputPerMillion / 1e8} per million input tokens, $${price.outputPerMillion / 1e8} per million output tokens`;
    },
    {
      name: 'lookup_price',
      description: 'Looks up the Bedrock price of a model id.',
      schema: z.object({ model: z.string().describe('Bedrock model id') }),
    },
  );
  const model = guardChatModel(
    new ChatBedrockConverse({
      model: options.model,
      region: await options.client.config.region(),
      client: options.client,
      maxTokens: options.maxTokens,
    }),
    handler,
  );
  const agent = createAgent({ model, tools: [lookupPrice] });
  try {
    const result = await agent.invoke(
      { messages: [{ role: 'user', content: options.question }] },
      { recursionLimit: options.recursionLimit ?? 200 },
    );
    return { status: 'answered', answer: result.messages.at(-1)?.text, error: undefined, turns };
  } catch (error) {
    // Unwraps agent-middleware wrapping too (MiddlewareError with the denial as `cause`).
    const budgetError = findCyclesError(error);
    if (budgetError?.code !== 'BUDGET_EXCEEDED') throw error;
    return { status: 'stopped-by-budget', answer: undefined, error: budgetError, turns };
  }
}
