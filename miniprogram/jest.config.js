// Node environment by default (services, utils, pages); component tests opt into jsdom with a
// `@jest-environment jsdom` docblock, as miniprogram-simulate needs a DOM.
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/tests'],
  testMatch: ['**/*.test.js'],
  clearMocks: true,
  setupFiles: ['<rootDir>/tests/helpers/setup-env.js'],
  testTimeout: 10000,
}
