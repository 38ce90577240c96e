/// What an API key may do with the knowledge bases it covers.
///
/// ```swift
/// APIKeyScope.write.allows(.read)  // true
/// APIKeyScope.read.allows(.write)  // false
/// ```
public enum APIKeyScope: String, Sendable, Codable, CaseIterable {
    /// List, show, search, ask and chat.
    case read
    /// Everything `read` may do, plus uploading, deleting and re-ingesting documents and changing
    /// settings.
    case write

    /// True when a key of this scope may perform an operation that needs `needed`.
    public func allows(_ needed: APIKeyScope) -> Bool {
        switch (self, needed) {
        case (.write, _), (.read, .read): true
        case (.read, .write): false
        }
    }
}

/// An API key as stored: never the key itself, only its SHA-256 and a short prefix to recognise it by.
///
/// ```swift
/// if let key = try library.authenticate(presented), key.covers(kb.id), key.scope.allows(.write) { … }
/// ```
public struct APIKeyRecord: Sendable, Equatable {
    /// Stable numeric id.
    public var id: Int64
    /// A human label (`key-N` unless one was given).
    public var name: String
    /// The first 12 characters of the key (`wdk_` + 8), for display and revocation.
    public var prefix: String
    /// SHA-256 of the whole key, lowercase hex.
    public var hash: String
    /// What the key may do.
    public var scope: APIKeyScope
    /// The knowledge bases the key covers, by id, ascending. Deleting a knowledge base removes it
    /// here; a new knowledge base with the same name has a new id and is not covered.
    public var knowledgeBaseIDs: [Int64]
    /// Creation time, seconds since 1970.
    public var createdAt: Double
    /// Revocation time, or nil while the key is valid.
    public var revokedAt: Double?
    /// When the key was last seen in use (updated at most about once a minute), or nil.
    public var lastUsedAt: Double?

    /// Creates a record.
    public init(
        id: Int64, name: String, prefix: String, hash: String, scope: APIKeyScope, knowledgeBaseIDs: [Int64],
        createdAt: Double, revokedAt: Double? = nil, lastUsedAt: Double? = nil
    ) {
        self.id = id
        self.name = name
        self.prefix = prefix
        self.hash = hash
        self.scope = scope
        self.knowledgeBaseIDs = knowledgeBaseIDs
        self.createdAt = createdAt
        self.revokedAt = revokedAt
        self.lastUsedAt = lastUsedAt
    }

    /// True once the key has been revoked.
    public var isRevoked: Bool { revokedAt != nil }

    /// True when the key is valid and covers the knowledge base with this id.
    public func covers(_ kbID: Int64) -> Bool {
        !isRevoked && knowledgeBaseIDs.contains(kbID)
    }
}

/// The life cycle of an ingest job: `queued → running → succeeded | partial | failed | cancelled`.
public enum JobState: String, Sendable, Codable, CaseIterable {
    /// Waiting for a worker (also after a crash interrupted it: see `recoverInterruptedJobs`).
    case queued
    /// A worker is ingesting its files.
    case running
    /// Every file was ingested.
    case succeeded
    /// Some files failed, the others were ingested.
    case partial
    /// The job as a whole failed (see its `error`).
    case failed
    /// Cancelled before it finished.
    case cancelled

    /// True for the states a job never leaves.
    public var isFinished: Bool {
        switch self {
        case .queued, .running: false
        case .succeeded, .partial, .failed, .cancelled: true
        }
    }
}

/// What happened to one file of an ingest job.
public struct JobFileResult: Sendable, Codable, Equatable {
    /// Document identity (path inside the knowledge base).
    public var path: String
    /// `added`, `updated`, `unchanged` or `failed` (the ingest outcome's raw value).
    public var outcome: String
    /// Chunks stored.
    public var chunks: Int
    /// Why it failed (or a warning), else nil.
    public var reason: String?

    /// Creates a result.
    public init(path: String, outcome: String, chunks: Int, reason: String? = nil) {
        self.path = path
        self.outcome = outcome
        self.chunks = chunks
        self.reason = reason
    }
}

/// An ingest job as stored: what to ingest (`payload`), its state and its progress.
///
/// ```swift
/// var job = try library.createJob(kb: "logistics", payload: #"{"files": []}"#, filesTotal: 0)
/// job.state = .running
/// job.startedAt = Date().timeIntervalSince1970
/// try library.updateJob(job)
/// ```
public struct JobRecord: Sendable, Equatable {
    /// Stable numeric id.
    public var id: Int64
    /// The knowledge base it ingests into.
    public var kbID: Int64
    /// Current state.
    public var state: JobState
    /// Creation time, seconds since 1970.
    public var createdAt: Double
    /// When a worker (first) started it.
    public var startedAt: Double?
    /// When it reached a finished state.
    public var finishedAt: Double?
    /// Files to ingest.
    public var filesTotal: Int
    /// Files done so far (whatever their outcome).
    public var filesDone: Int
    /// Chunks stored so far.
    public var chunks: Int
    /// One result per file done.
    public var results: [JobFileResult]
    /// Why the job failed as a whole, else nil.
    public var error: String?
    /// What to ingest, as JSON chosen by the creator (e.g. `{"files": [{"path": …, "name": …}]}`);
    /// the store keeps it as given.
    public var payload: String

    /// Creates a record.
    public init(
        id: Int64, kbID: Int64, state: JobState, createdAt: Double, startedAt: Double? = nil,
        finishedAt: Double? = nil, filesTotal: Int, filesDone: Int = 0, chunks: Int = 0,
        results: [JobFileResult] = [], error: String? = nil, payload: String
    ) {
        self.id = id
        self.kbID = kbID
        self.state = state
        self.createdAt = createdAt
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.filesTotal = filesTotal
        self.filesDone = filesDone
        self.chunks = chunks
        self.results = results
        self.error = error
        self.payload = payload
    }
}
