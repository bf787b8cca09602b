import { packageBuild } from '../../tsup.base.ts';

export default packageBuild({
  entry: {
    index: 'src/index.ts',
    'wire/index': 'src/wire/index.ts',
    'prices-cli': 'src/prices/prices-cli.ts',
  },
  external: ['vitest', 'fast-check'],
});
