import { type DemoOptions, type DemoResult, runDemo } from './scenario.ts';

/** One way of running the runaway agent; every scenario reports the same `DemoResult`. */
export interface Scenario {
  /** How the agent calls Bedrock, for the summary's title. */
  title: string;
  /** `onEvent` and `onCycles` (the dashboard) are honoured by the express scenario. */
  run(options: Pick<DemoOptions, 'realRegion' | 'onProgress' | 'onEvent' | 'onCycles'>): Promise<DemoResult>;
  /** Whether `--real` is supported (the scenario can call real Bedrock). */
  supportsReal: boolean;
}

/** `pnpm demo -- --scenario <name>`; loaded lazily so one scenario's framework never loads another's. */
export const SCENARIOS: Record<string, Scenario> = {
  express: {
    title: 'Express + AWS SDK plugin',
    run: (options) => runDemo(options),
    supportsReal: true,
  },
  'ai-sdk': {
    title: 'AI SDK streamText tool loops + cyclesMiddleware',
    run: async (options) => (await import('./scenarios/ai-sdk.ts')).runAiSdkScenario(options),
    supportsReal: false,
  },
  langchain: {
    title: 'LangChain createAgent + CyclesCallbackHandler',
    run: async (options) => (await import('./scenarios/langchain.ts')).runLangchainScenario(options),
    supportsReal: false,
  },
};
