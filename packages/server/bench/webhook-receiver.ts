import { type ChildProcess, fork } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

// The webhooks benchmark's endpoint, in its own process: run on the load generator's event loop, parsing
// thousands of deliveries a second slowed the 50 reserving clients and so lowered the throughput
// measured with webhooks for a reason that is not the server's. A real receiver sits on another host;
// this one still shares the machine's cores. It answers 204 to every POST and, while told to measure,
// keeps each event's time from its `timestamp` to its arrival.

/** Messages from the benchmark: start or stop measuring, or report the latencies or the timeline so far. */
type Command = { measuring: boolean } | { report: true } | { timeline: true };

function serve(): void {
  const latencies: number[] = [];
  /** Each measured delivery's event time and arrival time (ms), flat: [event, arrival, event, ...]. */
  const timeline: number[] = [];
  let measuring = false;
  const endpoint = createServer((request, response) => {
    let body = '';
    request.setEncoding('utf8');
    request.on('data', (chunk: string) => {
      body += chunk;
    });
    request.on('end', () => {
      if (measuring) {
        const arrived = Date.now();
        const eventMs = Date.parse(JSON.parse(body).timestamp);
        latencies.push(arrived - eventMs);
        timeline.push(eventMs, arrived);
      }
      response.statusCode = 204;
      response.end();
    });
  });
  endpoint.listen(0, '127.0.0.1', () => process.send!({ port: (endpoint.address() as AddressInfo).port }));
  process.on('message', (command: Command) => {
    if ('report' in command) process.send!({ latencies });
    else if ('timeline' in command) process.send!({ timeline });
    else measuring = command.measuring;
  });
  process.on('disconnect', () => process.exit(0));
}

/** The receiver, seen from the benchmark. */
export interface WebhookReceiver {
  url: string;
  /** The receiver process's id (its CPU counts: it shares the machine's cores). */
  pid: number | undefined;
  measure(on: boolean): void;
  /** Event-to-arrival times (ms) of the deliveries received while measuring. */
  latencies(): Promise<number[]>;
  /** Event time and arrival time (ms) of each delivery received while measuring, flat: [event, arrival, ...]. */
  timeline(): Promise<number[]>;
  stop(): Promise<void>;
}

/** Starts the receiver in a child process (this file, run with the benchmark's own flags). */
export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const child: ChildProcess = fork(new URL(import.meta.url).pathname, ['--serve'], {
    execArgv: process.execArgv.filter((flag) => flag !== '--expose-gc'),
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (message: { port: number }) => resolve(message.port));
    child.once('exit', (code) => reject(new Error(`the webhook receiver exited (${code})`)));
  });
  return {
    url: `http://127.0.0.1:${port}/hook`,
    pid: child.pid,
    measure: (on) => child.send({ measuring: on } satisfies Command),
    latencies: () =>
      new Promise((resolve) => {
        child.once('message', (message: { latencies: number[] }) => resolve(message.latencies));
        child.send({ report: true } satisfies Command);
      }),
    timeline: () =>
      new Promise((resolve) => {
        child.once('message', (message: { timeline: number[] }) => resolve(message.timeline));
        child.send({ timeline: true } satisfies Command);
      }),
    stop: async () => {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.disconnect();
      await exited;
    },
  };
}

if (process.argv.includes('--serve')) serve();
