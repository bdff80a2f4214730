/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/src', '<rootDir>/plugins', '<rootDir>/test', '<rootDir>/examples'],
  testMatch: ['**/*.test.ts'],
  setupFiles: ['reflect-metadata'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.json' }],
  },
  moduleNameMapper: {
    '^praxis-agent$': '<rootDir>/src/index.ts',
    '^praxis-agent/testing$': '<rootDir>/src/testing/index.ts',
  },
  testTimeout: 20000,
};
