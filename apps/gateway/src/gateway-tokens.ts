export const GATEWAY_CONFIG = Symbol.for('strongroom.gateway-config');
