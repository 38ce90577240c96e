extension Duration {
    /// The duration in seconds, as a `Double` (for timings in reports and metrics).
    ///
    /// ```swift
    /// let took = (ContinuousClock.now - started).seconds
    /// ```
    public var seconds: Double {
        let c = components
        return Double(c.seconds) + Double(c.attoseconds) / 1e18
    }
}
