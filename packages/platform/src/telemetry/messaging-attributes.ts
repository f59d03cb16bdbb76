/**
 * Messaging semantic-convention attribute names (OpenTelemetry semconv "messaging" spans).
 * They live in `@opentelemetry/semantic-conventions/incubating`, which the OTel authors ask
 * consumers to copy rather than import (incubating names may change in a minor release), and
 * which `moduleResolution: node10` cannot resolve anyway.
 */
export const ATTR_MESSAGING_SYSTEM = 'messaging.system';
export const ATTR_MESSAGING_DESTINATION_NAME = 'messaging.destination.name';
export const ATTR_MESSAGING_OPERATION_TYPE = 'messaging.operation.type';
export const ATTR_MESSAGING_OPERATION_NAME = 'messaging.operation.name';

export const MESSAGING_SYSTEM_NATS = 'nats';
