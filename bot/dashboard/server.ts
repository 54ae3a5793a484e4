/**
 * The admins' dashboard beside the ops endpoints (`/dashboard` on METRICS_PORT, and on PORT in
 * webhook mode): a static page (`bot/dashboard/static/`), the chart library from its npm package,
 * and `/dashboard/data.json`, which the page polls. Served only with DASHBOARD_TOKEN set; every
 * request needs the token or the session cookie it starts, else a bare 401. See
 * docs/architecture.md ("The dashboard").
 */
import { existsSync, readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import { DashboardAuth } from './auth';
import { collectDashboardData, type DashboardSources } from './snapshot';

interface Asset {
  readonly type: string;
  readonly body: Buffer;
}

/** No inline script or style, nothing from elsewhere: the page's own files and its JSON only. */
const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const COMMON_HEADERS = {
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
} as const;

/** The repository's root: the nearest folder above holding package.json (source and dist/ alike). */
function projectRoot(from: string): string {
  for (let directory = from; ; directory = path.dirname(directory)) {
    if (existsSync(path.join(directory, 'package.json'))) return directory;
    if (path.dirname(directory) === directory) throw new Error(`no package.json above ${from}`);
  }
}

/** The version in the project's package.json. */
export function projectVersion(): string {
  const manifest = JSON.parse(readFileSync(path.join(projectRoot(__dirname), 'package.json'), 'utf8')) as {
    version?: unknown;
  };
  return typeof manifest.version === 'string' ? manifest.version : 'unknown';
}

/** Reads the page's files once, at start-up: a missing one stops the start with its path. */
function loadAssets(): ReadonlyMap<string, Asset> {
  const root = projectRoot(__dirname);
  const staticDir = path.join(root, 'bot', 'dashboard', 'static');
  const chartLibrary = path.dirname(require.resolve('uplot/dist/uPlot.iife.min.js', { paths: [root] }));
  const files: [string, string, string][] = [
    ['/dashboard', path.join(staticDir, 'index.html'), 'text/html; charset=utf-8'],
    ['/dashboard/dashboard.js', path.join(staticDir, 'dashboard.js'), 'text/javascript; charset=utf-8'],
    ['/dashboard/dashboard.css', path.join(staticDir, 'dashboard.css'), 'text/css; charset=utf-8'],
    ['/dashboard/uplot.min.js', path.join(chartLibrary, 'uPlot.iife.min.js'), 'text/javascript; charset=utf-8'],
    ['/dashboard/uplot.min.css', path.join(chartLibrary, 'uPlot.min.css'), 'text/css; charset=utf-8'],
  ];
  return new Map(files.map(([route, file, type]) => [route, { type, body: readFileSync(file) }]));
}

export type RequestHandler = (req: IncomingMessage, res: ServerResponse) => boolean;

/** Handles `/dashboard` and what it loads; returns false for any other request. */
export function createDashboardHandler(token: string, sources: DashboardSources): RequestHandler {
  const auth = new DashboardAuth(token);
  const assets = loadAssets();
  return (req, res) => {
    if (req.method !== 'GET') return false;
    const url = new URL(req.url ?? '/', 'http://dashboard');
    const route = url.pathname === '/dashboard/' ? '/dashboard' : url.pathname;
    if (route !== '/dashboard' && !route.startsWith('/dashboard/')) return false;

    // The token once in the link: swapped for the session cookie, and the link without it.
    const given = url.searchParams.get('token');
    if (route === '/dashboard' && given !== null) {
      if (!auth.isToken(given)) return refuse(res);
      res.writeHead(303, { ...COMMON_HEADERS, location: '/dashboard', 'set-cookie': auth.sessionCookie(req) }).end();
      return true;
    }
    if (!auth.allows(req)) return refuse(res);

    if (route === '/dashboard/data.json') {
      collectDashboardData(sources).then(
        (data) =>
          res
            .writeHead(200, { ...COMMON_HEADERS, 'content-type': 'application/json; charset=utf-8' })
            .end(JSON.stringify(data)),
        () =>
          res
            .writeHead(503, { ...COMMON_HEADERS, 'content-type': 'application/json; charset=utf-8' })
            .end('{"error":"the pool figures cannot be read now"}'),
      );
      return true;
    }
    const asset = assets.get(route);
    if (asset === undefined) {
      res.writeHead(404, COMMON_HEADERS).end();
      return true;
    }
    res
      .writeHead(200, {
        ...COMMON_HEADERS,
        'content-type': asset.type,
        'content-security-policy': CONTENT_SECURITY_POLICY,
      })
      .end(asset.body);
    return true;
  };
}

/** 401 and nothing else: no word on whether a token was given, or how close it was. */
function refuse(res: ServerResponse): true {
  res.writeHead(401, { ...COMMON_HEADERS, 'content-type': 'text/plain; charset=utf-8' }).end('Unauthorized\n');
  return true;
}
