import { SUBJECT_LEVELS } from './enums.ts';
import type { Subject } from './types.ts';

/**
 * Derives the cumulative scope paths of a subject in canonical order (tenant → workspace → app →
 * workflow → agent → toolset), skipping absent levels. Values are lower-cased, as the reference server
 * does, so `Acme` and `acme` name the same budget.
 */
export function affectedScopes(subject: Subject): string[] {
  const scopes: string[] = [];
  let path = '';
  for (const level of SUBJECT_LEVELS) {
    const value = subject[level];
    if (value === undefined || value === '') continue;
    const segment = `${level}:${value.toLowerCase()}`;
    path = path === '' ? segment : `${path}/${segment}`;
    scopes.push(path);
  }
  return scopes;
}

/** The full canonical path of a subject (the last affected scope), or '' when no level is set. */
export function scopePath(subject: Subject): string {
  const scopes = affectedScopes(subject);
  return scopes[scopes.length - 1] ?? '';
}

/** The last segment of a scope path, e.g. `agent:bot` for `tenant:acme/agent:bot`. */
export function leafSegment(path: string): string {
  const slash = path.lastIndexOf('/');
  return slash === -1 ? path : path.slice(slash + 1);
}

/** The tenant value of a scope path (`tenant:acme/...` → `acme`), or undefined when it has none. */
export function scopeTenant(path: string): string | undefined {
  if (!path.startsWith('tenant:')) return undefined;
  const slash = path.indexOf('/');
  return slash === -1 ? path.slice(7) : path.slice(7, slash);
}

/** A stable cache key for a subject's standard levels (dimensions never affect scopes). */
export function subjectKey(subject: Subject): string {
  return `${subject.tenant ?? ''}\u0000${subject.workspace ?? ''}\u0000${subject.app ?? ''}\u0000${
    subject.workflow ?? ''
  }\u0000${subject.agent ?? ''}\u0000${subject.toolset ?? ''}`;
}
