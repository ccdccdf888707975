/**
 * The HTTP API's error catalogue: every error answer is `{ error: { code, message } }` with one of
 * these stable codes (clients switch on the code, never on the message). HygieneErrors from the
 * engine keep their own code (e.g. NO_EMAIL_COLUMN) and get a status here.
 */
import type { FastifyError } from 'fastify';
import { withoutServerPaths } from '../domain/public-text.ts';
import { isHygieneError, type HygieneErrorCode } from '../errors.ts';

export type ApiErrorCode =
  | 'UNAUTHORIZED'
  | 'FORBIDDEN'
  | 'ADMIN_REQUIRED'
  | 'AUTH_RATE_LIMITED'
  | 'VALIDATION_FAILED'
  | 'MALFORMED_BODY'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'PAYLOAD_TOO_LARGE'
  | 'REQUEST_TIMEOUT'
  | 'UPLOAD_ABORTED'
  | 'RATE_LIMITED'
  | 'TOO_MANY_UPLOADS'
  | 'NOT_FOUND'
  | 'LIST_NOT_FOUND'
  | 'LIST_NOT_READY'
  | 'LIST_BUSY'
  | 'FILE_GONE'
  | 'WEBHOOK_NOT_CONFIGURED'
  | 'REDIS_UNAVAILABLE'
  | 'INTERNAL_ERROR';

export class ApiError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: ApiErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export interface ErrorBody {
  error: { code: string; message: string };
}

/** HygieneError codes a client caused (bad file, bad option), answered with 4xx. */
const CLIENT_HYGIENE_CODES: Partial<Record<HygieneErrorCode, number>> = {
  INPUT_NOT_FOUND: 422,
  INPUT_UNREADABLE: 422,
  INPUT_EMPTY: 422,
  INPUT_BINARY: 422,
  NO_EMAIL_COLUMN: 422,
  EMAIL_COLUMN_NOT_FOUND: 422,
  WEBHOOK_URL_REFUSED: 422,
  LIST_NOT_FOUND: 404,
  REDIS_UNAVAILABLE: 503,
};

/** Maps anything thrown in a handler (or by fastify itself) to a status and a stable body. */
export function toErrorResponse(err: unknown): { status: number; body: ErrorBody; internal: boolean } {
  const make = (status: number, code: string, message: string, internal = false) => ({ status, body: { error: { code, message } }, internal });
  if (err instanceof ApiError) return make(err.statusCode, err.code, err.message);
  if (isHygieneError(err)) {
    const status = CLIENT_HYGIENE_CODES[err.code];
    // Routes name the upload the way the client knows it; paths that still slip through lose their folders.
    if (status !== undefined) return make(status, err.code, withoutServerPaths(err.message));
    return make(500, 'INTERNAL_ERROR', 'The server failed to handle the request.', true);
  }
  const fe = err as Partial<FastifyError> & { validation?: unknown };
  if (fe.validation) return make(400, 'VALIDATION_FAILED', fe.message ?? 'The request is not valid.');
  switch (fe.code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return make(415, 'UNSUPPORTED_MEDIA_TYPE', 'This content type is not accepted here.');
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return make(400, 'MALFORMED_BODY', fe.message ?? 'The request body could not be parsed.');
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
    case 'FST_REQ_FILE_TOO_LARGE':
    case 'FST_PARTS_LIMIT':
    case 'FST_FILES_LIMIT':
    case 'FST_FIELDS_LIMIT':
      return make(413, 'PAYLOAD_TOO_LARGE', fe.message ?? 'The request is too large.');
    case 'FST_INVALID_MULTIPART_CONTENT_TYPE':
    case 'FST_MULTIPART_INVALID_CONTENT_TYPE':
      return make(415, 'UNSUPPORTED_MEDIA_TYPE', 'Expected multipart/form-data or text/csv.');
    default:
      break;
  }
  // JSON.parse failures from fastify's parser carry statusCode 400 but no code.
  if (fe.statusCode === 400) return make(400, 'MALFORMED_BODY', fe.message ?? 'The request body could not be parsed.');
  if (fe.statusCode === 413) return make(413, 'PAYLOAD_TOO_LARGE', fe.message ?? 'The request is too large.');
  if (fe.statusCode === 415) return make(415, 'UNSUPPORTED_MEDIA_TYPE', fe.message ?? 'Unsupported content type.');
  return make(500, 'INTERNAL_ERROR', 'The server failed to handle the request.', true);
}

export const ERROR_SCHEMA = {
  type: 'object',
  required: ['error'],
  properties: {
    error: { type: 'object', required: ['code', 'message'], properties: { code: { type: 'string' }, message: { type: 'string' } } },
  },
} as const;
