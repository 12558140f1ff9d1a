// ESLint (flat config). `npm test` runs it before the test suite; `npm run lint` alone.
import js from "@eslint/js";
import jest from "eslint-plugin-jest";
import tseslint from "typescript-eslint";

/** What the layers may import (docs/architecture.md): orchestrators stay deterministic, triggers stay thin. */
const ORCHESTRATOR_IMPORTS = {
  patterns: [
    {
      regex: "^(?!\\.\\./src/(contracts|retry-policies)$|\\./|durable-functions$)",
      message: "Orchestrators import only src/contracts, src/retry-policies, durable-functions and each other: no I/O, no clock, no environment.",
    },
  ],
};
const TRIGGER_IMPORTS = {
  patterns: [
    {
      regex: "(^|/)activities/",
      message: "Triggers reach activities only through src/registry.ts and src/composition.ts; storage-side reading is in src/storage/.",
    },
    { regex: "(^|/)orchestrators/", message: "Triggers name orchestrators through src/contracts.ts and src/registry.ts." },
  ],
};

export default tseslint.config(
  {
    ignores: ["dist/**", "node_modules/**", "coverage/**", ".deploy/**", ".kvbackup-local/**", "bench/results/**"],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ["**/*.ts"],
    languageOptions: {
      parserOptions: { project: ["./tsconfig.test.json"], tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // Type-aware: a promise nobody waits for, or one handed where a plain value is expected, loses its failure.
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-misused-promises": "error",
      "@typescript-eslint/await-thenable": "error",
      "@typescript-eslint/only-throw-error": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrors: "none" }],
    },
  },
  {
    // The product and its tools: no `any` at a module's boundary or inside it.
    files: ["src/**/*.ts", "activities/**/*.ts", "orchestrators/**/*.ts", "scripts/**/*.ts"],
    rules: { "@typescript-eslint/no-explicit-any": "error" },
  },
  {
    files: ["orchestrators/**/*.ts"],
    rules: { "no-restricted-imports": ["error", ORCHESTRATOR_IMPORTS] },
  },
  {
    files: ["src/functions/**/*.ts", "src/cli/**/*.ts"],
    rules: { "no-restricted-imports": ["error", TRIGGER_IMPORTS] },
  },
  {
    files: ["test/**/*.ts"],
    ...jest.configs["flat/recommended"],
    rules: {
      ...jest.configs["flat/recommended"].rules,
      "jest/no-focused-tests": "error",
      "jest/no-disabled-tests": "error",
      // Helpers named expect… assert for the tests that call them.
      "jest/expect-expect": ["warn", { assertFunctionNames: ["expect", "expect*"] }],
      // Tests load modules synchronously where registration must be captured (jest.isolateModules), and the
      // untyped internals of durable-functions and the Kusto bridge: these, and nothing else, by require.
      "@typescript-eslint/no-require-imports": [
        "error",
        { allow: ["^durable-functions(/lib/src/.*)?$", "^@azure/functions$", "^\\.\\./\\.\\./src/functions/[a-z]+$", "^@kusto/language-service-next/"] },
      ],
      // Tests build edge cases on purpose (casts of partial doubles); the product's rule is above.
      "@typescript-eslint/no-explicit-any": "off",
    },
  },
  {
    // Shared suites (a store contract run against each store) are modules, not test files.
    files: ["test/**/*.ts"],
    ignores: ["test/**/*.test.ts"],
    rules: { "jest/no-export": "off" },
  },
  {
    files: ["**/*.js", "**/*.mjs"],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: { globals: { require: "readonly", module: "writable", process: "readonly", __dirname: "readonly", console: "readonly" } },
    rules: { ...tseslint.configs.disableTypeChecked.rules, "@typescript-eslint/no-require-imports": "off" },
  },
);
