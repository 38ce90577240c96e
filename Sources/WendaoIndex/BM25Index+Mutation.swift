extension BM25Index {
    /// Adds a document (a chunk) with its analysed terms. Adding an id that is present replaces it.
    public func add(id: Int64, terms: [UInt64]) {
        if contains(id) { remove(ids: [id]) }
        let doc = delta.add(id: id, terms: terms)
        deletedInDelta.append(false)
        locator?[id] = (false, doc)
        normsAverage = -1
    }

    private func buildLocator() -> [Int64: (segment: Bool, doc: UInt32)] {
        if let l = locator { return l }
        var l: [Int64: (segment: Bool, doc: UInt32)] = [:]
        l.reserveCapacity(count)
        if let s = segment {
            for d in 0..<s.documentCount where !deletedInSegment[d] { l[s.ids[d]] = (true, UInt32(d)) }
        }
        for (d, id) in delta.ids.enumerated() where !deletedInDelta[d] { l[id] = (false, UInt32(d)) }
        locator = l
        return l
    }

    /// Whether a live document has this id.
    public func contains(_ id: Int64) -> Bool { buildLocator()[id] != nil }

    /// Removes documents by id (unknown ids are ignored).
    public func remove(ids: some Sequence<Int64>) {
        var l = buildLocator()
        for id in ids {
            guard let loc = l.removeValue(forKey: id) else { continue }
            let d = Int(loc.doc)
            if loc.segment, let s = segment {
                deletedInSegment[d] = true
                deletedSegmentCount += 1
                deletedSegmentLength += UInt64(s.lengths[d])
            } else {
                deletedInDelta[d] = true
                deletedDeltaCount += 1
                deletedDeltaLength += UInt64(delta.lengths[d])
            }
        }
        locator = l
        normsAverage = -1
    }
}
