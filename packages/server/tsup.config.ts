import { packageBuild } from '../../tsup.base.ts';

export default packageBuild({
  entry: { index: 'src/index.ts', cli: 'src/cli.ts' },
  typedEntry: { index: 'src/index.ts' },
});
