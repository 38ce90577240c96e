public import WendaoCore

extension BM25Index {
    /// Writes segment + delta − tombstones to `path` atomically and maps the result.
    public func save(to path: String, generation: Int64) throws(WendaoError) {
        // New doc numbering: live segment docs, then live delta docs.
        var ids: [Int64] = []
        var lengths: [UInt32] = []
        ids.reserveCapacity(count)
        lengths.reserveCapacity(count)
        var segMap: [UInt32] = []
        if let s = segment {
            segMap = [UInt32](repeating: UInt32.max, count: s.documentCount)
            for d in 0..<s.documentCount where !deletedInSegment[d] {
                segMap[d] = UInt32(ids.count)
                ids.append(s.ids[d])
                lengths.append(s.lengths[d])
            }
        }
        var deltaMap = [UInt32](repeating: UInt32.max, count: delta.documentCount)
        for d in 0..<delta.documentCount where !deletedInDelta[d] {
            deltaMap[d] = UInt32(ids.count)
            ids.append(delta.ids[d])
            lengths.append(delta.lengths[d])
        }
        // Count terms and postings of the merged result.
        var termCount = 0
        var postingCount = 0
        let seg = segment
        let noDeletes = deletedSegmentCount == 0 && deletedDeltaCount == 0
        func mergedCount(segStart: Int, segCount: Int, slot: Int?) -> Int {
            var c = 0
            if noDeletes {
                c = segCount + (slot.map { delta.count(of: $0) } ?? 0)
            } else {
                if let s = seg {
                    for k in segStart..<(segStart + segCount) {
                        let raw = Int(s.postingDocs[k])
                        if raw < deletedInSegment.count && !deletedInSegment[raw] { c += 1 }
                    }
                }
                if let slot { for d in delta.postings(of: slot).docs where !deletedInDelta[Int(d)] { c += 1 } }
            }
            return c
        }
        seg?.forEachTerm { term, start, cnt in
            let c = mergedCount(segStart: start, segCount: cnt, slot: delta.slot(of: term))
            if c > 0 {
                termCount += 1
                postingCount += c
            }
        }
        for (slot, term) in delta.terms.enumerated() where seg?.postings(of: term) == nil {
            let c = mergedCount(segStart: 0, segCount: 0, slot: slot)
            if c > 0 {
                termCount += 1
                postingCount += c
            }
        }
        var docsBuf: [UInt32] = []
        var tfsBuf: [UInt16] = []
        do {
            try SegmentWriter.write(
                path: path, generation: generation, ids: ids, lengths: lengths, k1: parameters.k1, b: parameters.b,
                termCount: termCount,
                postingCount: postingCount
            ) { put in
                func emit(_ term: UInt64, segStart: Int, segCount: Int, slot: Int?) {
                    docsBuf.removeAll(keepingCapacity: true)
                    tfsBuf.removeAll(keepingCapacity: true)
                    if let s = seg {
                        for k in segStart..<(segStart + segCount) {
                            let raw = Int(s.postingDocs[k])
                            if raw >= segMap.count { continue }
                            let m = segMap[raw]
                            if m != UInt32.max {
                                docsBuf.append(m)
                                tfsBuf.append(s.postingTFs[k])
                            }
                        }
                    }
                    if let slot {
                        let (dd, tt) = delta.postings(of: slot)
                        for i in 0..<dd.count {
                            let m = deltaMap[Int(dd[i])]
                            if m != UInt32.max {
                                docsBuf.append(m)
                                tfsBuf.append(tt[i])
                            }
                        }
                    }
                    if docsBuf.isEmpty { return }
                    docsBuf.withUnsafeBufferPointer { d in tfsBuf.withUnsafeBufferPointer { t in put(term, d, t) } }
                }
                seg?.forEachTerm { term, start, cnt in
                    emit(term, segStart: start, segCount: cnt, slot: delta.slot(of: term))
                }
                for (slot, term) in delta.terms.enumerated() where seg?.postings(of: term) == nil {
                    emit(term, segStart: 0, segCount: 0, slot: slot)
                }
            }
            let fresh = try Segment(path: path)
            reset(to: fresh)
        } catch SegmentError.unreadable(_, let why) {
            throw WendaoError(.storage, "cannot write index file \(path): \(why)")
        } catch SegmentError.corrupt(_, let why) {
            throw WendaoError(.corrupt, "index file \(path): \(why)")
        } catch {
            throw WendaoError(.storage, "cannot write index file \(path)")
        }
    }

    private func reset(to s: Segment) {
        segment = s
        generation = s.generation
        deletedInSegment = [Bool](repeating: false, count: s.documentCount)
        deletedSegmentCount = 0
        deletedSegmentLength = 0
        delta.reset()
        deletedInDelta = []
        deletedDeltaCount = 0
        deletedDeltaLength = 0
        locator = nil
        normsAverage = -1
        accumulator = []
        norms = []
    }
}
