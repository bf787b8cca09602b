import { BedrockRuntimeServiceException } from '@aws-sdk/client-bedrock-runtime';
import { type ArgumentsHost, Catch, type ExceptionFilter, Inject } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';

/**
 * Bedrock's own errors (throttling, access denied, validation, ...) → `502` naming Bedrock's error type.
 * The budget guard has already settled such a call: released if Bedrock refused it, charged if it failed
 * after output was produced.
 */
@Catch(BedrockRuntimeServiceException)
export class BedrockErrorsFilter implements ExceptionFilter {
  constructor(@Inject(HttpAdapterHost) private readonly adapterHost: HttpAdapterHost) {}

  catch(error: BedrockRuntimeServiceException, host: ArgumentsHost): void {
    const response = host.switchToHttp().getResponse<unknown>();
    const body = { error: 'BEDROCK_ERROR', type: error.name, message: error.message };
    this.adapterHost.httpAdapter.reply(response, body, 502);
  }
}
