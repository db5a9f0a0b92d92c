// Every test runs as a configured app: the CloudBase environment the fake cloud answers for
// (tests/helpers/fake-cloud.js ENV). The empty-envId case has its own test (services/env.test.js).
require('../../app/config.js').envId = 'xiaofei-test-1a2b'
