import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export const SESSION_COOKIE = 'sb_dashboard';
/** How long the session cookie lives before the token link is needed again. */
export const SESSION_SECONDS = 12 * 60 * 60;

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/** Constant-time equality of two strings of any length (their SHA-256 digests are compared). */
export function sameSecret(given: string, expected: string): boolean {
  return timingSafeEqual(digest(given), digest(expected));
}

/**
 * The dashboard's access check. The token is shown once (`?token=`, or `Authorization: Bearer`);
 * the browser then keeps a cookie holding an HMAC of it, not the token itself, so the token
 * appears in no later request.
 */
export class DashboardAuth {
  /** The session cookie's value: derived from the token, so that every process accepts it. */
  private readonly session: string;

  constructor(private readonly token: string) {
    this.session = createHmac('sha256', token).update('switchboard dashboard session').digest('base64url');
  }

  /** Whether `candidate` is the token. */
  isToken(candidate: string | undefined): boolean {
    return candidate !== undefined && sameSecret(candidate, this.token);
  }

  /** Whether the request carries the token (Bearer) or a session cookie. */
  allows(req: IncomingMessage): boolean {
    const authorization = req.headers.authorization;
    if (authorization?.startsWith('Bearer ') === true && this.isToken(authorization.slice('Bearer '.length).trim()))
      return true;
    const cookie = readCookie(req, SESSION_COOKIE);
    return cookie !== undefined && sameSecret(cookie, this.session);
  }

  /** The Set-Cookie header that starts a session (Secure when the request came over TLS). */
  sessionCookie(req: IncomingMessage): string {
    const secure = isTls(req) ? '; Secure' : '';
    return `${SESSION_COOKIE}=${this.session}; Path=/dashboard; Max-Age=${SESSION_SECONDS}; HttpOnly; SameSite=Strict${secure}`;
  }
}

function isTls(req: IncomingMessage): boolean {
  const socket = req.socket as { encrypted?: boolean };
  return socket.encrypted === true || req.headers['x-forwarded-proto'] === 'https';
}

function readCookie(req: IncomingMessage, name: string): string | undefined {
  const header = req.headers.cookie;
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const equals = part.indexOf('=');
    if (equals !== -1 && part.slice(0, equals).trim() === name) return part.slice(equals + 1).trim();
  }
  return undefined;
}
