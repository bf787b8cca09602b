// Raw HTTP aimed at the server's own layer (parsing, limits, routing): every answer must be a 4xx in
// the protocol's error shape, without echoing request data, and never a 5xx.

import { request as httpRequest } from 'node:http';
import type { Tally } from './figures.ts';
import { PROTOCOL_ERROR_CODES } from './packages.ts';
import type { Target } from './targets.ts';

interface Probe {
  label: string;
  method: 'GET' | 'POST';
  path: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** Statuses that are a correct refusal. */
  statuses: number[];
}

interface RawAnswer {
  status: number;
  body: string;
}

/** node:http rather than fetch: fetch refuses to send some of these requests at all. */
function send(url: string, probe: Probe, apiKey: string): Promise<RawAnswer> {
  const target = new URL(url);
  return new Promise((resolve, reject) => {
    const outgoing = httpRequest(
      {
        host: target.hostname,
        port: target.port,
        method: probe.method,
        path: probe.path,
        headers: {
          'x-cycles-api-key': apiKey,
          ...(probe.body === undefined ? {} : { 'content-type': 'application/json' }),
          ...probe.headers,
        },
      },
      (incoming) => {
        const chunks: Buffer[] = [];
        incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
        incoming.on('end', () =>
          resolve({ status: incoming.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
        );
        incoming.on('error', reject);
      },
    );
    outgoing.on('error', reject);
    outgoing.end(probe.body);
  });
}

function deepJson(depth: number): string {
  return `${'{"d":'.repeat(depth)}1${'}'.repeat(depth)}`;
}

function probes(tenant: string, reservationId: string): Probe[] {
  const subject = `{"tenant":"${tenant}"}`;
  const action = '{"kind":"llm.completion","name":"m"}';
  const reserve = (metadata: string, key: string) =>
    `{"idempotency_key":"${key}","subject":${subject},"action":${action},"estimate":{"unit":"TOKENS","amount":1},"metadata":${metadata}}`;
  const deep = deepJson(5000);
  const longId = 'r'.repeat(70_000);
  return [
    {
      label: 'reserve, metadata nested 5,000 deep',
      method: 'POST',
      path: '/v1/reservations',
      body: reserve(deep, 'p-deep-r'),
      statuses: [400, 413],
    },
    {
      label: 'decide, metadata nested 5,000 deep',
      method: 'POST',
      path: '/v1/decide',
      body: reserve(deep, 'p-deep-d'),
      statuses: [400, 413],
    },
    {
      label: 'event, metadata nested 5,000 deep',
      method: 'POST',
      path: '/v1/events',
      body: `{"idempotency_key":"p-deep-e","subject":${subject},"action":${action},"actual":{"unit":"TOKENS","amount":1},"metadata":${deep}}`,
      statuses: [400, 413],
    },
    {
      label: 'commit, metrics.custom nested 5,000 deep',
      method: 'POST',
      path: `/v1/reservations/${reservationId}/commit`,
      body: `{"idempotency_key":"p-deep-c","actual":{"unit":"TOKENS","amount":1},"metrics":{"custom":${deep}}}`,
      statuses: [400, 413],
    },
    {
      label: 'extend, metadata nested 5,000 deep',
      method: 'POST',
      path: `/v1/reservations/${reservationId}/extend`,
      body: `{"idempotency_key":"p-deep-x","extend_by_ms":1000,"metadata":${deep}}`,
      statuses: [400, 413],
    },
    {
      label: 'a UTF-8 body labelled charset=utf-16',
      method: 'POST',
      path: '/v1/decide',
      headers: { 'content-type': 'application/json; charset=utf-16' },
      body: reserve('{}', 'p-utf16'),
      statuses: [400, 415],
    },
    {
      label: 'a text/plain body',
      method: 'POST',
      path: '/v1/decide',
      headers: { 'content-type': 'text/plain' },
      body: reserve('{}', 'p-text'),
      statuses: [400, 415],
    },
    {
      label: 'a body that is not JSON',
      method: 'POST',
      path: '/v1/events',
      body: '{"idempotency_key":',
      statuses: [400],
    },
    {
      label: 'a 1 MB body',
      method: 'POST',
      path: '/v1/events',
      body: reserve(`{"note":"${'x'.repeat(1 << 20)}"}`, 'p-big'),
      statuses: [413, 400],
    },
    {
      label: 'balances with cursor=garbage',
      method: 'GET',
      path: `/v1/balances?tenant=${tenant}&cursor=garbage`,
      statuses: [400],
    },
    {
      label: 'reservations with from_ms=abc',
      method: 'GET',
      path: '/v1/reservations?from_ms=abc',
      statuses: [400],
    },
    {
      label: 'an unknown route',
      method: 'GET',
      path: '/v1/no-such-route-probe-1234567890-abcdefghij-klmnopqrstuvwxyz-0123456789',
      statuses: [404],
    },
    {
      label: 'a 70,000-char path',
      method: 'GET',
      path: `/v1/reservations/${longId}`,
      statuses: [414, 431, 400],
    },
    {
      label: 'a 20 KB header',
      method: 'GET',
      path: `/v1/balances?tenant=${tenant}`,
      headers: { 'x-filler': 'h'.repeat(20_000) },
      statuses: [431, 400],
    },
  ];
}

/** Request data longer than this, found in an answer, was echoed. */
const ECHO_PROBE = 48;

function echoed(answer: string, probe: Probe): boolean {
  const sources = [
    probe.path.length > ECHO_PROBE ? probe.path.slice(-ECHO_PROBE) : '',
    ...Object.values(probe.headers ?? {})
      .filter((value) => value.length > ECHO_PROBE)
      .map((value) => value.slice(0, ECHO_PROBE)),
  ];
  return sources.some((source) => source !== '' && answer.includes(source));
}

function protocolShaped(body: string): boolean {
  try {
    const parsed = JSON.parse(body) as Record<string, unknown>;
    return (
      typeof parsed.error === 'string' &&
      (PROTOCOL_ERROR_CODES as readonly string[]).includes(parsed.error) &&
      typeof parsed.message === 'string' &&
      typeof parsed.request_id === 'string'
    );
  } catch {
    return false;
  }
}

export async function runHttpProbes(target: Target, tally: Tally, replay: string): Promise<number> {
  if (target.url === undefined || target.apiKey === undefined) return 0;
  const tenant = 'prober';
  await target.admin.createLedger({ scope: `tenant:${tenant}`, unit: 'TOKENS', allocated: 1_000_000 });
  const authority = await target.authority(tenant);
  const hold = await authority.reserve({
    idempotencyKey: 'p-hold',
    subject: { tenant },
    action: { kind: 'llm.completion', name: 'm' },
    estimate: { unit: 'TOKENS', amount: 5 },
    ttlMs: 3_600_000,
  });
  const apiKey = await target.apiKey(tenant);
  const list = probes(tenant, hold.reservationId as string);
  for (const probe of list) {
    const where = `${target.label} ${replay}: ${probe.method} ${probe.label}`;
    tally.badInputs.add(`http: ${probe.label}`);
    let answer: RawAnswer;
    try {
      answer = await send(target.url, probe, apiKey);
    } catch (error) {
      // The server may close the connection on a request it will not read: a refusal, but no answer.
      tally.incident('untyped errors', where, `no HTTP answer: ${String(error)}`);
      continue;
    }
    if (answer.status >= 500)
      tally.incident('5xx answers', where, `${answer.status} ${answer.body.slice(0, 120)}`);
    else if (answer.status < 400)
      tally.incident('accepted bad inputs', where, `${answer.status} ${answer.body.slice(0, 120)}`);
    else if (!probe.statuses.includes(answer.status))
      tally.incident('wrong error codes', where, `${answer.status}, expected ${probe.statuses.join(' or ')}`);
    if (answer.status >= 400 && !protocolShaped(answer.body)) {
      tally.incident(
        'untyped errors',
        where,
        `answer not in the protocol's error shape: ${answer.body.slice(0, 120) || '(empty body)'}`,
      );
    }
    if (echoed(answer.body, probe))
      tally.incident(
        'echoed request data',
        where,
        `${answer.status}: the answer repeats the request (${answer.body.length} chars)`,
      );
  }
  await probeSurrogateKeys(target.url, tally, tenant, apiKey, `${target.label} ${replay}`);
  const detail = await authority.getReservation(hold.reservationId as string);
  if (detail.status !== 'ACTIVE')
    tally.incident(
      'refusals that changed state',
      `${target.label} ${replay}: raw probes`,
      `the hold is ${detail.status}`,
    );
  const { balances } = await authority.getBalances({ tenant });
  const spent = balances[0]?.spent?.amount ?? 0;
  if (spent !== 0)
    tally.incident(
      'refusals that changed state',
      `${target.label} ${replay}: raw probes`,
      `spent ${spent} after refused requests`,
    );
  return list.length + 7;
}

/**
 * Keys that differ only in a lone surrogate, sent as JSON escapes (a client cannot put them in a
 * header): refused, or two reservations, never one.
 */
async function probeSurrogateKeys(
  url: string,
  tally: Tally,
  tenant: string,
  apiKey: string,
  where: string,
): Promise<void> {
  const ids: string[] = [];
  for (const surrogate of ['\\ud800', '\\udbff', '\\udc00']) {
    tally.badInputs.add(`http: reserve with a key ending in ${surrogate}x`);
    const body = `{"idempotency_key":"surrogate-pair${surrogate}x","subject":{"tenant":"${tenant}"},"action":{"kind":"llm.completion","name":"m"},"estimate":{"unit":"TOKENS","amount":0}}`;
    const answer = await send(
      url,
      { label: 'surrogate key', method: 'POST', path: '/v1/reservations', body, statuses: [400] },
      apiKey,
    );
    if (answer.status >= 500)
      tally.incident(
        '5xx answers',
        `${where}: reserve with a key ending in ${surrogate}x`,
        String(answer.status),
      );
    if (answer.status >= 200 && answer.status < 300)
      ids.push((JSON.parse(answer.body) as { reservation_id: string }).reservation_id);
  }
  if (new Set(ids).size < ids.length) {
    tally.incident(
      'merged keys',
      where,
      `keys differing only in lone surrogates share a reservation: ${ids.join(', ')}`,
    );
  }
}
