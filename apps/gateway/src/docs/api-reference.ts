import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { PlatformError } from '@strongroom/platform';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { API_REFERENCE_SECURITY_HEADERS } from '../http/security-headers';
import { sendProblem } from '../http/send-problem';

/** Where the interactive API reference lives; its assets are below it. */
export const API_REFERENCE_PATH = '/docs';

interface Asset {
  contentType: string;
  body: Buffer;
  gzipped?: Buffer;
}

const ASSET_CACHE_MAX_AGE_SECONDS = 3_600;
/** Smaller assets gain nothing from compression. */
const GZIP_BYTES_MIN = 1_024;

const swaggerUiDir = () => dirname(require.resolve('swagger-ui-dist/package.json'));

/** The page: Swagger UI's files and our init script, all from this origin, nothing inline. */
export const API_REFERENCE_HTML = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>Strongroom API reference</title>
    <link rel="stylesheet" href="${API_REFERENCE_PATH}/swagger-ui.css">
    <link rel="stylesheet" href="${API_REFERENCE_PATH}/index.css">
    <link rel="icon" type="image/png" href="${API_REFERENCE_PATH}/favicon-32x32.png" sizes="32x32">
  </head>
  <body>
    <div id="api-reference"></div>
    <script src="${API_REFERENCE_PATH}/swagger-ui-bundle.js"></script>
    <script src="${API_REFERENCE_PATH}/api-reference.js"></script>
  </body>
</html>
`;

const CONTENT_TYPES: Record<string, string> = {
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.png': 'image/png',
  '.html': 'text/html; charset=utf-8',
};

function fileAsset(path: string): Asset {
  const extension = path.slice(path.lastIndexOf('.'));
  const contentType = CONTENT_TYPES[extension];
  if (contentType === undefined) throw new Error(`API reference: no content type for ${path}`);
  return { contentType, body: readFileSync(path) };
}

/** Every file the page loads, read once at start (a missing one stops the gateway, not a browser). */
export function apiReferenceAssets(): Map<string, Asset> {
  const swaggerUi = swaggerUiDir();
  const assets = new Map<string, Asset>();
  for (const name of [
    'swagger-ui.css',
    'index.css',
    'swagger-ui-bundle.js',
    'favicon-32x32.png',
    'oauth2-redirect.html',
    'oauth2-redirect.js',
  ])
    assets.set(name, fileAsset(join(swaggerUi, name)));
  // Ours (built next to this module: dist/src/docs/assets in a build, src/docs/assets under Jest).
  assets.set('api-reference.js', fileAsset(join(__dirname, 'assets', 'api-reference.js')));
  return assets;
}

function send(request: FastifyRequest, reply: FastifyReply, asset: Asset): FastifyReply {
  void reply
    .header('content-type', asset.contentType)
    .header('cache-control', `public, max-age=${ASSET_CACHE_MAX_AGE_SECONDS}`);
  const acceptsGzip = /\bgzip\b/.test(String(request.headers['accept-encoding'] ?? ''));
  if (!acceptsGzip || asset.body.length < GZIP_BYTES_MIN) return reply.send(asset.body);
  // Compressed on first use and kept: the bundle is ~1.7 MB as is, ~0.5 MB gzipped.
  asset.gzipped ??= gzipSync(asset.body);
  return reply.header('content-encoding', 'gzip').header('vary', 'accept-encoding').send(asset.gzipped);
}

/**
 * The interactive API reference at /docs: Swagger UI from node_modules and the gateway's own
 * /openapi.json, no network beyond this origin. The HTML pages get a CSP of their own (scripts,
 * styles, images and API calls from this origin only); every other answer keeps `default-src 'none'`.
 */
export function registerApiReference(fastify: FastifyInstance): void {
  const assets = apiReferenceAssets();
  const page: Asset = { contentType: CONTENT_TYPES['.html']!, body: Buffer.from(API_REFERENCE_HTML, 'utf8') };
  const pageConfig = { config: { securityHeaders: API_REFERENCE_SECURITY_HEADERS } };
  fastify.get(API_REFERENCE_PATH, pageConfig, (request, reply) => send(request, reply, page));
  // Swagger UI's OAuth2 sign-in returns there (authorization code + PKCE): a page too.
  fastify.get(`${API_REFERENCE_PATH}/oauth2-redirect.html`, pageConfig, (request, reply) =>
    send(request, reply, assets.get('oauth2-redirect.html')!),
  );
  fastify.get(`${API_REFERENCE_PATH}/:asset`, (request, reply) => {
    const name = (request.params as { asset: string }).asset;
    if (name === '') return reply.redirect(API_REFERENCE_PATH, 301);
    const asset = assets.get(name);
    if (asset === undefined)
      return sendProblem(reply, PlatformError.notFound('API reference file'), String(request.id));
    return send(request, reply, asset);
  });
}
