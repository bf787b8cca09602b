import 'reflect-metadata';
import { runExample } from '@cycles-guard/example-chat';
import { startExample } from './server.ts';

await runExample('nestjs-example', startExample);
