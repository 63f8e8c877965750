import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    projects: [
      {
        test: { name: "unit", include: ["test/unit/**/*.test.ts"], testTimeout: 20_000 },
      },
      {
        test: {
          name: "integration",
          include: ["test/integration/**/*.test.ts"],
          // brings up the testbed when it is not up, and removes every job the tests left behind
          globalSetup: ["test/support/global-setup.ts"],
          testTimeout: 120_000,
          hookTimeout: 300_000,
          // one Grid Engine for all: files run one at a time
          fileParallelism: false,
        },
      },
      // what only 9.x has (RSMAP GPUs): run by scripts/test's OCS pass, with the testbed on OCS
      ...(process.env.RSGE_TESTBED_SCHEDULER === "ocs"
        ? [
            {
              test: {
                name: "integration-ocs",
                include: ["test/integration-ocs/**/*.test.ts"],
                globalSetup: ["test/support/global-setup.ts"],
                testTimeout: 300_000,
                hookTimeout: 300_000,
                fileParallelism: false,
              },
            },
          ]
        : []),
    ],
  },
});
