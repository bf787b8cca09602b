import { packageBuild } from '../../tsup.base.ts';

export default packageBuild({
  entry: { index: 'src/index.ts', cli: 'src/cli.ts' },
  external: ['vitest', 'fast-check'],
});
