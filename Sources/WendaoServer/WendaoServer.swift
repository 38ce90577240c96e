// The HTTP server: REST API, OpenAI-compatible routes, API keys, web UI assets.
