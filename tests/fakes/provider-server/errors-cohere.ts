import type { Behaviour } from './types';

/**
 * Cohere's error responses: a JSON body `{"id": "<uuid>", "message": "…"}` and no error code.
 * Messages as Cohere sends them (seen in SDK error dumps and client code that matches on them);
 * those marked "wording approximated" follow Cohere's documented meaning for the status.
 * Cohere documents no rate-limit headers; trial keys get `x-trial-endpoint-call-*` headers on
 * successful answers (not on 429s), and a `retry-after` is not promised — the per-minute 429 here
 * carries one so the adapter is tested on reading it when it comes.
 */

type ErrorBehaviour = Extract<Behaviour, { type: 'error' }>;

let counter = 0;
function errorBody(message: string): { id: string; message: string } {
  return { id: `e7707000-0000-4000-8000-${String(++counter).padStart(12, '0')}`, message };
}

function error(status: number, message: string, headers?: Record<string, string>): ErrorBehaviour {
  return { type: 'error', status, body: errorBody(message), ...(headers === undefined ? {} : { headers }) };
}

export const cohereErrors = {
  invalidKey: (): ErrorBehaviour => error(401, 'invalid api token'),
  noKey: (): ErrorBehaviour => error(401, 'no api key supplied'),
  perMinute: (retryAfterSeconds?: number): ErrorBehaviour =>
    error(
      429,
      'You are past the per minute request limit, please wait and try again later.',
      retryAfterSeconds === undefined ? undefined : { 'retry-after': String(retryAfterSeconds) },
    ),
  /** The older trial wording names the minute window the way the monthly one names the month. */
  trialPerMinute: (): ErrorBehaviour =>
    error(
      429,
      "You are using a Trial key, which is limited to 20 API calls / minute. You can continue to use the Trial key for free or upgrade to a Production key with higher rate limits at 'https://dashboard.cohere.com/api-keys'. Contact us on 'https://discord.gg/XW44jPfYJu' or email us at support@cohere.com with any questions",
    ),
  trialMonthly: (): ErrorBehaviour =>
    error(
      429,
      "You are using a Trial key, which is limited to 1000 API calls / month. You can continue to use the Trial key for free or upgrade to a Production key with higher rate limits at 'https://dashboard.cohere.com/api-keys'. Contact us on 'https://discord.gg/XW44jPfYJu' or email us at support@cohere.com with any questions",
    ),
  /** A production key whose account hit its billing limit (wording approximated). */
  paymentRequired: (): ErrorBehaviour =>
    error(402, 'Please add or update your payment method at https://dashboard.cohere.com/billing to continue'),
  serverError: (): ErrorBehaviour => error(500, 'internal server error, this has been reported to our developers'),
  /** Wording approximated. */
  unavailable: (): ErrorBehaviour => error(503, 'service unavailable, please try again later'),
  /** A gateway in front of the API answering with HTML instead of JSON. */
  badGateway: (): ErrorBehaviour => ({
    type: 'error',
    status: 502,
    body: '<html><head><title>502 Bad Gateway</title></head><body>502 Bad Gateway</body></html>',
  }),
  contextTooLong: (): ErrorBehaviour =>
    error(
      400,
      "too many tokens: size limit exceeded by 11326 tokens. Try using shorter or fewer inputs, or setting prompt_truncation='AUTO'.",
    ),
  /** Wording approximated. */
  inputTooLong: (): ErrorBehaviour =>
    error(400, 'invalid request: input is too long: 262144 tokens exceeds the model context length of 256000'),
  modelNotFound: (model = 'no-such-model'): ErrorBehaviour =>
    error(
      404,
      `model '${model}' not found, make sure the correct model ID was used and that you have access to the model.`,
    ),
  invalidRequest: (): ErrorBehaviour =>
    error(400, 'invalid request: message must be at least 1 token long or tool results must be specified.'),
  blockedOutput: (): ErrorBehaviour =>
    error(
      400,
      'blocked output: please adjust your prompt and try again, as this generation may be a potential violation of our Usage Guidelines (https://docs.cohere.com/docs/usage-policy).',
    ),
};

/**
 * Headers Cohere puts on successful answers to trial keys: the per-endpoint trial window (20 for
 * chat, the documented per-minute limit, though the header does not say the window's length) and
 * the monthly cap, with no monthly remaining count.
 */
export function cohereTrialHeaders(values: { remaining?: number } = {}): Record<string, string> {
  return {
    'x-endpoint-monthly-call-limit': '1000',
    'x-trial-endpoint-call-limit': '20',
    'x-trial-endpoint-call-remaining': String(values.remaining ?? 19),
  };
}
