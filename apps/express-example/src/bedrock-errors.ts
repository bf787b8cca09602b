import { BedrockRuntimeServiceException } from '@aws-sdk/client-bedrock-runtime';
import type { ErrorRequestHandler } from 'express';

/**
 * Bedrock's own errors (throttling, access denied, validation, ...) → `502` naming Bedrock's error type.
 * The budget guard has already settled such a call: released if Bedrock refused it, charged if it failed
 * after output was produced.
 */
export const answerBedrockErrors: ErrorRequestHandler = (error, _request, response, next) => {
  if (!(error instanceof BedrockRuntimeServiceException) || response.headersSent) return next(error);
  response.status(502).json({ error: 'BEDROCK_ERROR', type: error.name, message: error.message });
};
