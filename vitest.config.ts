import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['{shared,sw,bootstrap,fabric,openziti,mattermost,bench}/**/*.test.ts'],
    environment: 'node',
    testTimeout: 30_000,
  },
});
