import { MAX_JSON_DEPTH } from '@cycles-guard/core/ledger-kit';
import type { FastifyInstance } from 'fastify';
import { HttpRefusal } from './errors.ts';
import { findTooDeep } from './json-depth.ts';

/**
 * Deepest nesting a request body may have: the body object is level 1 and `metrics` level 2, so
 * `metrics.custom` (and `metadata`) may nest as deep as core's validation allows every ledger
 * (`MAX_JSON_DEPTH`); a value just past that limit still reaches the ledger, whose 400 names its path.
 * Checked before parsing, so thousands of levels (which once crashed recursive code with a 500) never
 * reach a parser.
 */
export const MAX_BODY_DEPTH = MAX_JSON_DEPTH + 2;

const CHARSET = /;\s*charset\s*=\s*"?([^";\s]*)"?/i;
const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** The declared charset, lowercased; undefined when none is declared. */
function charsetOf(contentType: string | undefined): string | undefined {
  return contentType === undefined ? undefined : CHARSET.exec(contentType)?.[1]?.toLowerCase();
}

/**
 * Replaces Fastify's body parsers with one for `application/json` in UTF-8 only (RFC 8259): another
 * declared charset is 415, bytes that are not UTF-8 are 400, and a body nested deeper than
 * `MAX_BODY_DEPTH` is 400 naming its top-level field, all before `JSON.parse` runs. A compressed body
 * (`Content-Encoding`) is 415: nothing here inflates it. The parse itself is
 * Fastify's (which refuses `__proto__` and `constructor.prototype` keys). Any other media type is 415.
 */
export function registerJsonBodyParser(app: FastifyInstance): void {
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, raw, done) => {
    const encoding = request.headers['content-encoding']?.trim().toLowerCase();
    if (encoding !== undefined && encoding !== '' && encoding !== 'identity') {
      done(
        new HttpRefusal(415, 'Compressed bodies are not accepted: send the JSON without Content-Encoding', {
          field: 'Content-Encoding',
        }),
      );
      return;
    }
    const charset = charsetOf(request.headers['content-type']);
    if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') {
      done(
        new HttpRefusal(
          415,
          'The body must be UTF-8 JSON: send Content-Type: application/json (charset utf-8)',
          {
            field: 'Content-Type',
          },
        ),
      );
      return;
    }
    let text: string;
    try {
      text = UTF8.decode(raw as Buffer);
    } catch {
      done(new HttpRefusal(400, 'The request body is not valid UTF-8: send UTF-8 JSON', { field: 'body' }));
      return;
    }
    const tooDeep = findTooDeep(text, MAX_BODY_DEPTH);
    if (tooDeep !== undefined) {
      done(
        new HttpRefusal(
          400,
          `${tooDeep.field} nests deeper than ${MAX_BODY_DEPTH} levels (the body counts as 1): flatten it`,
          { field: tooDeep.field, max_depth: MAX_BODY_DEPTH },
        ),
      );
      return;
    }
    parseJson(request, text, done);
  });
}
