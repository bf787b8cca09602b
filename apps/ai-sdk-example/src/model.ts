import { createAmazonBedrock } from '@ai-sdk/amazon-bedrock';
import { cyclesMiddleware } from '@cycles-guard/ai-sdk';
import {
  type BedrockEmulator,
  type BedrockEmulatorOptions,
  startBedrockEmulator,
} from '@cycles-guard/bedrock-emulator';
import { type LanguageModel, wrapLanguageModel } from 'ai';

/** The guarded chat model, and what it talks to. */
export interface ChatModel {
  model: LanguageModel;
  /** `emulator at http://…` or `AWS <region>`, for the startup line. */
  target: string;
  /** The in-process emulator, when no AWS region was given (tests read its recorded requests). */
  emulator?: BedrockEmulator;
  close(): Promise<void>;
}

/** Options of {@link connectModel}. */
export interface ConnectOptions {
  awsRegion: string | undefined;
  modelId: string;
  emulator?: BedrockEmulatorOptions;
  /** Emulator only: how many steps the emulator answers with a getWeather call. @default 1 */
  emulatorToolCalls?: number;
}

/**
 * Bedrock through `@ai-sdk/amazon-bedrock`, wrapped with `cyclesMiddleware()`: every model call of
 * every step reserves, is capped and commits in the request's budget context. Real Bedrock in
 * `awsRegion` (credentials from the `AWS_*` variables), else an in-process emulator.
 */
export async function connectModel(options: ConnectOptions): Promise<ChatModel> {
  if (options.awsRegion !== undefined) {
    const bedrock = createAmazonBedrock({ region: options.awsRegion });
    const model = wrapLanguageModel({ model: bedrock(options.modelId), middleware: cyclesMiddleware() });
    return { model, target: `AWS ${options.awsRegion}`, close: async () => {} };
  }
  const emulator = await startBedrockEmulator({
    port: 0,
    toolCalls: {
      tool: 'getWeather',
      turns: options.emulatorToolCalls ?? 1,
      input: () => ({ city: 'Lisbon' }),
    },
    ...options.emulator,
  });
  const bedrock = createAmazonBedrock({
    region: 'us-east-1',
    baseURL: emulator.url,
    accessKeyId: 'AKIDEXAMPLE',
    secretAccessKey: 'emulator',
  });
  const model = wrapLanguageModel({ model: bedrock(options.modelId), middleware: cyclesMiddleware() });
  return { model, target: `emulator at ${emulator.url}`, emulator, close: () => emulator.close() };
}
