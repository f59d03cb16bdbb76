import {
  ERROR_CODES,
  type ErrorCode,
  PLATFORM_VERSION,
  problemTypeOf,
  REQUEST_SIGNING_HEADERS,
} from '@strongroom/contracts';
import { z } from 'zod';
import type { ApiRoute } from './api-route-table';

type JsonSchema = Record<string, unknown>;

/** Every API route may answer these (the gateway maps the bus's codes to them, RFC 9457 bodies). */
const ERRORS_OF_EVERY_ROUTE: readonly ErrorCode[] = [
  'VALIDATION',
  'UNAUTHENTICATED',
  'FORBIDDEN',
  'NOT_FOUND',
  'CONFLICT',
  'PAYLOAD_TOO_LARGE',
  'RATE_LIMITED',
  'INTERNAL',
  'BAD_REPLY',
  'UNAVAILABLE',
  'TIMEOUT',
];

/** `/v1/tenants/:tenantId` → `/v1/tenants/{tenantId}` and its parameter names. */
export function openApiPathOf(url: string): { path: string; parameters: string[] } {
  const parameters: string[] = [];
  const path = url.replace(/:([A-Za-z][A-Za-z0-9_]*)/g, (_match, name: string) => {
    parameters.push(name);
    return `{${name}}`;
  });
  return { path, parameters };
}

/** A contract schema as JSON Schema 2020-12 (OpenAPI 3.1's dialect), what a client sends. */
function jsonSchemaOf(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const { $schema: _dialect, ...json } = z.toJSONSchema(schema, {
    target: 'draft-2020-12',
    io,
    unrepresentable: 'any',
  }) as JsonSchema;
  return json;
}

/** The body a route takes: its contract's request without what the path already says. */
function bodySchemaOf(route: ApiRoute, pathParameters: readonly string[]): JsonSchema | undefined {
  if (route.method === 'GET' || route.method === 'DELETE') return undefined;
  const schema = jsonSchemaOf(route.contract.request, 'input');
  const properties = { ...(schema.properties as Record<string, JsonSchema> | undefined) };
  for (const name of pathParameters) delete properties[name];
  const required = ((schema.required as string[] | undefined) ?? []).filter((name) => !pathParameters.includes(name));
  if (Object.keys(properties).length === 0) return undefined;
  const { required: _required, ...rest } = schema;
  return { ...rest, properties, ...(required.length > 0 ? { required } : {}) };
}

function operationOf(route: ApiRoute) {
  const { parameters } = openApiPathOf(route.url);
  const body = bodySchemaOf(route, parameters);
  const errors = Object.fromEntries(
    ERRORS_OF_EVERY_ROUTE.map((code) => [String(ERROR_CODES[code].status), { $ref: `#/components/responses/${code}` }]),
  );
  return {
    operationId: route.contract.subject.replace(/^([a-z]+)\.v1\./, '$1.'),
    summary: route.contract.summary,
    'x-permission': route.contract.permission,
    'x-bus-subject': route.contract.subject,
    security: [{ bearer: [] }, { apiKey: [] }],
    parameters: [
      ...parameters.map((name) => ({ name, in: 'path', required: true, schema: { type: 'string' } })),
      ...(route.query ?? []).map((name) => ({ name, in: 'query', required: false, schema: { type: 'string' } })),
    ],
    ...(body !== undefined
      ? { requestBody: { required: true, content: { 'application/json': { schema: body } } } }
      : {}),
    responses: {
      [String(route.status ?? 200)]: {
        description: 'Success',
        content: { 'application/json': { schema: jsonSchemaOf(route.contract.response, 'output') } },
      },
      ...errors,
    },
  };
}

const problemSchema: JsonSchema = {
  type: 'object',
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

/**
 * The OpenAPI 3.1 document of the gateway, generated from the route table and the contracts (the
 * one source of truth): every route with its permission (`x-permission`), body and reply schemas,
 * and its problem+json errors.
 */
export function openApiDocument(routes: readonly ApiRoute[], serverUrl: string) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    const { path } = openApiPathOf(route.url);
    paths[path] = { ...paths[path], [route.method.toLowerCase()]: operationOf(route) };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Strongroom API',
      version: PLATFORM_VERSION,
      description: 'OAuth2/OIDC at /.well-known/openid-configuration; errors are RFC 9457 problem+json.',
    },
    servers: [{ url: serverUrl }],
    paths,
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT (RFC 9068)' },
        apiKey: {
          type: 'apiKey',
          in: 'header',
          name: REQUEST_SIGNING_HEADERS.apiKey,
          description: `Every request signed (SR1-HMAC-SHA256): ${Object.values(REQUEST_SIGNING_HEADERS)
            .filter((header) => header !== REQUEST_SIGNING_HEADERS.apiKey)
            .join(', ')}`,
        },
      },
      schemas: { Problem: problemSchema },
      responses: Object.fromEntries(
        ERRORS_OF_EVERY_ROUTE.map((code) => [
          code,
          {
            description: `${ERROR_CODES[code].title} (${problemTypeOf(code)})`,
            content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } },
          },
        ]),
      ),
    },
  };
}
