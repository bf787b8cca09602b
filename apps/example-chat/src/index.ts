export { type AlertView, type BalanceView, tenantAlerts, tenantBalances, toBalanceView } from './balances.ts';
export { type BedrockConnection, connectBedrock } from './bedrock.ts';
export { type BudgetAlertWebhook, createTenantBudgets } from './budgets.ts';
export {
  type ChatRequest,
  ChatRequestError,
  type ChatResult,
  type ChatStream,
  chat,
  parseChatRequest,
  startChatStream,
} from './chat.ts';
export { type ExampleConfig, readConfig } from './config.ts';
export {
  type ChatAppDeps,
  type ListeningApp,
  type RunningExample,
  runExample,
  type StartExampleOptions,
  startExample,
} from './example.ts';
