/**
 * Secrets (API keys, bot tokens) are shown at most as a masked form: a few leading and the last
 * characters, e.g. `gsk_Xk…LPlN`. The shorter the secret, the less of it is shown.
 */
export function maskSecret(secret: string): string {
  const length = secret.length;
  if (length >= 20) return `${secret.slice(0, 6)}…${secret.slice(-4)}`;
  if (length >= 12) return `${secret.slice(0, 3)}…${secret.slice(-3)}`;
  if (length >= 8) return `${secret.slice(0, 2)}…${secret.slice(-2)}`;
  return '…';
}

/** Replaces every occurrence of each secret in `text` with its masked form. */
export function redactSecrets(text: string, secrets: Iterable<string>): string {
  let result = text;
  for (const secret of secrets) {
    // Every log line passes through here: look before allocating.
    if (secret.length < 4 || !result.includes(secret)) continue;
    result = result.split(secret).join(maskSecret(secret));
  }
  return result;
}
