import type { Context } from 'koa';

/** Escapes text for HTML content and quoted attributes. */
export const escapeHtml = (value: string) =>
  value.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/**
 * A page of the sign-in surface: plain HTML, no script and no style (the gateway's CSP is
 * `default-src 'none'`), never cached, the error (escaped) in a `role="alert"` paragraph.
 */
export function renderPage(
  ctx: Pick<Context, 'status' | 'type' | 'body' | 'set'>,
  status: number,
  page: { title: string; error?: string; body?: string },
): void {
  const error = page.error === undefined ? '' : `<p role="alert" id="error">${escapeHtml(page.error)}</p>`;
  ctx.status = status;
  ctx.type = 'text/html; charset=utf-8';
  ctx.set('cache-control', 'no-store');
  ctx.body = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(page.title)} · Strongroom</title></head>
<body><main><h1>${escapeHtml(page.title)}</h1>${error}${page.body ?? ''}</main></body></html>`;
}

/** Reads a small urlencoded form body; undefined when it is not one or is larger than `bytesMax`. */
export async function readForm(
  ctx: { is(type: string): string | false | null; req: AsyncIterable<unknown> },
  bytesMax: number,
): Promise<URLSearchParams | undefined> {
  if (!ctx.is('application/x-www-form-urlencoded')) return undefined;
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of ctx.req) {
    bytes += (chunk as Buffer).length;
    if (bytes > bytesMax) return undefined;
    chunks.push(chunk as Buffer);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}
