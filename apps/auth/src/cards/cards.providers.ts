import type { Provider } from '@nestjs/common';
import { dataSourceOf, SERVICE_RESOURCES, type ServiceResources } from '@strongroom/platform';
import { publishingSink } from '../auth-audit';
import { tokenizerCardNumberTokens } from './card-number-tokens';
import { PgCardRepository } from './cards.repository';
import { CardsService } from './cards.service';

/** The cards domain wired to this process's database and secrets. */
export const cardsProviders: Provider[] = [
  {
    provide: CardsService,
    inject: [SERVICE_RESOURCES],
    useFactory: (resources: ServiceResources) => {
      const dataSource = dataSourceOf(resources);
      return new CardsService({
        repository: new PgCardRepository(dataSource),
        cardNumbers: tokenizerCardNumberTokens(resources, dataSource),
        audit: publishingSink(resources),
      });
    },
  },
];
