// Type-checks a README's code block as a user's project would: the strictest common tsconfig
// (`strict`, `noUncheckedIndexedAccess`, `exactOptionalPropertyTypes`, which our own tsconfig leaves
// off), resolved from the package's folder against the workspace's sources. Package tests call it, so
// a README snippet that no longer compiles fails that package's `pnpm test`.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';

const USER_STRICTEST: ts.CompilerOptions = {
  strict: true,
  noUncheckedIndexedAccess: true,
  exactOptionalPropertyTypes: true,
  target: ts.ScriptTarget.ES2022,
  module: ts.ModuleKind.NodeNext,
  moduleResolution: ts.ModuleResolutionKind.NodeNext,
  customConditions: ['@cycles-guard/source'],
  allowImportingTsExtensions: true,
  types: ['node'],
  skipLibCheck: true,
  noEmit: true,
};

/** The `nth` (from 0) ```ts block after the line `heading` of a README. */
export function readmeBlock(readmePath: string, heading: string, nth = 0): string {
  const text = readFileSync(readmePath, 'utf8');
  const start = text.split('\n').indexOf(heading);
  if (start < 0) throw new Error(`${readmePath}: no line '${heading}'`);
  const after = text
    .split('\n')
    .slice(start + 1)
    .join('\n');
  const blocks = [...after.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((match) => match[1] ?? '');
  const block = blocks[nth];
  if (block === undefined) throw new Error(`${readmePath}: no ts block ${nth} after '${heading}'`);
  return block;
}

/**
 * The type errors of `code` compiled as an ES module in `packageDir` (`prelude`: declarations a
 * fragment needs from an earlier block), as `line: message` strings; none when it compiles.
 */
export function typeErrors(
  packageDir: string,
  code: string,
  options: { prelude?: string; compilerOptions?: ts.CompilerOptions } = {},
): string[] {
  const fileName = join(packageDir, 'readme-snippet.mts');
  const source = `${options.prelude ?? ''}\n${code}\nexport {};\n`;
  const compilerOptions = { ...USER_STRICTEST, ...options.compilerOptions };
  const host = ts.createCompilerHost(compilerOptions);
  const { getSourceFile, fileExists, readFile } = host;
  host.fileExists = (name) => name === fileName || fileExists(name);
  host.readFile = (name) => (name === fileName ? source : readFile(name));
  host.getSourceFile = (name, language, ...rest) =>
    name === fileName ? ts.createSourceFile(name, source, language) : getSourceFile(name, language, ...rest);
  const program = ts.createProgram([fileName], compilerOptions, host);
  const snippet = program.getSourceFile(fileName);
  const diagnostics = [
    ...program.getSyntacticDiagnostics(snippet),
    ...program.getSemanticDiagnostics(snippet),
  ];
  const preludeLines = (options.prelude ?? '').split('\n').length;
  return diagnostics.map((diagnostic) => {
    const line =
      diagnostic.start === undefined || snippet === undefined
        ? '?'
        : snippet.getLineAndCharacterOfPosition(diagnostic.start).line + 1 - preludeLines;
    return `line ${line}: ${ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n')}`;
  });
}

/** The packages a code block imports (`@scope/name`, `name`), Node built-ins left out. */
function importedPackages(code: string): string[] {
  const specifiers = [...code.matchAll(/^import [^'"]*['"]([^'"]+)['"]/gm)].map((match) => match[1] ?? '');
  const names = specifiers
    .filter((specifier) => !specifier.startsWith('node:') && !specifier.startsWith('.'))
    .map((specifier) =>
      specifier
        .split('/')
        .slice(0, specifier.startsWith('@') ? 2 : 1)
        .join('/'),
    );
  return [...new Set(names)];
}

/** The quick start's imports that the `## Install` section's `pnpm add` line does not install. */
export function quickStartImportsNotInstalled(readmePath: string): string[] {
  const text = readFileSync(readmePath, 'utf8');
  const command = /^```sh\npnpm add ([^\n]+)\n```$/m.exec(text.slice(text.indexOf('\n## Install\n')))?.[1];
  if (command === undefined) throw new Error(`${readmePath}: no \`pnpm add\` block under '## Install'`);
  const installed = new Set(command.split(/\s+/));
  return importedPackages(readmeBlock(readmePath, '## Quick start')).filter((name) => !installed.has(name));
}
