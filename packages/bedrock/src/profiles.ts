import { normalizeModelId } from '@cycles-guard/core/llm';

/** Sends a `GetInferenceProfileCommand`; a `BedrockClient` of `@aws-sdk/client-bedrock` fits. */
export interface InferenceProfileClient {
  send(command: never): Promise<unknown>;
}

/** Options of {@link createInferenceProfileResolver}. */
export interface InferenceProfileResolverOptions {
  /**
   * The control-plane client that looks profiles up.
   * @default a `BedrockClient` of `@aws-sdk/client-bedrock` (an optional peer) in the profile's region
   */
  client?: InferenceProfileClient;
  /** Most profiles remembered. @default 1000 */
  maxProfiles?: number;
}

/** Maps an application inference profile ARN to the foundation model it runs (any id form). */
export type InferenceProfileResolver = (profileArn: string) => Promise<string>;

interface BedrockModule {
  BedrockClient: new (config: { region?: string }) => InferenceProfileClient;
  GetInferenceProfileCommand: new (input: { inferenceProfileIdentifier: string }) => unknown;
}

async function loadBedrock(): Promise<BedrockModule> {
  try {
    return (await import('@aws-sdk/client-bedrock')) as unknown as BedrockModule;
  } catch (error) {
    throw new TypeError(
      'createInferenceProfileResolver needs @aws-sdk/client-bedrock: install it (npm i @aws-sdk/client-bedrock) ' +
        'or map profiles with createCycles({ inferenceProfiles })',
      { cause: error },
    );
  }
}

/**
 * A resolver for the plugin's `resolveInferenceProfile` option: looks each application inference
 * profile up once with `GetInferenceProfile` and remembers the foundation-model ARN it runs (failed
 * lookups are not remembered, so the next call tries again). The ARN carries the model's region, so
 * the call is priced at regional rates.
 */
export function createInferenceProfileResolver(
  options: InferenceProfileResolverOptions = {},
): InferenceProfileResolver {
  const maxProfiles = options.maxProfiles ?? 1000;
  const known = new Map<string, Promise<string>>();
  const clients = new Map<string, InferenceProfileClient>();

  async function lookUp(profileArn: string): Promise<string> {
    const bedrock = await loadBedrock();
    const region = normalizeModelId(profileArn).region;
    let client = options.client ?? clients.get(region ?? '');
    if (client === undefined) {
      client = new bedrock.BedrockClient(region === undefined ? {} : { region });
      clients.set(region ?? '', client);
    }
    const command = new bedrock.GetInferenceProfileCommand({ inferenceProfileIdentifier: profileArn });
    const profile = (await client.send(command as never)) as { models?: { modelArn?: string }[] };
    const modelArn = profile.models?.find((model) => typeof model.modelArn === 'string')?.modelArn;
    if (modelArn === undefined) {
      throw new TypeError(
        `Inference profile ${profileArn} names no model (GetInferenceProfile returned no models)`,
      );
    }
    return modelArn;
  }

  return (profileArn) => {
    let pending = known.get(profileArn);
    if (pending === undefined) {
      if (known.size >= maxProfiles) known.clear();
      pending = lookUp(profileArn);
      known.set(profileArn, pending);
      pending.catch(() => known.delete(profileArn));
    }
    return pending;
  };
}
