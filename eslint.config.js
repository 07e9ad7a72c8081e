// The kit's lint rules: typescript-eslint's recommended set over the kit's own code (scripts/ and the entry
// scripts) and over its tests and benchmarks, with the few exceptions this code base has reasons for. Run by test/run-all.sh (npm run lint).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/**', '.learnflow/**', 'test-results/**'] },
  {
    files: ['scripts/**/*.ts', 'scripts/**/*.mts', '*.mts'],
    extends: [js.configs.recommended, ...tseslint.configs.recommended],
    rules: {
      // `_name` marks a value kept for its position (a destructured field dropped on purpose).
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' }],
      // JSON from kubectl is typed at the boundary with `as`; a handful of places read it untyped on purpose.
      '@typescript-eslint/no-explicit-any': 'error',
    },
  },
  {
    // The tests and benchmarks: the same rules, but JSON read back from kubectl and fixtures may stay `any`.
    files: ['test/**/*.ts', 'bench/**/*.ts', 'bench/**/*.mts', 'vitest.config.ts'],
    extends: [js.configs.recommended, ...tseslint.configs.recommended],
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'off',
    },
  },
);
