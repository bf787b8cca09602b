/** The Bedrock Runtime operations the emulator serves. */
export type Operation =
  | 'Converse'
  | 'ConverseStream'
  | 'InvokeModel'
  | 'InvokeModelWithResponseStream'
  | 'CountTokens';

/** Path suffix after `/model/{modelId}/` → operation. */
export const OPERATION_BY_PATH: Record<string, Operation> = {
  converse: 'Converse',
  'converse-stream': 'ConverseStream',
  invoke: 'InvokeModel',
  'invoke-with-response-stream': 'InvokeModelWithResponseStream',
  'count-tokens': 'CountTokens',
};

/** Whether an operation answers with an event stream. */
export function isStreamOperation(operation: Operation): boolean {
  return operation === 'ConverseStream' || operation === 'InvokeModelWithResponseStream';
}
