import { SUBJECT_LEVELS } from '../protocol/enums.ts';
import type { Subject } from '../protocol/types.ts';

/**
 * The subject's scope path cut to its first `levels` set levels (`tenant:acme` at 1), the one scope
 * a spend metric is labelled with: built directly, not by listing every affected scope.
 */
export function scopeAtDepth(subject: Subject, levels: number): string {
  let path = '';
  let depth = 0;
  for (const level of SUBJECT_LEVELS) {
    const value = subject[level];
    if (value === undefined || value === '') continue;
    const segment = `${level}:${value.toLowerCase()}`;
    path = path === '' ? segment : `${path}/${segment}`;
    if (++depth === levels) break;
  }
  return path;
}
