import { configDefaults, defineConfig } from 'vitest/config';

/**
 * `unit`: everything beside the code it tests (`npm run test:unit`). `mattermost`: Mattermost's own
 * server checked against what the product relies on; it needs the server built by
 * mattermost/build-mattermost.sh and Debian's PostgreSQL, so `npm run test:real` runs it after the
 * build. `openziti`: OpenZiti's own controller checked the same way (`*.real.test.ts` under openziti/,
 * kept out of `unit`; needs the `ziti` binary of openziti/build-ziti.sh), also in `test:real`.
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
          include: ['{shared,sw,bootstrap,fabric,openziti,bench,build}/**/*.test.ts'],
          exclude: [...configDefaults.exclude, '**/*.real.test.ts'],
        },
      },
      { extends: true, test: { name: 'mattermost', include: ['mattermost/**/*.test.ts'] } },
      {
        extends: true,
        test: { name: 'openziti', include: ['openziti/**/*.real.test.ts'], testTimeout: 60_000 },
      },
    ],
  },
});
