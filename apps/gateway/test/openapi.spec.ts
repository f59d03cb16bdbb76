import { validate } from '@readme/openapi-parser';
import { API_ROUTES } from '../src/api/api-route-table';
import { openApiDocument, openApiPathOf } from '../src/api/openapi-document';

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

  it('lists every route with its permission, its bus subject and every problem+json error', () => {
    for (const route of API_ROUTES) {
      const operation = (document.paths[openApiPathOf(route.url).path] as Record<string, Record<string, unknown>>)[
        route.method.toLowerCase()
      ]!;
      expect(operation['x-permission']).toBe(route.contract.permission);
      expect(operation['x-bus-subject']).toBe(route.contract.subject);
      const responses = operation.responses as Record<string, unknown>;
      for (const status of ['400', '401', '403', '404', '409', '413', '429', '500', '503', '504'])
        expect(responses[status]).toEqual({ $ref: expect.stringMatching(/^#\/components\/responses\//) });
    }
  });

  it('documents a body without what the path says', () => {
    const operation = document.paths['/v1/tenants/{tenantId}/clients']!.post as {
      requestBody: {
        content: { 'application/json': { schema: { properties: Record<string, unknown>; required: string[] } } };
      };
    };
    const schema = operation.requestBody.content['application/json'].schema;
    expect(Object.keys(schema.properties)).toEqual(expect.arrayContaining(['environment', 'name', 'grantTypes']));
    expect(schema.properties).not.toHaveProperty('tenantId');
    expect(schema.required).not.toContain('tenantId');
  });
});
