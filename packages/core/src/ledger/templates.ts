import type { LedgerTemplate } from './types.ts';

// Template patterns (extension): whole-path match, segment by segment, `level:*` matching any value.

/** Lower-cases a pattern's values so it compares with derived (lower-cased) scopes. */
export function normalizePattern(pattern: string): string {
  return pattern
    .split('/')
    .map((segment) => {
      const colon = segment.indexOf(':');
      return colon === -1 ? segment : `${segment.slice(0, colon)}:${segment.slice(colon + 1).toLowerCase()}`;
    })
    .join('/');
}

/** True if `scope` matches `pattern` segment for segment (same depth; `level:*` matches any value). */
export function matchesPattern(pattern: string, scope: string): boolean {
  const wanted = pattern.split('/');
  const actual = scope.split('/');
  if (wanted.length !== actual.length) return false;
  for (let i = 0; i < wanted.length; i++) {
    const want = wanted[i]!;
    const have = actual[i]!;
    if (want === have) continue;
    if (!want.endsWith(':*')) return false;
    if (!have.startsWith(want.slice(0, -1))) return false;
  }
  return true;
}

/** The first template (in the order added) for this scope and unit, if any. */
export function findTemplate(
  templates: readonly LedgerTemplate[],
  scope: string,
  unit: string,
): LedgerTemplate | undefined {
  for (const template of templates) {
    if (template.unit === unit && matchesPattern(template.pattern, scope)) return template;
  }
  return undefined;
}
