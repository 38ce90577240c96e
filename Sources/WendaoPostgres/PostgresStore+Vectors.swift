import Foundation
import Logging
import PostgresNIO
import Synchronization
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
/// cosine distance per knowledge base and dimension (over the stored `real[]`, cast to `vector(d)`),
/// `ef_search` set per query. Servers search their own local index by default; this is the
/// database-side option (`--vector-search pgvector`) and what the benchmarks compare against.
///
/// One index per knowledge base, not one for the table: pgvector before 0.8 filters an HNSW scan's
/// `ef_search` candidates after the fact, so a shared index would return a small knowledge base only
/// the few of its vectors that happened to be among the nearest of all tenants'. A partial index
/// (`WHERE kb_id = K AND dimension = D`) holds one tenant's vectors alone: every candidate is one of
/// its own, and recall does not depend on what the other knowledge bases hold.
extension PostgresStore: DatabaseVectorSearch {
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
            return try hasPgvector()
        }
        return true
    }

    /// Creates the pgvector extension or throws ``WendaoError/Code/unsupported`` saying why dense
    /// search cannot run in this database.
    public func prepareDatabaseVectorSearch() throws {
        guard try enablePgvector() else {
            throw WendaoError(
                .unsupported,
                "the database \(url.redacted) has no pgvector extension (vector search pgvector needs it: "
                    + "pgvector installed on the PostgreSQL server, then CREATE EXTENSION vector in this database "
                    + "by a superuser, once; or search with --vector-search local)")
        }
    }

    /// The name of the HNSW index of knowledge base `kb`'s vectors of `dimension`.
    static func vectorIndexName(kb: Int64, dimension: Int) -> String { "chunk_vector_hnsw_kb\(kb)_d\(dimension)" }

    /// Creates (once; several servers at once wait for each other) the HNSW index on cosine distance
    /// of knowledge base `kb`'s vectors of `dimension`. Building it over vectors already stored takes
    /// a while (see BENCHMARKS.md); vectors stored afterwards join it as they are written.
    public func ensureVectorIndex(kb: Int64, dimension: Int) throws {
        guard (1...16_000).contains(dimension) else {
            throw WendaoError(.invalidArgument, "a vector dimension must be 1…16000, not \(dimension)")
        }
        let name = Self.vectorIndexName(kb: kb, dimension: dimension)
        if vectorIndexesMade.withLock({ $0.contains(name) }) { return }
        let logger = self.logger
        // Integers only in the DDL (a statement that cannot take parameters): the id and the dimension.
        let k = String(kb)
        let d = String(dimension)
        // Building over many stored vectors takes minutes, not the usual call's time limit.
        try transaction("cannot create the vector index of knowledge base \(kb)", timeout: .seconds(3600)) { c in
            try await c.exec("SELECT pg_advisory_xact_lock(\(Self.vectorIndexLockKey), \(Int32(truncatingIfNeeded: kb)))", logger: logger)
            try await c.exec(
                """
                CREATE INDEX IF NOT EXISTS \(unescaped: name) ON chunk_vector
                USING hnsw ((vector::vector(\(unescaped: d))) vector_cosine_ops)
                WHERE kb_id = \(unescaped: k) AND dimension = \(unescaped: d)
                """, logger: logger)
        }
        vectorIndexesMade.withLock { _ = $0.insert(name) }
    }

    /// The first key of the advisory lock index creation takes (the second is the knowledge base).
    static let vectorIndexLockKey: Int32 = 0x5764_7678

    /// Drops the HNSW indexes of knowledge base `kb` (when it is deleted).
    func dropVectorIndexes(kb: Int64, connection c: PostgresConnection) async throws {
        let prefix = "chunk_vector_hnsw_kb\(kb)_d"
        let names = try await c.rows(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'chunk_vector' AND starts_with(indexname, \(prefix))",
            logger: logger
        ).map { try $0.get("indexname", as: String.self) }
        for name in names where name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }) {
            try await c.exec("DROP INDEX IF EXISTS \(unescaped: name)", logger: logger)
        }
        vectorIndexesMade.withLock { made in made = made.filter { !$0.hasPrefix(prefix) } }
    }

    /// The `k` chunks of `kb` whose `embedder` vectors are nearest to `query` by cosine distance,
    /// nearest first, searched with pgvector's HNSW index of the knowledge base (made on first use,
    /// see ``ensureVectorIndex(kb:dimension:)``) keeping `efSearch` candidates (raised to `k`).
    public func nearestVectors(kb: Int64, embedder: String, query: [Float], k: Int, efSearch: Int = 100) throws
        -> [(id: Int64, distance: Double)]
    {
        guard !query.isEmpty else { throw WendaoError(.invalidArgument, "the query vector is empty") }
        try ensureVectorIndex(kb: kb, dimension: query.count)
        let d = String(query.count)
        let ef = String(max(k, min(1000, max(1, efSearch))))
        let limit = max(1, min(k, 1000))
        let logger = self.logger
        return try transaction("cannot search vectors") { c in
            try await c.exec("SET LOCAL hnsw.ef_search = \(unescaped: ef)", logger: logger)
            return try await c.rows(
                """
                SELECT chunk_id, (vector::vector(\(unescaped: d)) <=> \(query)::real[]::vector(\(unescaped: d)))::float8 AS distance
                FROM chunk_vector
                WHERE kb_id = \(kb) AND dimension = \(unescaped: d) AND embedder = \(embedder)
                ORDER BY vector::vector(\(unescaped: d)) <=> \(query)::real[]::vector(\(unescaped: d))
                LIMIT \(limit)
                """, logger: logger
            ).map { (id: try $0.get("chunk_id", as: Int64.self), distance: try $0.get("distance", as: Double.self)) }
        }
    }

    /// ``nearestVectors(kb:embedder:query:k:efSearch:)`` as cosine similarities (1 − distance).
    public func nearestChunks(kb: Int64, embedder: String, query: [Float], k: Int, efSearch: Int) throws
        -> [(id: Int64, similarity: Float)]
    {
        try nearestVectors(kb: kb, embedder: embedder, query: query, k: k, efSearch: efSearch)
            .map { (id: $0.id, similarity: Float(1 - $0.distance)) }
    }
}
