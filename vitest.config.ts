import { defineConfig } from 'vitest/config';

/**
 * `unit`: everything beside the code it tests (`npm run test:unit`). `mattermost`: Mattermost's own
 * server checked against what the product relies on; it needs the server built by
 * mattermost/build-mattermost.sh and Debian's PostgreSQL, so `npm run test:real` runs it after the
 * build.
 */
export default defineConfig({
  test: {
    environment: 'node',
    testTimeout: 30_000,
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['{shared,sw,bootstrap,fabric,openziti,bench}/**/*.test.ts'],
        },
      },
      { extends: true, test: { name: 'mattermost', include: ['mattermost/**/*.test.ts'] } },
    ],
  },
});
