import { parseArgs } from 'node:util';
import type { BedrockEmulatorOptions } from './server.ts';

export const USAGE = `Usage: bedrock-emulator [options]

A local Amazon Bedrock Runtime (Converse, ConverseStream, InvokeModel, InvokeModelWithResponseStream,
CountTokens) speaking Bedrock's wire formats. Point an AWS SDK client's \`endpoint\` at the printed URL.

Options:
  --port N            port to listen on (0: any free port)              default 4010
  --host H            interface to bind                                 default 127.0.0.1
  --seed N            seed of the default output lengths and words      default 1
  --output-tokens N   output tokens of every answer (clamped to the request's max tokens)
  --first-byte-ms N   delay before a response starts                    default 0
  --chunk-ms N        delay between stream frames                       default 0
  --chunk-tokens N    tokens per stream delta, 1..64                    default 16
  --tool-calls        answer Converse requests that offer tools with a tool call
  --tool NAME         the tool to call                                  default the first offered
  --tool-turns N      turns that end in a tool call, then text          default every turn
  -h, --help          print this help and exit`;

/** What the command line asks for: the help text, or an emulator with these options. */
export type CliRequest = { help: true } | { help: false; options: BedrockEmulatorOptions };

function count(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const parsed = Number(value);
  if (value.trim() === '' || !Number.isFinite(parsed)) {
    throw new Error(`--${flag} needs a number, got '${value}'`);
  }
  return parsed;
}

/** Parses the CLI arguments; throws an Error naming the bad option (unknown option, non-number value). */
export function parseCliArgs(args: readonly string[]): CliRequest {
  // `pnpm start -- --port N` may forward a literal leading `--`, which parseArgs would treat as "end of options".
  const argv = args[0] === '--' ? args.slice(1) : [...args];
  const { values } = parseArgs({
    args: argv,
    options: {
      help: { type: 'boolean', short: 'h' },
      port: { type: 'string', default: '4010' },
      host: { type: 'string', default: '127.0.0.1' },
      seed: { type: 'string' },
      'output-tokens': { type: 'string' },
      'first-byte-ms': { type: 'string' },
      'chunk-ms': { type: 'string' },
      'chunk-tokens': { type: 'string' },
      'tool-calls': { type: 'boolean' },
      tool: { type: 'string' },
      'tool-turns': { type: 'string' },
    },
  });
  if (values.help === true) return { help: true };
  const options: BedrockEmulatorOptions = {
    port: count('port', values.port),
    host: values.host,
    seed: count('seed', values.seed),
    chunkTokens: count('chunk-tokens', values['chunk-tokens']),
    latency: {
      firstByteMs: count('first-byte-ms', values['first-byte-ms']),
      perChunkMs: count('chunk-ms', values['chunk-ms']),
    },
  };
  const outputTokens = count('output-tokens', values['output-tokens']);
  if (outputTokens !== undefined) options.outputTokens = outputTokens;
  const turns = count('tool-turns', values['tool-turns']);
  if (values['tool-calls'] === true || values.tool !== undefined || turns !== undefined) {
    options.toolCalls = {
      ...(values.tool === undefined ? {} : { tool: values.tool }),
      ...(turns === undefined ? {} : { turns }),
    };
  }
  return { help: false, options };
}
