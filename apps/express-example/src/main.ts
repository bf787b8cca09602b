import { runExample } from '@cycles-guard/example-chat';
import { startExample } from './server.ts';

await runExample('express-example', startExample);
