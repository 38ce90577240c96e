import Foundation
import WendaoCore

// Bounded reading of the ZIP container behind DOCX, PPTX, XLSX and EPUB.
//
// - Inflated bytes are counted while inflating; reading stops at the smaller of the part's cap and
//   what is left of `maxInflatedBytes` for the whole archive. Sizes in the headers are never used
//   to decide how much to read; after a part was read completely its size and CRC must match the
//   central directory, otherwise the archive is reported as damaged.
// - Parts are only ever looked up by the names the format expects or by relationship targets
//   resolved inside the archive. Entry names that are absolute, contain `..` segments, backslashes
//   or NUL can never be a legitimate part name: they are left out of the lookup table and reported
//   in one warning, so the rest of the document still loads (nothing is ever written to disk).

/// One relationship from a `_rels/*.rels` part.
struct OfficeRelationship {
    /// `Id` attribute (`rId3`).
    var id: String
    /// `Type` attribute (a URI; compare its last path segment).
    var type: String
    /// The target resolved to a part name inside the archive; nil for external or escaping targets.
    var target: String?

    /// Whether the type URI ends with `/suffix`.
    func isType(_ suffix: String) -> Bool { type.hasSuffix("/" + suffix) }
}

/// A read-only view of an OPC/OCF ZIP package with inflation accounting.
final class OfficePackage {
    private let archive: ZipReader
    private var entries: [String: ZipReader.Entry] = [:]
    private var budget: Int
    private let totalLimit: Int
    /// Warnings about the container (unsafe names, duplicates).
    private(set) var warnings: [String] = []

    /// Opens `data` as a ZIP archive.
    ///
    /// - Throws: `unreadable` when it is not a readable ZIP; `limitExceeded` when the file or its
    ///   entry count is over the limits.
    init(_ data: Data, limits: LoaderLimits) throws {
        if data.count > limits.maxBinaryBytes {
            throw WendaoError(
                .limitExceeded, "file is \(data.count >> 20) MB, more than the \(limits.maxBinaryBytes >> 20) MB limit")
        }
        guard data.count >= 22 else { throw WendaoError(.unreadable, "damaged ZIP archive") }
        archive = try ZipReader(data, maxEntries: limits.maxArchiveEntries)
        budget = limits.maxInflatedBytes
        totalLimit = limits.maxInflatedBytes
        var count = 0
        var unsafe = 0
        var duplicates = 0
        for entry in archive.entries {
            count += 1
            guard !entry.isDirectory else { continue }
            let path = entry.path
            guard Self.isSafe(path) else {
                unsafe += 1
                continue
            }
            let key = path.lowercased()
            if entries[key] == nil { entries[key] = entry } else { duplicates += 1 }
        }
        if count == 0 { throw WendaoError(.unreadable, "damaged ZIP archive") }
        if unsafe > 0 { warnings.append("\(unsafe) archive entries with unsafe names (absolute or ../) ignored") }
        if duplicates > 0 { warnings.append("\(duplicates) duplicate archive entries ignored") }
    }

    /// Whether an entry name can be a part name: relative, no `..`/`.` segments, no NUL or backslash.
    static func isSafe(_ path: String) -> Bool {
        if path.isEmpty || path.hasPrefix("/") || path.contains("\0") || path.contains("\\") { return false }
        if path.count >= 2, Array(path.utf8)[1] == UInt8(ascii: ":") { return false }  // C:…
        for segment in path.split(separator: "/", omittingEmptySubsequences: false) {
            if segment == ".." || segment == "." { return false }
        }
        return true
    }

    /// Whether the package has a part named `path` (case-insensitive, as OPC part names are).
    func has(_ path: String) -> Bool { entries[path.lowercased()] != nil }

    /// All safe part names.
    var partNames: [String] { entries.values.map(\.path) }

