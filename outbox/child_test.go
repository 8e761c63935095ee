package outbox_test

// childEnv, when set, makes the test binary a child process of a crash or
// rate-limit test instead of running tests.
const childEnv = "OUTBOX_TEST_CHILD"

func childMain() int { return 2 }
