// The gateway's API reference page: Swagger UI (served by the gateway itself, no CDN) over its own
// OpenAPI document. A file, not an inline script, so the page's CSP can stay `script-src 'self'`.

window.addEventListener('DOMContentLoaded', () => {
  window.ui = window.SwaggerUIBundle({
    url: '/openapi.json',
    dom_id: '#api-reference',
    layout: 'BaseLayout',
    presets: [window.SwaggerUIBundle.presets.apis],
    deepLinking: true,
    // Swagger UI would otherwise send the document to validator.swagger.io: no call leaves the origin.
    validatorUrl: null,
    oauth2RedirectUrl: `${window.location.origin}/docs/oauth2-redirect.html`,
    // A token typed into "Authorize" lives in this tab only, never in localStorage.
    persistAuthorization: false,
  });
  // PKCE (S256) for the authorization-code flow, the only one the platform accepts.
  window.ui.initOAuth({ usePkceWithAuthorizationCodeGrant: true });
});
