/// Fetching web pages for ingest with a guarded HTTP client (public addresses only, size and time
/// caps, redirects re-checked) and a same-origin crawler that honours robots.txt and sitemaps.
public enum WendaoWeb {}
