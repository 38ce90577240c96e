// Test doubles shared by the test suites: an in-process OpenAI-compatible provider server.
