import { validate } from '@readme/openapi-parser';
import { ERROR_CODES, getTenant, OIDC_ROUTES, PERMISSIONS, problemTypeOf } from '@strongroom/contracts';
import type { ApiRoute } from '../src/api/api-route-table';
import { API_ROUTES } from '../src/api/api-route-table';
import {
  openApiDocument,
  openApiPathOf,
  PROBLEM_RESPONSES,
  type ProblemName,
  problemsOf,
} from '../src/api/openapi-document';

type Operation = {
  description: string;
  'x-permission': string;
  'x-bus-subject': string;
  security: Array<Record<string, string[]>>;
  parameters: Array<{ $ref?: string; name?: string; in?: string }>;
  requestBody?: { content: Record<string, { schema: { properties: Record<string, unknown>; required?: string[] } }> };
  responses: Record<string, { $ref?: string; content?: Record<string, unknown> }>;
};
type Document = ReturnType<typeof openApiDocument>;

const operationOf = (document: Document, route: Pick<ApiRoute, 'method' | 'url'>) =>
  (document.paths[openApiPathOf(route.url).path] as Record<string, Operation> | undefined)?.[
    route.method.toLowerCase()
  ];

/** The statuses a route must document, by what it is (not by the code under test). */
function expectedErrorStatuses(route: ApiRoute): string[] {
  const statuses = ['400', '401', '403', '429', '500', '502', '503', '504'];
  // A tenant named in the path, or in the query (the audit routes): another tenant's is a 404.
  if (route.url.includes('/:') || route.query?.includes('tenantId')) statuses.push('404');
  if (route.method !== 'GET') statuses.push('409');
  // Every method with a body (POST, PUT, PATCH) can be too large or of the wrong type.
  if (!['GET', 'DELETE'].includes(route.method)) statuses.push('413', '415');
  return statuses.sort();
}

