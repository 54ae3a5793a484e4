import type { Behaviour } from './types';

/**
 * Gemini error responses as the real API sends them: `{"error":{code, message, status, details}}`
 * with google.rpc detail objects. Gemini sends no rate-limit headers, so none are set here.
 */

type ErrorBehaviour = Extract<Behaviour, { type: 'error' }>;

const SERVICE = 'generativelanguage.googleapis.com';

function googleError(code: number, status: string, message: string, details?: readonly object[]): ErrorBehaviour {
  return {
    type: 'error',
    status: code,
    body: { error: { code, message, status, ...(details === undefined ? {} : { details }) } },
  };
}

function quotaExceeded(options: {
  quotaId: string;
  metric: string;
  limit: number;
  model: string;
  retryDelay: string;
  preciseDelay: string;
}): ErrorBehaviour {
  return googleError(
    429,
    'RESOURCE_EXHAUSTED',
    'You exceeded your current quota, please check your plan and billing details. For more information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits. To monitor your current usage, head to: https://ai.dev/usage?tab=rate-limit. \n' +
      `* Quota exceeded for metric: ${SERVICE}/${options.metric}, limit: ${options.limit}, model: ${options.model}\n` +
      `Please retry in ${options.preciseDelay}.`,
    [
      {
        '@type': 'type.googleapis.com/google.rpc.QuotaFailure',
        violations: [
          {
            quotaMetric: `${SERVICE}/${options.metric}`,
            quotaId: options.quotaId,
            quotaDimensions: { location: 'global', model: options.model },
            quotaValue: String(options.limit),
          },
        ],
      },
      {
        '@type': 'type.googleapis.com/google.rpc.Help',
        links: [
          {
            description: 'Learn more about Gemini API quotas',
            url: 'https://ai.google.dev/gemini-api/docs/rate-limits',
          },
        ],
      },
      { '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: options.retryDelay },
    ],
  );
}

export const geminiErrors = {
  /** A key that does not exist: 400, not 401. */
  invalidKey: (): ErrorBehaviour =>
    googleError(400, 'INVALID_ARGUMENT', 'API key not valid. Please pass a valid API key.', [
      {
        '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
        reason: 'API_KEY_INVALID',
        domain: 'googleapis.com',
        metadata: { service: SERVICE },
      },
      {
        '@type': 'type.googleapis.com/google.rpc.LocalizedMessage',
        locale: 'en-US',
        message: 'API key not valid. Please pass a valid API key.',
      },
    ]),
  /** A key restricted away from the Generative Language API. */
  keyBlocked: (): ErrorBehaviour =>
    googleError(
      403,
      'PERMISSION_DENIED',
      `Requests to this API ${SERVICE} method google.ai.generativelanguage.v1beta.GenerativeService.GenerateContent are blocked.`,
      [
        {
          '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
          reason: 'API_KEY_SERVICE_BLOCKED',
          domain: 'googleapis.com',
          metadata: {
            methodName: 'google.ai.generativelanguage.v1beta.GenerativeService.GenerateContent',
            consumer: 'projects/123456789012',
            service: SERVICE,
            apiName: SERVICE,
          },
        },
      ],
    ),
  /** A suspended key: the message echoes the key itself, so adapters must redact it. */
  consumerSuspended: (apiKey: string): ErrorBehaviour =>
    googleError(403, 'PERMISSION_DENIED', `Permission denied: Consumer 'api_key:${apiKey}' has been suspended.`, [
      {
        '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
        reason: 'CONSUMER_SUSPENDED',
        domain: 'googleapis.com',
        metadata: { consumer: `projects/123456789012`, service: SERVICE },
      },
    ]),
  /** Free-tier requests per minute: `retryDelay` is whole seconds, the message has the precise value. */
  requestsPerMinute: (retryDelay = '38s', model = 'gemini-2.5-flash'): ErrorBehaviour =>
    quotaExceeded({
      quotaId: 'GenerateRequestsPerMinutePerProjectPerModel-FreeTier',
      metric: 'generate_content_free_tier_requests',
      limit: 10,
      model,
      retryDelay,
      preciseDelay: '38.236170212s',
    }),
  inputTokensPerMinute: (retryDelay = '12s', model = 'gemini-2.5-flash'): ErrorBehaviour =>
    quotaExceeded({
      quotaId: 'GenerateContentInputTokensPerModelPerMinute-FreeTier',
      metric: 'generate_content_free_tier_input_token_count',
      limit: 250000,
      model,
      retryDelay,
      preciseDelay: '12.541978853s',
    }),
  /** Free-tier requests per day: still announces a short RetryInfo, but the quota is gone until midnight Pacific. */
  requestsPerDay: (retryDelay = '21s', model = 'gemini-2.5-flash'): ErrorBehaviour =>
    quotaExceeded({
      quotaId: 'GenerateRequestsPerDayPerProjectPerModel-FreeTier',
      metric: 'generate_content_free_tier_requests',
      limit: 20,
      model,
      retryDelay,
      preciseDelay: '21.1182765s',
    }),
  /** The older generic quota error: no details at all. */
  resourceExhausted: (): ErrorBehaviour =>
    googleError(429, 'RESOURCE_EXHAUSTED', 'Resource has been exhausted (e.g. check quota).'),
  internal: (): ErrorBehaviour =>
    googleError(
      500,
      'INTERNAL',
      'An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting',
    ),
  overloaded: (): ErrorBehaviour => googleError(503, 'UNAVAILABLE', 'The model is overloaded. Please try again later.'),
  contextTooLong: (): ErrorBehaviour =>
    googleError(
      400,
      'INVALID_ARGUMENT',
      'The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).',
    ),
  modelNotFound: (model = 'no-such-model'): ErrorBehaviour =>
    googleError(
      404,
      'NOT_FOUND',
      `models/${model} is not found for API version v1beta, or is not supported for generateContent. Call ListModels to see the list of available models and their supported methods.`,
    ),
  invalidArgument: (): ErrorBehaviour =>
    googleError(400, 'INVALID_ARGUMENT', '* GenerateContentRequest.contents: contents is not specified\n'),
  locationNotSupported: (): ErrorBehaviour =>
    googleError(400, 'FAILED_PRECONDITION', 'User location is not supported for the API use.'),
};
