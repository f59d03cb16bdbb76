import { createHash } from 'node:crypto';
import {
  ERROR_CODES,
  type ErrorCode,
  HEADERS,
  OIDC_ROUTES,
  PERMISSIONS,
  type Permission,
  PLATFORM_VERSION,
  problemTypeOf,
  REQUEST_SIGNING_HEADERS,
} from '@strongroom/contracts';
import { z } from 'zod';
import { EDGE_PATHS, EDGE_TAGS } from '../docs/openapi-edge-paths';
import {
  IDEMPOTENCY_KEY_HEADER,
  IDEMPOTENCY_KEY_TTL_SECONDS,
  IDEMPOTENT_REPLAYED_HEADER,
} from '../idempotency/idempotency-key';
import { rateLimitHeaders } from '../rate-limits/rate-limit-policy';
import type { ApiRoute } from './api-route-table';

type JsonSchema = Record<string, unknown>;

/**
 * The problem+json answers an API route may give, by component name: the error codes each stands
 * for (one status, a stable `type` per code), or (415) what Fastify refuses before a handler runs,
 * answered with the VALIDATION code and type.
 */
const PROBLEMS = {
  VALIDATION: { status: 400, codes: ['VALIDATION'] },
  UNAUTHENTICATED: { status: 401, codes: ['UNAUTHENTICATED'] },
  FORBIDDEN: { status: 403, codes: ['FORBIDDEN'] },
  NOT_FOUND: { status: 404, codes: ['NOT_FOUND'] },
  CONFLICT: { status: 409, codes: ['CONFLICT'] },
  // A POST with an Idempotency-Key: the key taken by another request, or its first request still running.
  CONFLICT_OR_IDEMPOTENCY_KEY: {
    status: 409,
    codes: ['CONFLICT', 'IDEMPOTENCY_KEY_REUSED', 'IDEMPOTENCY_KEY_IN_FLIGHT'],
  },
  PAYLOAD_TOO_LARGE: { status: 413, codes: ['PAYLOAD_TOO_LARGE'] },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, codes: ['VALIDATION'] },
  RATE_LIMITED: { status: 429, codes: ['RATE_LIMITED'] },
  INTERNAL: { status: 500, codes: ['INTERNAL'] },
  BAD_REPLY: { status: 502, codes: ['BAD_REPLY'] },
  UNAVAILABLE: { status: 503, codes: ['UNAVAILABLE'] },
  TIMEOUT: { status: 504, codes: ['TIMEOUT'] },
} as const satisfies Record<string, { status: number; codes: readonly ErrorCode[] }>;
export type ProblemName = keyof typeof PROBLEMS;
export const PROBLEM_RESPONSES: Readonly<Record<ProblemName, { status: number; codes: readonly ErrorCode[] }>> =
  PROBLEMS;

/**
 * A query parameter naming the tenant acted on (the audit routes): absent, the credential's own
 * tenant; another tenant is answered 404 unless the credential is the platform's.
 */
export const TENANT_QUERY_PARAMETER = 'tenantId';
const QUERY_DESCRIPTIONS: Readonly<Record<string, string>> = {
  [TENANT_QUERY_PARAMETER]:
    "The tenant acted on; the credential's own when absent. Only a platform credential may name another (404 otherwise).",
};

/** What one route can answer besides success, from what it is: the branching lives here only. */
export function problemsOf(route: Pick<ApiRoute, 'method' | 'url' | 'query'>): ProblemName[] {
  const takesBody = route.method !== 'GET' && route.method !== 'DELETE';
  const conflict: ProblemName[] =
    route.method === 'POST' ? ['CONFLICT_OR_IDEMPOTENCY_KEY'] : route.method === 'GET' ? [] : ['CONFLICT'];
  return [
    'VALIDATION',
    'UNAUTHENTICATED',
    'FORBIDDEN',
    ...(openApiPathOf(route.url).parameters.length > 0 || route.query?.includes(TENANT_QUERY_PARAMETER)
      ? (['NOT_FOUND'] as const)
      : []),
    ...conflict,
    ...(takesBody ? (['PAYLOAD_TOO_LARGE', 'UNSUPPORTED_MEDIA_TYPE'] as const) : []),
    'RATE_LIMITED',
    'INTERNAL',
    'BAD_REPLY',
    'UNAVAILABLE',
    'TIMEOUT',
  ];
}

/** `/v1/tenants/:tenantId` → `/v1/tenants/{tenantId}` and its parameter names. */
export function openApiPathOf(url: string): { path: string; parameters: string[] } {
  const parameters: string[] = [];
  const path = url.replace(/:([A-Za-z][A-Za-z0-9_]*)/g, (_match, name: string) => {
    parameters.push(name);
    return `{${name}}`;
  });
  return { path, parameters };
}

