import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 20_000,
    hookTimeout: 120_000,
    // integration tests share one Grid Engine: run files one at a time
    fileParallelism: false,
    reporters: ["default"],
  },
});
