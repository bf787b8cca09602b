import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const script = fileURLToPath(new URL('./__fixtures__/guarded-call.ts', import.meta.url));

/** Runs one guarded call in a fresh process (tsx), answering how many @opentelemetry modules loaded. */
function modulesLoaded(telemetry: 'on' | 'off'): number {
  const output = execFileSync(process.execPath, ['--import', 'tsx', script, telemetry], { encoding: 'utf8' });
  return (JSON.parse(output) as { loaded: number }).loaded;
}

describe('telemetry: an optional peer', () => {
  it('loads nothing of @opentelemetry/api while telemetry is off', () => {
    expect(modulesLoaded('off')).toBe(0);
  });

  it('loads @opentelemetry/api once telemetry is on (the check above can see it)', () => {
    expect(modulesLoaded('on')).toBeGreaterThan(0);
  });
});
