import Foundation
import Logging
import PostgresNIO
public import WendaoCore

/// Dense vectors: the `chunk_vector` table (`real[]`, stamped with embedder and dimension).
extension PostgresStore: VectorStore {
    /// Stores vectors in batches, replacing those of the same chunks; chunks no longer stored are skipped.
    public func storeVectors(embedder: String, dimension: Int, _ vectors: [(id: Int64, vector: [Float])]) throws {
        guard dimension > 0 else { throw WendaoError(.invalidArgument, "a vector dimension must be positive") }
        if let bad = vectors.first(where: { $0.vector.count != dimension }) {
            throw WendaoError(
                .invalidArgument,
                "the vector of chunk \(bad.id) has \(bad.vector.count) values, not \(dimension) (embedder \(embedder))")
        }
        guard !vectors.isEmpty else { return }
        let logger = self.logger
        let d = Int32(dimension)
        for start in stride(from: 0, to: vectors.count, by: 1000) {
            let part = vectors[start..<min(start + 1000, vectors.count)]
            let ids = part.map(\.id)
            let flat = part.flatMap(\.vector)
            try run("cannot store vectors") { client in
                _ = try await client.query(
                    """
                    INSERT INTO chunk_vector (chunk_id, kb_id, embedder, dimension, vector)
                    SELECT u.id, chunk.kb_id, \(embedder), \(d), (\(flat)::real[])[(u.ord - 1) * \(d) + 1 : u.ord * \(d)]
                    FROM unnest(\(ids)::int8[]) WITH ORDINALITY AS u(id, ord) JOIN chunk ON chunk.id = u.id
                    ON CONFLICT (chunk_id) DO UPDATE SET embedder = excluded.embedder, dimension = excluded.dimension,
                        vector = excluded.vector
                    """, logger: logger
                ).collect()
            }
        }
    }

    /// The stored vectors of `embedder` for `ids`, ascending by id.
    public func storedVectors(kb: Int64, embedder: String, ids: [Int64]) throws -> [(id: Int64, vector: [Float])] {
        guard !ids.isEmpty else { return [] }
        let logger = self.logger
        var out: [(id: Int64, vector: [Float])] = []
        for start in stride(from: 0, to: ids.count, by: 5000) {
            let part = Array(ids[start..<min(start + 5000, ids.count)])
            let rows: [(Int64, [Float])] = try run("cannot read vectors") { client in
                try await client.rows(
                    """
                    SELECT chunk_id, vector FROM chunk_vector
                    WHERE kb_id = \(kb) AND embedder = \(embedder) AND chunk_id = ANY(\(part)::int8[])
                    AND array_length(vector, 1) = dimension
                    """, logger: logger
                ).map { (try $0.get("chunk_id"), try $0.get("vector")) }
            }
            out += rows.map { (id: $0.0, vector: $0.1) }
        }
        return out.sorted { $0.id < $1.id }
    }
}

/// Uploaded originals: the `upload` table (`bytea`: in every backup with the rest, no shared
/// file system needed, no large-object bookkeeping; an upload is bounded by the server's upload limit).
extension PostgresStore: UploadStore {
    /// Stores (or replaces) an upload's bytes.
    public func storeUpload(kb: Int64, name: String, bytes: [UInt8]) throws {
        let data = Data(bytes)
        let logger = self.logger
        let now = Date().timeIntervalSince1970
        try transaction("cannot store upload \(name)") { c in
            guard !(try await c.rows("SELECT id FROM kb WHERE id = \(kb) FOR SHARE", logger: logger)).isEmpty else {
                throw WendaoError(.notFound, "no knowledge base with id \(kb)")
            }
            try await c.exec(
                """
                INSERT INTO upload (kb_id, name, bytes, updated_at) VALUES (\(kb), \(name), \(data), \(now))
                ON CONFLICT (kb_id, name) DO UPDATE SET bytes = excluded.bytes, updated_at = excluded.updated_at
                """, logger: logger)
        }
    }

    /// The bytes of an upload, or nil.
    public func upload(kb: Int64, name: String) throws -> [UInt8]? {
        let logger = self.logger
        let data: Data? = try run("cannot read upload \(name)") { client in
            try await client.rows("SELECT bytes FROM upload WHERE kb_id = \(kb) AND name = \(name)", logger: logger)
                .first.map { try $0.get("bytes", as: Data.self) }
        }
        return data.map { Array($0) }
    }

    /// Removes an upload.
    public func deleteUpload(kb: Int64, name: String) throws {
        let logger = self.logger
        try run("cannot remove upload \(name)") { client in
            _ = try await client.query("DELETE FROM upload WHERE kb_id = \(kb) AND name = \(name)", logger: logger)
                .collect()
        }
    }
}
