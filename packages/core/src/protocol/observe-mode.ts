import { invalid } from './errors.ts';

// Observe mode (protocol extensions v0.1.26): the wire carries `ObserveModeEnum`, core a boolean
// (`observeMode: true` = OBSERVE; false = ENFORCE, of which DISABLED is a synonym).

export type WireObserveMode = 'OBSERVE' | 'ENFORCE' | 'DISABLED';

const MODES: readonly string[] = ['OBSERVE', 'ENFORCE', 'DISABLED'];

/** Wire enum → core boolean; anything else passes through for the validator to refuse by name. */
export function fromWireObserveMode(mode: unknown): boolean | undefined {
  if (mode === undefined || mode === null) return undefined;
  if (typeof mode === 'string' && MODES.includes(mode)) return mode === 'OBSERVE';
  return mode as boolean;
}

/** Core boolean → wire enum. */
export function toWireObserveMode(observe: boolean | undefined): WireObserveMode | undefined {
  return observe === undefined ? undefined : observe ? 'OBSERVE' : 'ENFORCE';
}

/** Throws INVALID_REQUEST unless `value` is a boolean (named `field`). */
export function validateObserveMode(value: unknown, field: string): void {
  if (value !== undefined && typeof value !== 'boolean') {
    throw invalid(field, 'must be OBSERVE, ENFORCE or DISABLED', 'send one of them (or a boolean in core)');
  }
}
