// ESM jest: NestJS 12 ships ES modules only, so specs run as ESM through ts-jest.
const transform = {
  '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json' }],
};
const common = {
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: {
    '^(\\.{1,2}/.*)\\.js$': '$1',
    // @fastify/static (CommonJS) requires content-disposition 3, which is ES-module only. Node 20.19+ can
    // require() it, but jest's module loader cannot; tests get the CommonJS 1.x with the same API.
    '^content-disposition$': 'content-disposition-cjs',
  },
  testEnvironment: 'node',
  transform,
};

/** @type {import('jest').Config} */
export default {
  projects: [
    { ...common, displayName: 'unit', rootDir: 'src', testMatch: ['**/*.spec.ts'] },
    { ...common, displayName: 'e2e', rootDir: '.', testMatch: ['<rootDir>/test/**/*.e2e-spec.ts'] },
  ],
};
