import { readFileSync } from 'node:fs';

// The runtime schemas this server speaks: the protocol spec (v0.1.25) with the v0.1.26 additive
// extensions merged in, read from the repo's `spec/` files. The extension file documents each addition
// as `<Schema>Extension` ("Implementations MUST accept these fields"); `policy_keys` takes its closed
// shape from the action-kinds file. Used at build time (request schemas) and by the contract tests,
// which pass their YAML parser in (the `yaml` package is a dev dependency of the packages, not the root).

type JsonObject = Record<string, unknown>;

interface SpecFile {
  paths?: Record<string, Record<string, JsonObject>>;
  components: { schemas: Record<string, JsonObject> };
}

const SPEC_DIR = new URL('../spec/', import.meta.url);

export const RUNTIME_SPEC = 'cycles-protocol-v0.yaml';
export const PROTOCOL_EXTENSIONS = 'cycles-protocol-extensions-v0.1.26.yaml';
export const ACTION_KINDS = 'cycles-action-kinds-v0.1.26.yaml';

/** Parses YAML text (the `parse` of the `yaml` package). */
export type YamlParse = (text: string) => unknown;

/** A spec file of the repo's `spec/` folder, parsed. */
export function readSpec(file: string, parse: YamlParse): SpecFile {
  return parse(readFileSync(new URL(file, SPEC_DIR), 'utf8')) as SpecFile;
}

/** Schemas the extensions add, copied as they are (with what they reference). */
const ADDED: readonly string[] = ['DenyDetail', 'ActionQuotaViolation', 'ObserveModeEnum'];

/** The runtime spec with the v0.1.26 extensions merged into the schemas they extend. */
export function composeRuntimeSpec(parse: YamlParse): SpecFile {
  const runtime = readSpec(RUNTIME_SPEC, parse);
  const extensions = readSpec(PROTOCOL_EXTENSIONS, parse).components.schemas;
  const kinds = readSpec(ACTION_KINDS, parse).components.schemas;
  const schemas = structuredClone(runtime.components.schemas);
  for (const name of ADDED) schemas[name] = structuredClone(extensions[name]!);
  // ActionQuotaViolation names ActionQuotaWindow and ActionRiskClass of the action-kinds file.
  for (const name of ['ActionQuotaWindow', 'ActionRiskClass', 'ActionPolicyKeys']) {
    schemas[name] = structuredClone(kinds[name]!);
  }
  for (const [name, extension] of Object.entries(extensions)) {
    if (!name.endsWith('Extension')) continue;
    const base = schemas[name.slice(0, -'Extension'.length)];
    if (base === undefined) continue;
    if (extension.type === 'string' && Array.isArray(extension.enum)) {
      base.enum = [...extension.enum];
      continue;
    }
    const added = extension.properties as JsonObject | undefined;
    if (added === undefined) continue;
    base.properties = { ...(base.properties as JsonObject), ...structuredClone(added) };
  }
  // The extension file leaves policy_keys an open object and points to the action-kinds file for it.
  (schemas.Action!.properties as JsonObject).policy_keys = { $ref: '#/components/schemas/ActionPolicyKeys' };
  return { ...runtime, components: { ...runtime.components, schemas } };
}
