// Node environment by default (services, utils, pages); component tests opt into jsdom with a
// `@jest-environment jsdom` docblock, as miniprogram-simulate needs a DOM.
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/tests'],
  testMatch: ['**/*.test.js'],
  clearMocks: true,
  testTimeout: 10000,
}
