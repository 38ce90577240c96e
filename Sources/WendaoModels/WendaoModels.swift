// The model gateway: OpenAI-wire-format chat, embeddings, models and images over AsyncHTTPClient,
// with provider presets, configuration, retries, timeouts, error mapping and usage/cost.