    /// Streams the part through `body` in inflated chunks. Returns false when the part is missing.
    /// `body` may throw ``XMLStop`` to end early; it is rethrown without a checksum check.
    @discardableResult
    func stream(_ path: String, cap: Int = .max, _ body: (UnsafeBufferPointer<UInt8>) throws -> Void) throws -> Bool {
        guard let entry = entries[path.lowercased()] else { return false }
        let limit = min(cap, budget)
        let partLimited = cap < budget
        var count = 0
        var crc = OfficeCRC32()
        do {
            try archive.read(entry) { bytes in
                count += bytes.count
                budget -= bytes.count
                if count > limit {
                    throw Self.overLimit(path: path, cap: cap, totalLimit: totalLimit, partLimited: partLimited)
                }
                crc.update(bytes)
                try body(bytes)
            }
        } catch is XMLStop {
            throw XMLStop()
        } catch let error as WendaoError {
            throw error
        } catch {
            throw WendaoError(.unreadable, "damaged ZIP archive")
        }
        if UInt64(count) != entry.uncompressedSize || crc.value != entry.crc {
            throw WendaoError(.unreadable, "damaged ZIP archive (\(path) does not match its header)")
        }
        return true
    }

    private static func overLimit(path: String, cap: Int, totalLimit: Int, partLimited: Bool) -> WendaoError {
        if partLimited {
            return WendaoError(.limitExceeded, "\(path) inflates to more than \(cap >> 20) MB")
        }
        return WendaoError(.limitExceeded, "archive inflates to more than \(totalLimit >> 20) MB")
    }

    /// Reads a whole part (nil when missing), at most `cap` inflated bytes.
    func read(_ path: String, cap: Int = 64 << 20) throws -> [UInt8]? {
        var out: [UInt8] = []
        let found = try stream(path, cap: cap) { out.append(contentsOf: $0) }
        return found ? out : nil
    }

    /// Parses an XML part with `handler`. Returns false when the part is missing.
    @discardableResult
    func parseXML<H: XMLHandler>(_ path: String, html: Bool = false, cap: Int = .max, handler: inout H) throws -> Bool {
        var xml = XMLStream<H>(part: path, html: html)
        var stopped = false
        let found: Bool
        do {
            found = try stream(path, cap: cap) { try xml.feed($0, handler: &handler) }
        } catch is XMLStop {
            stopped = true
            found = true
        }
        if found, !stopped {
            do {
                try xml.finish(handler: &handler)
            } catch is XMLStop {}
        }
        return found
    }

    /// The relationships of `part` (`dir/_rels/name.rels`; the package's own for `""`).
    func relationships(of part: String) throws -> [OfficeRelationship] {
        let dir = Self.directory(of: part)
        let name = part.split(separator: "/").last.map(String.init) ?? ""
        let relsPath = (dir.isEmpty ? "" : dir + "/") + "_rels/" + name + ".rels"
        var handler = RelationshipsHandler(base: dir)
        try parseXML(relsPath, cap: 16 << 20, handler: &handler)
        return handler.relationships
    }

    /// The folder of a part name (`word` for `word/document.xml`).
    static func directory(of part: String) -> String {
        guard let slash = part.lastIndex(of: "/") else { return "" }
        return String(part[..<slash])
    }

    /// Resolves a relative or absolute URI reference against `base` (a folder inside the archive).
    /// Nil when it is external or climbs above the archive root.
    static func resolve(_ target: String, base: String) -> String? {
        var t = target
        if let hash = t.firstIndex(of: "#") { t = String(t[..<hash]) }
        if t.isEmpty || t.contains("://") || t.hasPrefix("mailto:") { return nil }
        t = t.removingPercentEncoding ?? t
        var parts: [Substring] = []
        if !t.hasPrefix("/") { parts = base.split(separator: "/") }
        for segment in t.split(separator: "/") {
            if segment == "." { continue }
            if segment == ".." {
                guard !parts.isEmpty else { return nil }
                parts.removeLast()
                continue
            }
            parts.append(segment)
        }
        let path = parts.joined(separator: "/")
        return path.isEmpty ? nil : path
    }
}

/// Reads `Relationship` elements.
struct RelationshipsHandler: XMLHandler {
    let base: String
    var relationships: [OfficeRelationship] = []

    mutating func start(_ tag: XMLTag) throws {
        guard tag.name.is("Relationship"), relationships.count < 100_000 else { return }
        let id = tag.attribute("Id") ?? ""
        let type = tag.attribute("Type") ?? ""
        let external = tag.attribute("TargetMode") == "External"
        let target = external ? nil : tag.attribute("Target").flatMap { OfficePackage.resolve($0, base: base) }
        relationships.append(OfficeRelationship(id: id, type: type, target: target))
    }

    mutating func end(_ name: XMLName) throws {}
    mutating func text(_ text: XMLText) throws {}
}