describe('the OpenAPI document (generated from the route table and the contracts)', () => {
  const document = openApiDocument(API_ROUTES, 'https://api.strongroom.example');

  it('is a valid OpenAPI 3.1 document', async () => {
    const result = await validate(structuredClone(document) as never);
    expect(result.valid ? [] : result.errors).toEqual([]);
  });

  it('is checked by a validator that does refuse a broken document', async () => {
    const broken = structuredClone(document) as { paths: Record<string, Record<string, { parameters: object[] }>> };
    // A path parameter must be required (OpenAPI 3.1 §4.8.12.1).
    broken.paths['/v1/tenants/{tenantId}']!.get!.parameters = [
      { name: 'tenantId', in: 'path', schema: { type: 'string' } },
    ];
    await expect(validate(broken as never)).resolves.toMatchObject({ valid: false });
  });

  it.each(API_ROUTES.map((route) => [`${route.method} ${route.url}`, route] as const))(
    'lists %s with its permission (x-permission, description, OAuth2 scope) and bus subject',
    (_name, route) => {
      const operation = operationOf(document, route);
      expect(operation).toBeDefined();
      const permission = route.contract.permission;
      expect(operation!['x-permission']).toBe(permission);
      expect(operation!['x-bus-subject']).toBe(route.contract.subject);
      expect(operation!.description).toContain(`\`${permission}\``);
      expect(operation!.description).toContain(PERMISSIONS[permission]);
      expect(operation!.security).toContainEqual({ oauth2: [permission] });
      expect(document.components.securitySchemes.oauth2.flows.clientCredentials.scopes).toHaveProperty([permission]);
    },
  );

  it.each(API_ROUTES.map((route) => [`${route.method} ${route.url}`, route] as const))(
    'documents the problem+json errors %s may answer, each with its status and the stable type of each code',
    (_name, route) => {
      const responses = operationOf(document, route)!.responses;
      const errorStatuses = Object.keys(responses).filter((status) => Number(status) >= 400);
      expect(errorStatuses.sort()).toEqual(expectedErrorStatuses(route));
      for (const status of errorStatuses) {
        const name = responses[status]!.$ref!.replace('#/components/responses/', '') as ProblemName;
        const { codes } = PROBLEM_RESPONSES[name];
        for (const code of codes) expect(ERROR_CODES[code].status === Number(status) || status === '415').toBe(true);
        const schema = (document.components.responses as Record<string, Record<string, unknown>>)[name]!;
        const allOf = (schema.content as Record<string, { schema: { allOf: object[] } }>)['application/problem+json']!
          .schema.allOf;
        expect(allOf).toContainEqual({ $ref: '#/components/schemas/Problem' });
        expect(allOf).toContainEqual({ type: 'object', properties: { status: { const: Number(status) } } });
        const types = JSON.stringify(allOf);
        for (const code of codes) {
          expect(types).toContain(JSON.stringify({ const: problemTypeOf(code) }));
          expect(types).toContain(JSON.stringify({ const: code }));
        }
      }
    },
  );

  it("tells a POST route's 409s apart: a conflict, a reused Idempotency-Key, one still in flight", () => {
    const post = API_ROUTES.find((route) => route.method === 'POST')!;
    expect(operationOf(document, post)!.responses['409']!.$ref).toBe(
      '#/components/responses/CONFLICT_OR_IDEMPOTENCY_KEY',
    );
    expect(PROBLEM_RESPONSES.CONFLICT_OR_IDEMPOTENCY_KEY.codes).toEqual(
      Object.keys(ERROR_CODES).filter((code) => ERROR_CODES[code as keyof typeof ERROR_CODES].status === 409),
    );
  });

  it('documents a 429 with the headers that say when to retry', () => {
    expect(Object.keys(document.components.responses.RATE_LIMITED!.headers)).toEqual(
      expect.arrayContaining(['ratelimit-limit', 'ratelimit-remaining', 'ratelimit-reset', 'Retry-After']),
    );
  });

  it('offers an Idempotency-Key header on every POST route, and on no other', () => {
    for (const route of API_ROUTES) {
      const references = operationOf(document, route)!.parameters.map((parameter) => parameter.$ref);
      expect(references.includes('#/components/parameters/IdempotencyKey')).toBe(route.method === 'POST');
    }
    expect(document.components.parameters.IdempotencyKey).toMatchObject({ name: 'idempotency-key', in: 'header' });
  });

  it('covers a route added later without any change here (generic over the route table)', async () => {
    const added: ApiRoute = { method: 'PUT', url: '/v1/things/:thingId', contract: getTenant, input: () => ({}) };
    const extended = openApiDocument([...API_ROUTES, added], 'https://api.strongroom.example');
    const operation = operationOf(extended, added)!;
    expect(operation['x-permission']).toBe(getTenant.permission);
    expect(Object.keys(operation.responses).filter((status) => Number(status) >= 400)).toEqual(
      problemsOf(added).map((name) => String(PROBLEM_RESPONSES[name].status)),
    );
    const result = await validate(structuredClone(extended) as never);
    expect(result.valid ? [] : result.errors).toEqual([]);
  });

  it('lists the platform endpoints: health, this document, the API reference and OAuth2/OIDC', () => {
    for (const path of [
      '/health',
      '/openapi.json',
      '/docs',
      OIDC_ROUTES.discovery,
      OIDC_ROUTES.jwks,
      OIDC_ROUTES.token,
      OIDC_ROUTES.introspection,
      OIDC_ROUTES.revocation,
    ])
      expect(Object.keys(document.paths)).toContain(path);
    expect(document.paths['/health']).toHaveProperty(['get', 'security'], []);
  });

  it('documents a body without what the path says', () => {
    const operation = document.paths['/v1/tenants/{tenantId}/clients']!.post as Operation;
    const schema = operation.requestBody!.content['application/json']!.schema;
    expect(Object.keys(schema.properties)).toEqual(expect.arrayContaining(['environment', 'name', 'grantTypes']));
    expect(schema.properties).not.toHaveProperty('tenantId');
    expect(schema.required).not.toContain('tenantId');
  });

  it('documents a body that is one field of the request as that field (a transfer, a settings patch)', () => {
    const bodyOf = (path: string, method: 'post' | 'patch') =>
      (document.paths[path]![method] as Operation).requestBody!.content['application/json']!.schema as Record<
        string,
        unknown
      >;
    const transfer = bodyOf('/v1/tenants/{tenantId}/ledger/transfers', 'post');
    expect(JSON.stringify(transfer)).toContain('"post_pending"');
    expect(transfer).not.toHaveProperty(['properties', 'transfer']);
    const settings = bodyOf('/v1/tenants/{tenantId}/settings', 'patch');
    expect(settings).toHaveProperty(['properties', 'ratePlan']);
    expect(settings).not.toHaveProperty(['properties', 'settings']);
  });
});
