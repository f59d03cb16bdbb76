import { runGateway } from './run-gateway';

runGateway().catch((error: unknown) => {
  const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  process.stderr.write(`gateway failed to start: ${message}\n`);
  process.exit(1);
});
