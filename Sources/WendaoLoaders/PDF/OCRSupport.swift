import Foundation
import WendaoCore

/// Whether OCR can run, and with which of the requested languages.
public struct OCRStatus: Sendable, Equatable {
    /// True when the `tesseract` program was found.
    public var installed: Bool
    /// Requested languages that are installed, in the requested order.
    public var available: [String]
    /// Requested languages that are not installed.
    public var missing: [String]
    /// The Debian packages that would provide the missing languages (`tesseract-ocr-chi-sim`, …).
    public var missingPackages: [String]

    /// Creates a status.
    public init(installed: Bool, available: [String], missing: [String], missingPackages: [String]) {
        self.installed = installed
        self.available = available
        self.missing = missing
        self.missingPackages = missingPackages
    }

    /// True when OCR can run with at least one requested language.
    public var usable: Bool { installed && !available.isEmpty }

    /// A warning about missing languages, or nil when every requested language is installed.
    public var missingWarning: String? {
        guard installed, !missing.isEmpty else { return nil }
        let s = missing.count == 1 ? "" : "s"
        return "OCR language\(s) \(missing.joined(separator: ", ")) not installed — install "
            + missingPackages.joined(separator: " ")
    }
}

/// OCR with tesseract: installation checks, recognition of one image, and the clean-up of its output.
///
/// ```swift
/// let status = OCRSupport.status(languages: ["chi_sim", "eng"])
/// if !status.usable { print("install tesseract-ocr", status.missingPackages) }
/// ```
public enum OCRSupport {
    /// Why OCR cannot run, as the end of a "needs OCR — …" message (`install tesseract-ocr`, …).
    static func cannotRunReason(status: OCRStatus?, enabled: Bool) -> String {
        guard enabled else { return "install tesseract-ocr (OCR is turned off)" }
        guard let status, status.installed else { return "install tesseract-ocr" }
        return "no OCR language installed: install " + status.missingPackages.joined(separator: " ")
    }

    /// Checks whether tesseract is installed and which of `languages` it has.
    ///
    /// - Parameters:
    ///   - languages: Tesseract language codes (`chi_sim`, `chi_tra`, `eng`, …).
    ///   - limits: Limits for the `tesseract --list-langs` run.
    public static func status(languages: [String], limits: LoaderLimits = LoaderLimits()) -> OCRStatus {
        var requested: [String] = []
        for l in languages where !l.isEmpty && !requested.contains(l) { requested.append(l) }
        guard ExternalTool.locate("tesseract") != nil else {
            return OCRStatus(installed: false, available: [], missing: requested,
                             missingPackages: requested.map(debianPackage(forLanguage:)))
        }
        var quick = limits
        quick.toolSeconds = min(limits.toolSeconds, 30)
        let installed = installedLanguages(limits: quick)
        let available = requested.filter { installed.contains($0) }
        let missing = requested.filter { !installed.contains($0) }
        return OCRStatus(installed: true, available: available, missing: missing,
                         missingPackages: missing.map(debianPackage(forLanguage:)))
    }

    /// The Debian package of a tesseract language (`chi_sim` → `tesseract-ocr-chi-sim`).
    public static func debianPackage(forLanguage code: String) -> String {
        "tesseract-ocr-" + code.lowercased().replacingOccurrences(of: "_", with: "-")
    }

    /// The languages `tesseract --list-langs` reports (it prints them on stdout or, in old versions, stderr).
    static func installedLanguages(limits: LoaderLimits) -> Set<String> {
        guard let r = try? ExternalTool.run("tesseract", arguments: ["--list-langs"], limits: limits,
                                            maxOutputBytes: 1 << 20), r.succeeded
        else { return [] }
        let text = String(decoding: r.stdout, as: UTF8.self) + "\n" + r.stderr
        var langs = Set<String>()
        for line in text.split(whereSeparator: \.isNewline) {
            let l = line.trimmingCharacters(in: .whitespaces)
            if l.isEmpty || l.contains(" ") || l.contains(":") { continue }
            langs.insert(l)
        }
        return langs
    }

    /// Runs tesseract on one image file and returns its text per page (a multi-page TIFF gives several),
    /// with the spaces tesseract puts between CJK characters removed.
    static func recognize(imagePath: String, languages: [String], limits: LoaderLimits) throws -> [String] {
        let r = try ExternalTool.run(
            "tesseract", arguments: [imagePath, "stdout", "-l", languages.joined(separator: "+")],
            limits: limits, maxOutputBytes: 32 << 20)
        guard r.succeeded else {
            let reason = r.firstErrorLine.isEmpty ? "exit status \(r.status)" : r.firstErrorLine
            throw WendaoError(.unreadable, "tesseract failed: \(reason)")
        }
        var pages = r.stdout.split(separator: 0x0C, omittingEmptySubsequences: false)
            .map { removeCJKSpaces(String(decoding: $0, as: UTF8.self)) }
        while pages.count > 1, let last = pages.last, last.allSatisfy(\.isWhitespace) { pages.removeLast() }
        return pages
    }

    /// Removes spaces (not line breaks) between two CJK characters: `中 文 测 试` → `中文测试`.
    static func removeCJKSpaces(_ text: String) -> String {
        let scalars = Array(text.unicodeScalars)
        var out = String.UnicodeScalarView()
        out.reserveCapacity(scalars.count)
        var i = 0
        while i < scalars.count {
            let s = scalars[i]
            if s == " " || s == "\t" || s == "\u{3000}", let prev = out.last, TextScan.isCJK(prev.value) {
                var j = i
                while j < scalars.count, scalars[j] == " " || scalars[j] == "\t" || scalars[j] == "\u{3000}" {
                    j += 1
                }
                if j < scalars.count, TextScan.isCJK(scalars[j].value) {
                    i = j
                    continue
                }
            }
            out.append(s)
            i += 1
        }
        return String(out)
    }
}
