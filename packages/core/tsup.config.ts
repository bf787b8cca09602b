import { packageBuild } from '../../tsup.base.ts';

export default packageBuild({
  entry: {
    index: 'src/index.ts',
    'ledger-kit/index': 'src/ledger-kit/index.ts',
    'llm/index': 'src/llm/index.ts',
    'protocol/index': 'src/protocol/index.ts',
    'reports/index': 'src/reports/index.ts',
    'testing/index': 'src/testing/index.ts',
    'webhooks/index': 'src/webhooks/index.ts',
  },
  external: ['vitest', 'fast-check'],
});
