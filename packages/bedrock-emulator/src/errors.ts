/** Bedrock error types the emulator can answer with, and their HTTP statuses. */
export const ERROR_STATUS = {
  ValidationException: 400,
  AccessDeniedException: 403,
  ResourceNotFoundException: 404,
  UnknownOperationException: 404,
  ModelTimeoutException: 408,
  ThrottlingException: 429,
  ModelErrorException: 424,
  InternalServerException: 500,
  ServiceUnavailableException: 503,
} as const;

/** One of the Bedrock error type names in {@link ERROR_STATUS}. */
export type BedrockErrorType = keyof typeof ERROR_STATUS;

/** An error the emulator turns into a Bedrock error response (`x-amzn-ErrorType` + `{"message"}`). */
export class BedrockError extends Error {
  override readonly name = 'BedrockError';
  /** HTTP status sent to the client. */
  readonly status: number;

  constructor(
    /** Bedrock error type, e.g. `ValidationException`. */
    readonly type: BedrockErrorType,
    message: string,
  ) {
    super(message);
    this.status = ERROR_STATUS[type];
  }
}

/** Shorthand for a 400 ValidationException. */
export function validationError(message: string): BedrockError {
  return new BedrockError('ValidationException', message);
}

/** Bedrock's wording for a missing or mistyped required field in an InvokeModel body. */
export function malformedInput(detail: string): BedrockError {
  return validationError(`Malformed input request: ${detail}, please reformat your input and try again.`);
}
