/// An optional property written as an explicit `null` when absent, so that a JSON shape keeps all
/// its keys: Swift's synthesised `encode(to:)` leaves a nil optional out. The one mechanism behind
/// the stable shapes of `--json` output and the HTTP API (search hits, citations, answers,
/// knowledge-base summaries, jobs, keys).
///
/// Decoding is unchanged: a missing key or `null` reads as nil.
///
/// ```swift
/// struct Hit: Codable {
///     var text: String
///     @ExplicitNull var page: Int? = nil
/// }
/// // {"text":"…","page":null}
/// ```
@propertyWrapper
public struct ExplicitNull<Value> {
    /// The value; nil is encoded as `null`.
    public var wrappedValue: Value?

    /// Wraps `wrappedValue`.
    public init(wrappedValue: Value?) {
        self.wrappedValue = wrappedValue
    }
}

extension ExplicitNull: Sendable where Value: Sendable {}
extension ExplicitNull: Equatable where Value: Equatable {}
extension ExplicitNull: Hashable where Value: Hashable {}

extension ExplicitNull: Encodable where Value: Encodable {
    /// Encodes the value, or `null` when it is nil (what `Optional` itself does).
    public func encode(to encoder: any Encoder) throws {
        try wrappedValue.encode(to: encoder)
    }
}

extension ExplicitNull: Decodable where Value: Decodable {
    /// Decodes the value, nil for `null`.
    public init(from decoder: any Decoder) throws {
        wrappedValue = try Value?(from: decoder)
    }
}

extension KeyedDecodingContainer {
    /// Decodes an ``ExplicitNull`` property: a missing key reads as nil, as for a plain optional
    /// (the synthesised `init(from:)` calls this overload).
    public func decode<Value: Decodable>(_ type: ExplicitNull<Value>.Type, forKey key: Key) throws
        -> ExplicitNull<Value>
    {
        ExplicitNull(wrappedValue: try decodeIfPresent(Value.self, forKey: key))
    }
}
