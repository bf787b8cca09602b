import { readFileSync } from 'node:fs';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import formatsPlugin from 'ajv-formats';
import { parse } from 'yaml';

// Validates a value against a named schema of one of the spec files checked in at the repo's `spec/`
// (the governance and v0.1.26 extension files, which the runtime contract recorder does not cover).

const ajv = new Ajv2020({ strict: false, allErrors: true });
formatsPlugin.default(ajv);
const loaded = new Set<string>();
const validators = new Map<string, ValidateFunction>();

function idOf(file: string): string {
  return `https://cycles-guard.invalid/${file}`;
}

function load(file: string): void {
  if (loaded.has(file)) return;
  const spec = parse(readFileSync(new URL(`../../../../spec/${file}`, import.meta.url), 'utf8')) as {
    components: unknown;
  };
  ajv.addSchema({ $id: idOf(file), components: spec.components });
  loaded.add(file);
}

/** The problems of `value` as schema `name` of spec `file` (empty when it conforms). */
export function specProblems(file: string, name: string, value: unknown): string[] {
  load(file);
  const key = `${file}#${name}`;
  let validate = validators.get(key);
  if (validate === undefined) {
    validate = ajv.compile({ $ref: `${idOf(file)}#/components/schemas/${name}` });
    validators.set(key, validate);
  }
  if (validate(value)) return [];
  return (validate.errors ?? []).map(
    (error) => `${error.instancePath || '/'} ${error.message ?? ''} ${JSON.stringify(error.params)}`,
  );
}

export const GOVERNANCE = 'cycles-governance-admin-v0.1.25.yaml';
export const EXTENSIONS = 'cycles-protocol-extensions-v0.1.26.yaml';
