import { randomBytes } from 'node:crypto';
import type { Cycles, CyclesEvent, Ledger } from '@cycles-guard/core';
import { SpendLog } from '@cycles-guard/core/reports';
import { type CyclesServer, RecentActivity, startCyclesServer } from '@cycles-guard/server';

/**
 * `pnpm demo -- --dashboard`: the server's live dashboard over the demo's embedded ledger, fed by the
 * guard's events (spend, denials, cuts), so a newcomer watches the runaway loop hit the wall.
 */
export class DemoDashboard {
  readonly adminKey = randomBytes(12).toString('hex');
  readonly #spendLog = new SpendLog();
  readonly #activity = new RecentActivity();
  #server: CyclesServer | undefined;

  constructor(private readonly port: number) {}

  readonly onEvent = (event: CyclesEvent): void => {
    this.#spendLog.onEvent(event);
    this.#activity.onEvent(event);
  };

  /** Serves the dashboard over the guard's ledger; answers its URL. */
  async start(cycles: Cycles): Promise<string> {
    this.#server = await startCyclesServer({
      port: this.port,
      ledgerInstance: cycles.authority as Ledger,
      adminApiKey: this.adminKey,
      spendLog: this.#spendLog,
      activity: this.#activity,
      logLevel: 'warn',
    });
    return `${this.#server.url}/dashboard`;
  }

  async close(): Promise<void> {
    await this.#server?.close();
  }
}
