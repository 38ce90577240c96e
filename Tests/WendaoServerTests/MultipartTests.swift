import Foundation
import Testing
import WendaoTestSupport
@testable import WendaoServer

/// The multipart reader reads a body the same way however its bytes arrive (issue 12 fuzzing).
@Suite("Multipart reader")
struct MultipartTests {
    /// Feeds `body` in pieces of `size` bytes; the events (data joined per part) or the failure.
    private func read(_ body: [UInt8], boundary: String, pieces size: Int) -> (events: [String], failed: Bool) {
        var reader = MultipartReader(boundary: boundary)
        var events: [String] = []
        var data: [UInt8] = []
        var start = 0
        while start < body.count {
            let piece = body[start..<min(body.count, start + size)]
            start += size
            do {
                for e in try reader.feed(piece) {
                    switch e {
                    case .part(let name, let file): events.append("part \(name) \(file ?? "-")")
                    case .data(let bytes): data += bytes
                    case .partEnd:
                        events.append("data \(data.count)")
                        data = []
                    }
                }
            } catch {
                return (events, true)
            }
        }
        if reader.isComplete { events.append("complete") }
        return (events, false)
    }

    @Test("Whole or byte by byte: the same parts, the same refusals")
    func chunkingIndependent() {
        let header = "--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n"
        let bodies: [String] = [
            header + "\r\nhello\r\n--b--\r\n",
            // A header block over the 16 KB cap, whose end arrives in the same read as its start.
            header + "X-Pad: " + String(repeating: "p", count: 17_000) + "\r\n\r\nhello\r\n--b--\r\n",
            // A preamble over 64 KB before the first boundary.
            String(repeating: "q", count: 70_000) + "\r\n" + header + "\r\nx\r\n--b--\r\n",
            // A header block just under the cap, and a preamble just under 64 KB.
            header + "X-Pad: " + String(repeating: "p", count: 16_000) + "\r\n\r\nhello\r\n--b--\r\n",
            String(repeating: "q", count: 65_000) + "\r\n" + header + "\r\nx\r\n--b--\r\n",
        ]
        for (i, text) in bodies.enumerated() {
            let body = Array(text.utf8)
            let whole = read(body, boundary: "b", pieces: body.count)
            for size in [1, 7, 4096] {
                let chunked = read(body, boundary: "b", pieces: size)
                #expect(chunked.failed == whole.failed, "body \(i), pieces of \(size)")
                #expect(chunked.events == whole.events, "body \(i), pieces of \(size)")
            }
            #expect(whole.failed == (i == 1 || i == 2), "body \(i)")
        }
    }
}
