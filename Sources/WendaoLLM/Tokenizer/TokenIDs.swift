/// Token ids by text, with texts compared byte for byte as llama.cpp compares them.
///
/// Swift's `String` equality is canonical equivalence: as dictionary keys, "é" (U+00E9) and
/// "e\u{301}" would be one key, though a vocabulary may hold both as different tokens. Comparing
/// UTF-8 bytes keeps them apart (and hashes faster, with no normalisation).
struct TokenIDs: Sendable {
    private struct Key: Hashable, Sendable {
        var text: String

        static func == (a: Key, b: Key) -> Bool {
            var x = a.text
            var y = b.text
            return x.withUTF8 { p in y.withUTF8 { q in p.count == q.count && p.elementsEqual(q) } }
        }

        func hash(into hasher: inout Hasher) {
            var t = text
            t.withUTF8 { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
        }
    }

    private var table: [Key: Int32] = [:]

    init(capacity: Int) { table.reserveCapacity(capacity) }

    /// The id of the token spelled `text`.
    subscript(_ text: String) -> Int32? { table[Key(text: text)] }

    /// The id of the token spelled by these UTF-8 bytes.
    subscript<C: Collection<UInt8>>(bytes bytes: C) -> Int32? {
        table[Key(text: String(decoding: bytes, as: UTF8.self))]
    }

    /// Records `id` for `text`; returns the id `text` had before, if any.
    mutating func insert(_ text: String, _ id: Int32) -> Int32? { table.updateValue(id, forKey: Key(text: text)) }
}
