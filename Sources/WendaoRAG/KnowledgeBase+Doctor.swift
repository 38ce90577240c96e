import WendaoCore
import WendaoIndex

/// The result of a consistency check.
public struct DoctorReport: Sendable, Codable {
    /// Knowledge base name.
    public var kb: String
    /// Documents in the store.
    public var documents: Int
    /// Chunks in the store.
    public var storeChunks: Int
    /// Chunks in the index.
    public var indexChunks: Int
    /// What opening repaired (an index behind the store after an interrupted ingest), if anything.
    public var repaired: String?
    /// Problems found (empty when healthy).
    public var problems: [String]
    /// True when there are no problems.
    public var ok: Bool

    enum CodingKeys: String, CodingKey {
        case kb, documents, storeChunks = "store_chunks", indexChunks = "index_chunks", repaired, problems, ok
    }
}

extension KnowledgeBase {
    /// Checks that store and index agree: counts, orphans both ways, chunk counts, SQLite integrity,
    /// and the index file's own structure.
    public func doctor() throws -> DoctorReport {
        var problems = try store.integrityProblems(kb: record.id)
        let storeIDs = try store.chunkIDs(kb: record.id)
        let indexIDs = index.ids()
        let storeSet = Set(storeIDs)
        let indexSet = Set(indexIDs)
        let orphans = indexIDs.filter { !storeSet.contains($0) }.count
        let missing = storeIDs.filter { !indexSet.contains($0) }.count
        if orphans > 0 { problems.append("\(orphans) chunks in the index have no row in the store") }
        if missing > 0 { problems.append("\(missing) chunks in the store are missing from the index") }
        problems += index.verify().map { "index file: \($0)" }
        if index.generation != record.generation && !index.hasUnsavedChanges {
            problems.append("index generation \(index.generation) ≠ store generation \(record.generation)")
        }
        return DoctorReport(
            kb: name, documents: try documents().count, storeChunks: storeIDs.count, indexChunks: indexIDs.count,
            repaired: recoveryNote, problems: problems, ok: problems.isEmpty)
    }
}
