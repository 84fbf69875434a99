import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'tests/**/*.test.ts', 'scripts/**/*.test.ts'],
    // Differential tests boot QEMU and typervisor side by side; give them room on slow CI.
    testTimeout: 120_000,
    hookTimeout: 300_000,
  },
});
