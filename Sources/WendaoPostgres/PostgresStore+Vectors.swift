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

/// Dense search inside PostgreSQL with pgvector, when the extension is installed: an HNSW index on
/// cosine distance per dimension (over the stored `real[]`, cast to `vector(d)`), `ef_search` set
/// per query. Servers search their own local index by default; this is the database-side option
/// (and what the benchmarks compare against).
extension PostgresStore {
    /// Whether the pgvector extension is installed in this database (it is created, when the server
    /// offers it and the user may, by ``enablePgvector()``).
    public func hasPgvector() throws -> Bool {
        let logger = self.logger
        return try run("cannot read the extensions") { client in
            !(try await client.rows("SELECT 1 AS one FROM pg_extension WHERE extname = 'vector'", logger: logger))
                .isEmpty
        }
    }

    /// Creates the pgvector extension if the server offers it; false when it does not (or the user
    /// may not create extensions).
    @discardableResult
    public func enablePgvector() throws -> Bool {
        let logger = self.logger
        let offered: Bool = try run("cannot read the extensions") { client in
            !(try await client.rows(
                "SELECT 1 AS one FROM pg_available_extensions WHERE name = 'vector'", logger: logger)).isEmpty
        }
        guard offered else { return false }
        do {
            try run("cannot create the vector extension") { client in
                _ = try await client.query("CREATE EXTENSION IF NOT EXISTS vector", logger: logger).collect()
            }
        } catch {
            logger.warning("pgvector is offered but could not be created", metadata: ["reason": "\(error)"])
            return false
        }
        return true
    }

    /// Creates (once) the HNSW index for vectors of `dimension` (cosine distance).
    public func ensureVectorIndex(dimension: Int) throws {
        guard (1...16_000).contains(dimension) else {
            throw WendaoError(.invalidArgument, "a vector dimension must be 1…16000")
        }
        let logger = self.logger
        try run("cannot create the vector index") { client in
            _ = try await client.query(
                """
                CREATE INDEX IF NOT EXISTS chunk_vector_hnsw_\(unescaped: String(dimension)) ON chunk_vector
                USING hnsw ((vector::vector(\(unescaped: String(dimension)))) vector_cosine_ops)
                WHERE dimension = \(unescaped: String(dimension))
                """, logger: logger
            ).collect()
        }
    }

    /// The `k` chunks of `kb` whose `embedder` vectors are nearest to `query` by cosine distance,
    /// nearest first, searched with pgvector's HNSW index (`efSearch` candidates per query).
    public func nearestVectors(kb: Int64, embedder: String, query: [Float], k: Int, efSearch: Int = 100) throws
        -> [(id: Int64, distance: Double)]
    {
        let d = String(query.count)
        let ef = String(max(k, min(1000, efSearch)))
        let limit = max(1, k)
        let logger = self.logger
        return try transaction("cannot search vectors") { c in
            try await c.exec("SET LOCAL hnsw.ef_search = \(unescaped: ef)", logger: logger)
            return try await c.rows(
                """
                SELECT chunk_id, (vector::vector(\(unescaped: d)) <=> \(query)::real[]::vector(\(unescaped: d)))::float8 AS distance
                FROM chunk_vector
                WHERE dimension = \(unescaped: d) AND kb_id = \(kb) AND embedder = \(embedder)
                ORDER BY vector::vector(\(unescaped: d)) <=> \(query)::real[]::vector(\(unescaped: d))
                LIMIT \(limit)
                """, logger: logger
            ).map { (id: try $0.get("chunk_id", as: Int64.self), distance: try $0.get("distance", as: Double.self)) }
        }
    }
}