/**
 * A contract schema as JSON Schema 2020-12 (OpenAPI 3.1's dialect). A recursive part (an audit
 * record's details) comes out as `$defs` referenced from the schema's root; embedded in the
 * document, those references would point at the document's root, so the definitions move to
 * `components/schemas` (named after their content: every route sharing one shares the component).
 */
function jsonSchemaOf(schema: z.ZodType, io: 'input' | 'output', components: Record<string, JsonSchema>): JsonSchema {
  const {
    $schema: _dialect,
    $defs: definitions,
    ...json
  } = z.toJSONSchema(schema, {
    target: 'draft-2020-12',
    io,
    unrepresentable: 'any',
  }) as JsonSchema & { $defs?: Record<string, JsonSchema> };
  if (definitions === undefined) return json;
  const digest = createHash('sha256').update(JSON.stringify(definitions)).digest('hex').slice(0, 12);
  const componentOf = (name: string) => `Definition_${digest}_${name.replace(/^_+/, '')}`;
  const moved = (value: JsonSchema): JsonSchema =>
    JSON.parse(
      JSON.stringify(value).replace(/"#\/\$defs\/([^"]+)"/g, (_match, name: string) =>
        JSON.stringify(`#/components/schemas/${componentOf(name)}`),
      ),
    ) as JsonSchema;
  for (const [name, definition] of Object.entries(definitions)) components[componentOf(name)] = moved(definition);
  return moved(json);
}

function propertiesOf(schema: JsonSchema): Record<string, JsonSchema> {
  return { ...(schema.properties as Record<string, JsonSchema> | undefined) };
}

/** The body a route takes: its contract's request without what the path or the query already says. */
function bodySchemaOf(request: JsonSchema, route: ApiRoute, pathParameters: readonly string[]): JsonSchema | undefined {
  if (route.method === 'GET' || route.method === 'DELETE') return undefined;
  const properties = propertiesOf(request);
  if (route.bodyField !== undefined) return properties[route.bodyField] as JsonSchema | undefined;
  for (const name of [...pathParameters, ...(route.query ?? [])]) delete properties[name];
  const required = ((request.required as string[] | undefined) ?? []).filter((name) => name in properties);
  if (Object.keys(properties).length === 0) return undefined;
  const { required: _required, ...rest } = request;
  return { ...rest, properties, ...(required.length > 0 ? { required } : {}) };
}

/** Who may call: the permission, as an OAuth2 scope, a role of the bearer token, or granted to the API key. */
function securityOf(permission: Permission) {
  return [{ oauth2: [permission] }, { bearer: [permission] }, { apiKey: [permission] }];
}

function descriptionOf(route: ApiRoute): string {
  const permission = route.contract.permission;
  return [
    `${route.contract.summary}.`,
    '',
    `**Requires the permission \`${permission}\`** (${PERMISSIONS[permission]}): an OAuth2 access token`,
    'with that scope, or an API key granted it (every request signed).',
  ].join('\n');
}

function operationOf(route: ApiRoute, components: Record<string, JsonSchema>) {
  const { parameters } = openApiPathOf(route.url);
  const request = jsonSchemaOf(route.contract.request, 'input', components);
  const requestProperties = propertiesOf(request);
  const body = bodySchemaOf(request, route, parameters);
  const status = route.status ?? 200;
  const success =
    status === 204
      ? { description: 'Done', headers: { [HEADERS.requestId]: { $ref: '#/components/headers/RequestId' } } }
      : {
          description: 'Success',
          headers: {
            [HEADERS.requestId]: { $ref: '#/components/headers/RequestId' },
            ...rateLimitHeadersOf(),
            ...(route.method === 'POST'
              ? { [IDEMPOTENT_REPLAYED_HEADER]: { $ref: '#/components/headers/IdempotentReplayed' } }
              : {}),
          },
          content: { 'application/json': { schema: jsonSchemaOf(route.contract.response, 'output', components) } },
        };
  return {
    operationId: route.contract.subject.replace(/^([a-z]+)\.v1\./, '$1.'),
    summary: route.contract.summary,
    description: descriptionOf(route),
    tags: [route.contract.service],
    'x-permission': route.contract.permission,
    'x-bus-subject': route.contract.subject,
    security: securityOf(route.contract.permission),
    parameters: [
      ...parameters.map((name) => ({
        name,
        in: 'path',
        required: true,
        schema: requestProperties[name] ?? { type: 'string' },
      })),
      ...(route.query ?? []).map((name) => ({
        name,
        in: 'query',
        required: false,
        ...(QUERY_DESCRIPTIONS[name] !== undefined ? { description: QUERY_DESCRIPTIONS[name] } : {}),
        schema: requestProperties[name] ?? { type: 'string' },
      })),
      ...(route.method === 'POST' ? [{ $ref: '#/components/parameters/IdempotencyKey' }] : []),
    ],
    ...(body !== undefined
      ? { requestBody: { required: true, content: { 'application/json': { schema: body } } } }
      : {}),
    responses: {
      [String(status)]: success,
      ...Object.fromEntries(
        problemsOf(route).map((name) => [String(PROBLEMS[name].status), { $ref: `#/components/responses/${name}` }]),
      ),
    },
  };
}

