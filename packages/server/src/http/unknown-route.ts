import { NotFoundError } from '@cycles-guard/core';
import type { FastifyInstance } from 'fastify';
import { HttpRefusal, sendError } from './errors.ts';

interface KnownRoute {
  pattern: RegExp;
  methods: Set<string>;
}

function patternOf(url: string): RegExp {
  const escaped = url.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/:[A-Za-z_]+/g, '[^/]+');
  return new RegExp(`^${escaped}/?$`);
}

/**
 * Answers requests no route takes: 405 with `Allow` when the path exists under other methods, else 404.
 * Neither echoes the path or method back (they are the caller's bytes, possibly huge or hostile).
 * Call before registering routes: it records them as they are added.
 */
export function registerUnknownRouteHandler(app: FastifyInstance): void {
  const routes = new Map<string, KnownRoute>();
  app.addHook('onRoute', (route) => {
    const known = routes.get(route.url) ?? { pattern: patternOf(route.url), methods: new Set<string>() };
    for (const method of [route.method].flat()) known.methods.add(method);
    routes.set(route.url, known);
  });
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0] ?? '';
    const allowed = new Set<string>();
    for (const route of routes.values()) {
      if (route.pattern.test(path)) for (const method of route.methods) allowed.add(method);
    }
    if (allowed.size === 0) {
      return sendError(
        new NotFoundError('No such route: the Cycles protocol paths start with /v1/ (see the server README)'),
        request,
        reply,
      );
    }
    const methods = [...allowed].sort();
    reply.header('Allow', methods.join(', '));
    return sendError(
      new HttpRefusal(405, `This path does not take this method: use ${methods.join(' or ')}`, {
        field: 'method',
        allowed: methods,
      }),
      request,
      reply,
    );
  });
}
