import { checkGovResponse } from './gov-contract.ts';
import { ADMIN_KEY } from './http-ledger.ts';

/** Who calls: the admin key, a tenant's API key, or nobody. */
export type GovAuth = { admin: true } | { key: string } | undefined;

export interface GovReply {
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: a parsed JSON body (undefined when empty), read by tests
  body: any;
  /** The spec operation the response was checked against, if the route is one of the GOV spec's. */
  id?: string;
  /** What the GOV spec finds wrong with the response (none for routes it does not declare). */
  problems: string[];
}

/** One JSON request to the server at `origin`, its body parsed, with the GOV spec's verdict on it. */
export async function govFetch(
  origin: string,
  method: string,
  path: string,
  auth: GovAuth,
  body?: unknown,
): Promise<GovReply> {
  const headers: Record<string, string> = {};
  if (auth !== undefined) {
    if ('admin' in auth) headers['X-Admin-API-Key'] = ADMIN_KEY;
    else headers['X-Cycles-API-Key'] = auth.key;
  }
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const url = `${origin}${path}`;
  const response = await fetch(url, {
    method,
    headers,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  const parsed = text === '' ? undefined : JSON.parse(text);
  return { status: response.status, body: parsed, ...checkGovResponse(method, url, response.status, parsed) };
}