const problemSchema: JsonSchema = {
  type: 'object',
  description: 'RFC 9457 problem details; `type` is stable per `code` (https://strongroom.dev/problems/<code>).',
  required: ['type', 'title', 'status', 'detail', 'code', 'requestId'],
  properties: {
    type: { type: 'string', format: 'uri' },
    title: { type: 'string' },
    status: { type: 'integer' },
    detail: { type: 'string' },
    code: { type: 'string', enum: Object.keys(ERROR_CODES) },
    requestId: { type: 'string' },
    reason: { type: 'string', description: 'A stable reason where the code has several (e.g. REPLAYED_NONCE)' },
  },
  additionalProperties: true,
};

/** The RateLimit fields the gateway sends (whichever draft rate-limit-policy.ts follows), by name. */
const RATE_LIMIT_HEADER_NAMES = Object.keys(
  rateLimitHeaders({ limit: 1, remaining: 1, resetSeconds: 1, windowSeconds: 1 }),
);
const rateLimitHeadersOf = () =>
  Object.fromEntries(
    RATE_LIMIT_HEADER_NAMES.map((name) => [name, { $ref: `#/components/headers/${headerComponentOf(name)}` }]),
  );
/** `ratelimit-remaining` → `RateLimitRemaining` (a component name). */
const headerComponentOf = (name: string) =>
  name
    .split('-')
    .map((part) => (part === 'ratelimit' ? 'RateLimit' : part[0]!.toUpperCase() + part.slice(1)))
    .join('');
const RATE_LIMIT_HEADER_DESCRIPTIONS: Record<string, string> = {
  'ratelimit-limit': "The credential's quota in the current window",
  'ratelimit-remaining': 'Requests left in the current window',
  'ratelimit-reset': 'Seconds until the window resets',
  'ratelimit-policy': 'The quota policy: `<limit>;w=<window seconds>`',
};

function problemSchemaOf(codes: readonly ErrorCode[], status: number): JsonSchema {
  const variants = codes.map((code) => ({
    type: 'object',
    properties: { type: { const: problemTypeOf(code) }, code: { const: code } },
  }));
  return {
    allOf: [
      { $ref: '#/components/schemas/Problem' },
      { type: 'object', properties: { status: { const: status } } },
      ...(variants.length === 1 ? variants : [{ oneOf: variants }]),
    ],
  };
}

function problemResponseOf(name: ProblemName) {
  const { codes, status } = PROBLEMS[name];
  const titles = codes.map((code) => `${ERROR_CODES[code].title} (\`${problemTypeOf(code)}\`)`);
  return {
    description:
      name === 'UNSUPPORTED_MEDIA_TYPE'
        ? `The body is not application/json (\`${problemTypeOf('VALIDATION')}\`)`
        : titles.join('; or '),
    headers: {
      [HEADERS.requestId]: { $ref: '#/components/headers/RequestId' },
      ...(name === 'RATE_LIMITED'
        ? { ...rateLimitHeadersOf(), 'Retry-After': { $ref: '#/components/headers/RetryAfter' } }
        : {}),
      ...(name === 'UNAUTHENTICATED'
        ? { 'WWW-Authenticate': { description: 'RFC 6750 §3 challenge', schema: { type: 'string' } } }
        : {}),
    },
    content: { 'application/problem+json': { schema: problemSchemaOf(codes, status) } },
  };
}

