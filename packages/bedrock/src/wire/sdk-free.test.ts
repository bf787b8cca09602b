import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

// `@cycles-guard/bedrock/wire` is imported by packages that do not load the AWS SDK (the LangChain
// adapter's capped client): its modules may import core (its root and `./llm`) and each other only.
describe('@cycles-guard/bedrock/wire', () => {
  it('imports no AWS SDK or Smithy module', () => {
    const dir = import.meta.dirname;
    const sources = readdirSync(dir).filter((name) => name.endsWith('.ts') && !name.endsWith('.test.ts'));
    expect(sources).toContain('index.ts');
    for (const name of sources) {
      const imports = [...readFileSync(join(dir, name), 'utf8').matchAll(/from '([^']+)'/g)].map(
        (match) => match[1],
      );
      for (const source of imports)
        expect(source, `${name} imports ${source}`).toMatch(/^(\.\/|@cycles-guard\/core(\/llm)?$)/);
    }
  });
});
