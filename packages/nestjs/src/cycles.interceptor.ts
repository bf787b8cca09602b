import {
  type Action,
  type BudgetContextOptions,
  currentCycles,
  type Hold,
  runWithBudget,
  type Subject,
} from '@cycles-guard/core';
import { mergeSubjects } from '@cycles-guard/core/llm';
import { validateSubject } from '@cycles-guard/core/protocol';
import {
  type CallHandler,
  type ExecutionContext,
  Inject,
  Injectable,
  type NestInterceptor,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { Observable, type Subscription } from 'rxjs';
import { type HeaderTarget, setBudgetHeaders } from './budget-headers.ts';
import { CyclesBudget, type CyclesDecoratorOptions, mergeDecoratorOptions } from './cycles.decorator.ts';
import {
  CYCLES_MODULE_OPTIONS,
  type CyclesHttpRequest,
  type CyclesModuleOptions,
} from './cycles.module-definition.ts';

/** The Node response under Express (`response`) or Fastify (`reply.raw`). */
interface RawResponse extends HeaderTarget {
  readonly writableFinished: boolean;
  on(event: 'close', listener: () => void): unknown;
  off(event: 'close', listener: () => void): unknown;
}

function rawResponse(response: unknown): RawResponse {
  const candidate = response as { raw?: RawResponse };
  return candidate.raw ?? (response as RawResponse);
}

function actionFor(context: ExecutionContext, options: CyclesDecoratorOptions): Action | undefined {
  if (options.action === undefined && options.estimate === undefined) return undefined;
  return {
    kind: options.action?.kind ?? 'custom',
    name: options.action?.name ?? `${context.getClass().name}.${context.getHandler().name}`,
    ...(options.action?.tags === undefined ? {} : { tags: options.action.tags }),
  };
}

/**
 * Runs every HTTP handler inside a budget context: the request's subject merged with `@CyclesBudget` parts,
 * the module's Cycles instance, and an AbortSignal that fires when the client disconnects or the
 * response Observable is unsubscribed (SSE client gone). Reserves and settles `@CyclesBudget({ estimate })`.
 */
@Injectable()
export class CyclesInterceptor implements NestInterceptor {
  constructor(
    @Inject(Reflector) private readonly reflector: Reflector,
    @Inject(CYCLES_MODULE_OPTIONS) private readonly options: CyclesModuleOptions,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler<unknown>): Observable<unknown> {
    if (context.getType() !== 'http') return next.handle();
    const decorated = mergeDecoratorOptions(
      this.reflector.getAll(CyclesBudget, [context.getClass(), context.getHandler()]),
    );
    if (decorated.skip === true) return next.handle();
    const http = context.switchToHttp();
    const request = http.getRequest<unknown>();
    const response = http.getResponse<unknown>();
    return new Observable<unknown>((subscriber) => {
      const controller = new AbortController();
      const raw = rawResponse(response);
      const onClose = (): void => {
        // 'close' before the write finished is a client disconnect (a normal end emits 'finish' first).
        if (!raw.writableFinished) controller.abort(new Error('Client disconnected'));
      };
      raw.on('close', onClose);
      let inner: Subscription | undefined;
      let hold: Hold | undefined;
      let ended = false;
      const start = async (): Promise<void> => {
        const contextOptions = await this.contextOptions(context, decorated, request, controller.signal);
        if (this.options.budgetHeaders !== false) {
          // Before any reservation, so denials and streamed responses carry them too.
          await setBudgetHeaders(contextOptions.cycles!, contextOptions.subject, raw);
        }
        if (decorated.estimate !== undefined) {
          const estimate = decorated.estimate;
          hold = await runWithBudget(contextOptions, () => contextOptions.cycles!.reserve({ estimate }));
        }
        if (subscriber.closed) {
          // The client left while the hold was being reserved: the handler never ran, nothing was spent.
          await settle(hold, 'release');
          return;
        }
        // Subscribe inside the context: ALS follows the subscription, not where the Observable was made.
        inner = runWithBudget(contextOptions, () =>
          next.handle().subscribe({
            next: (value) => subscriber.next(value),
            error: (error: unknown) => {
              ended = true;
              void settle(hold, 'release').finally(() => subscriber.error(error));
            },
            complete: () => {
              ended = true;
              void settle(hold, 'commit').finally(() => subscriber.complete());
            },
          }),
        );
      };
      start().catch((error: unknown) => {
        ended = true;
        void settle(hold, 'release').finally(() => subscriber.error(error));
      });
      return () => {
        raw.off('close', onClose);
        if (ended) return;
        // Unsubscribed before the handler ended: the client is gone. Stop in-flight work; the work may
        // have been paid for, so an estimate hold is committed, never released.
        controller.abort(new Error('Client disconnected'));
        inner?.unsubscribe();
        void settle(hold, 'commit');
      };
    });
  }

  private async contextOptions(
    context: ExecutionContext,
    decorated: CyclesDecoratorOptions,
    request: unknown,
    signal: AbortSignal,
  ): Promise<BudgetContextOptions> {
    let subject: Subject | undefined = decorated.subject;
    if (this.options.subject !== undefined) {
      const fromRequest = await this.options.subject(request as CyclesHttpRequest);
      // Checked alone first, as the Express middleware does: a missing tenant is a 400, not a
      // reservation at the decorator's `app:chat` scope (404 "budget not found").
      validateSubject(fromRequest);
      subject = mergeSubjects(fromRequest, decorated.subject);
      validateSubject(subject);
    }
    const action = actionFor(context, decorated);
    return {
      cycles: this.options.cycles ?? currentCycles(),
      signal,
      attributes: { request },
      ...(subject === undefined ? {} : { subject }),
      ...(action === undefined ? {} : { action }),
    };
  }
}

/** Settles an estimate hold once; a failed settlement is reported by core and must not fail the response. */
async function settle(hold: Hold | undefined, how: 'commit' | 'release'): Promise<void> {
  if (hold === undefined || hold.settled) return;
  const settlement = how === 'commit' ? hold.commit(hold.reserved) : hold.release('error');
  await settlement.catch(() => {});
}