const HEADER_COMPONENTS = {
  RequestId: {
    description: "The request's id (the caller's `x-request-id` when well-formed, else one the gateway minted)",
    schema: { type: 'string', maxLength: 128 },
  },
  IdempotentReplayed: {
    description: '`true` when this answer is the stored one of an earlier request with the same Idempotency-Key',
    schema: { type: 'string', enum: ['true'] },
  },
  ...Object.fromEntries(
    RATE_LIMIT_HEADER_NAMES.map((name) => [
      headerComponentOf(name),
      {
        description: `${RATE_LIMIT_HEADER_DESCRIPTIONS[name] ?? 'Rate limit state'} (draft-ietf-httpapi-ratelimit-headers); sent when a budget applied`,
        schema: { type: 'string' },
      },
    ]),
  ),
  RetryAfter: {
    description: 'Seconds to wait before trying again (RFC 9110 §10.2.3)',
    schema: { type: 'integer', minimum: 0 },
  },
};

/**
 * The OpenAPI 3.1 document of the gateway, generated from the route table and the contracts (the
 * one source of truth): every route with its permission (`x-permission`, the description and the
 * OAuth2 scope of its `security`), body and reply schemas, and the problem+json errors it may
 * answer; plus the platform's own endpoints (health, this document, /docs, OAuth2/OIDC).
 */
export function openApiDocument(routes: readonly ApiRoute[], serverUrl: string) {
  const paths: Record<string, Record<string, unknown>> = {};
  const definitions: Record<string, JsonSchema> = {};
  const operationIds = new Set<string>();
  for (const route of routes) {
    const { path } = openApiPathOf(route.url);
    const operation = operationOf(route, definitions);
    // Two routes may reach one contract (an alias); an operationId must still be unique (OAS §4.8.10).
    const base = operation.operationId;
    for (let n = 2; operationIds.has(operation.operationId); n += 1) operation.operationId = `${base}-${n}`;
    operationIds.add(operation.operationId);
    paths[path] = { ...paths[path], [route.method.toLowerCase()]: operation };
  }
  const services = [...new Set(routes.map((route) => route.contract.service))].sort();
  return {
    openapi: '3.1.0',
    info: {
      title: 'Strongroom API',
      version: PLATFORM_VERSION,
      description: [
        'Every API route names the permission it requires (`x-permission`, also the OAuth2 scope).',
        `OAuth2/OIDC discovery: ${OIDC_ROUTES.discovery}. Errors are RFC 9457 problem+json with a stable \`type\` per code.`,
        'A POST may carry an `Idempotency-Key`; a 429 says when to retry (`Retry-After`, `RateLimit-*`).',
      ].join(' '),
      license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
    },
    servers: [{ url: serverUrl }],
    tags: [
      ...services.map((service) => ({ name: service, description: `Served by the ${service} service` })),
      ...EDGE_TAGS,
    ],
    paths: { ...paths, ...EDGE_PATHS },
    components: {
      securitySchemes: {
        oauth2: {
          type: 'oauth2',
          description: 'Permissions are OAuth2 scopes; a token asks for some or is given all its client holds.',
          flows: {
            clientCredentials: { tokenUrl: `${serverUrl}${OIDC_ROUTES.token}`, scopes: PERMISSIONS },
            authorizationCode: {
              authorizationUrl: `${serverUrl}${OIDC_ROUTES.authorization}`,
              tokenUrl: `${serverUrl}${OIDC_ROUTES.token}`,
              refreshUrl: `${serverUrl}${OIDC_ROUTES.token}`,
              scopes: PERMISSIONS,
            },
          },
        },
        bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT (RFC 9068)' },
        apiKey: {
          type: 'apiKey',
          in: 'header',
          name: REQUEST_SIGNING_HEADERS.apiKey,
          description: `Every request signed (SR1-HMAC-SHA256): ${Object.values(REQUEST_SIGNING_HEADERS)
            .filter((header) => header !== REQUEST_SIGNING_HEADERS.apiKey)
            .join(', ')}`,
        },
        clientSecretBasic: {
          type: 'http',
          scheme: 'basic',
          description: 'OAuth2 client id and secret (RFC 6749 §2.3.1)',
        },
      },
      parameters: {
        IdempotencyKey: {
          name: IDEMPOTENCY_KEY_HEADER,
          in: 'header',
          required: false,
          description: `One key per logical operation (e.g. a UUID): a retry with the same key and body gets the first answer again (\`Idempotent-Replayed: true\`) instead of doing it twice; the same key with another request is a 409. Keys are remembered for ${IDEMPOTENCY_KEY_TTL_SECONDS / 3_600} hours, per credential.`,
          schema: { type: 'string', pattern: '^[\\x20-\\x7e]{1,255}$' },
        },
      },
      headers: HEADER_COMPONENTS,
      schemas: { Problem: problemSchema, ...definitions },
      responses: Object.fromEntries(
        (Object.keys(PROBLEMS) as ProblemName[]).map((name) => [name, problemResponseOf(name)]),
      ),
    },
  };
}
