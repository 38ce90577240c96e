import Foundation
import WendaoCore
import WendaoOCR

/// The PP-OCR engine for the loaders: found in the models folder, loaded once per process and shared,
/// and the choice between it and Tesseract that ``OCREngineChoice/auto`` makes for each page.
enum PPOCRSupport {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var cache: [String: PPOCREngine] = [:]

    /// Why PP-OCR cannot run (the end of a sentence), or nil when it can.
    static func unavailableReason(limits: LoaderLimits) -> String? {
        guard CPUSupport.haswell else { return "PP-OCR needs an x86-64 CPU with AVX2 and FMA" }
        let dir = limits.ppocrModels ?? PPOCRModels.directory()
        let complete = PPOCRModels.files.allSatisfy {
            FileManager.default.fileExists(atPath: dir.appendingPathComponent($0.name).path)
        }
        return complete ? nil : "PP-OCR models not pulled (wendao models pull ppocr)"
    }

    /// The shared engine for the configured models folder.
    static func engine(limits: LoaderLimits) throws -> PPOCREngine {
        if let reason = unavailableReason(limits: limits) { throw WendaoError(.unsupported, reason) }
        let dir = limits.ppocrModels ?? PPOCRModels.directory()
        lock.lock()
        defer { lock.unlock() }
        if let e = cache[dir.path] { return e }
        let e = try PPOCREngine(directory: dir)
        cache[dir.path] = e
        return e
    }

    /// Threads one page's network runs get when `parallelism` pages are read at once.
    static func threads(parallelism: Int) -> Int {
        max(1, ProcessInfo.processInfo.activeProcessorCount / max(1, parallelism))
    }

    /// Share of CJK characters among the letters of `text` (0 when it has none).
    static func cjkShare(_ text: String) -> Double {
        var cjk = 0, letters = 0
        for s in text.unicodeScalars where s.properties.isAlphabetic {
            letters += 1
            if TextScan.isCJK(s.value) { cjk += 1 }
        }
        return letters == 0 ? 0 : Double(cjk) / Double(letters)
    }

    /// Which engine read a page, for the warnings.
    enum Reader: String { case ppocr = "PP-OCR", tesseract = "Tesseract" }

    /// Reads one page image with the engine `limits` chooses.
    ///
    /// `auto`: PP-OCR when it can run; when its text is mostly Latin script (less than 20 % CJK letters,
    /// at least 200 letters: a dense Latin page) and Tesseract can run, Tesseract reads the page and its
    /// text is kept. Without the PP-OCR models, Tesseract. `ppocr` and `tesseract` use that engine only.
    static func readPage(
        imagePath: String, limits: LoaderLimits, tesseract: OCRStatus?, threads: Int
    ) throws -> (String, Reader) {
        let tesseractUsable = tesseract?.usable ?? false
        func runTesseract() throws -> (String, Reader) {
            guard let tesseract, tesseract.usable else {
                throw WendaoError(.unsupported, OCRSupport.cannotRunReason(status: tesseract, enabled: true))
            }
            let pages = try OCRSupport.recognize(imagePath: imagePath, languages: tesseract.available, limits: limits)
            return (pages.joined(separator: "\n\n"), .tesseract)
        }
        switch limits.ocrEngine {
        case .tesseract:
            return try runTesseract()
        case .ppocr:
            return (try readWithPPOCR(imagePath: imagePath, limits: limits, threads: threads), .ppocr)
        case .auto:
            if unavailableReason(limits: limits) != nil { return try runTesseract() }
            let text = try readWithPPOCR(imagePath: imagePath, limits: limits, threads: threads)
            let letters = text.unicodeScalars.filter { $0.properties.isAlphabetic }.count
            if tesseractUsable, letters >= 200, cjkShare(text) < 0.2,
                let latin = try? runTesseract(), !latin.0.allSatisfy(\.isWhitespace)
            {
                return latin
            }
            return (text, .ppocr)
        }
    }

    /// PP-OCR on one image file: its lines in reading order, as text.
    static func readWithPPOCR(imagePath: String, limits: LoaderLimits, threads: Int) throws -> String {
        let engine = try engine(limits: limits)
        let image = try OCRImageDecoder.decode(fileAt: URL(fileURLWithPath: imagePath))
        let lines = try engine.recognize(image, threads: threads)
        return ReadingOrder.text(lines)
    }
}

/// What OCR can run for one document under ``LoaderLimits/ocrEngine``, decided once before any page is
/// read: the Tesseract status (when Tesseract may be used), whether PP-OCR can run, the notes for the
/// warnings and, when nothing can run, why.
struct OCRPlan {
    var tesseract: OCRStatus?
    var ppocrReason: String?
    var engine: OCREngineChoice
    var enabled: Bool

    init(limits: LoaderLimits) {
        engine = limits.ocrEngine
        enabled = limits.ocrEnabled
        ppocrReason = engine == .tesseract ? "Tesseract chosen" : PPOCRSupport.unavailableReason(limits: limits)
        tesseract =
            enabled && engine != .ppocr ? OCRSupport.status(languages: limits.ocrLanguages, limits: limits) : nil
    }

    /// True when PP-OCR may read pages.
    var mayUsePPOCR: Bool { enabled && engine != .tesseract && ppocrReason == nil }

    /// True when some engine can read pages.
    var canRun: Bool { mayUsePPOCR || (enabled && engine != .ppocr && (tesseract?.usable ?? false)) }

    /// Notes for the warnings: missing Tesseract languages when Tesseract does the reading, PP-OCR's
    /// absence when `auto` falls back to Tesseract.
    var notes: [String] {
        var out: [String] = []
        if engine == .auto, let ppocrReason, tesseract?.usable == true {
            out.append("OCR by Tesseract: \(ppocrReason)")
        }
        if !mayUsePPOCR, let w = tesseract?.missingWarning { out.append(w) }
        return out
    }

    /// Why no OCR can run, as the end of "needs OCR — …".
    var cannotRunReason: String {
        guard enabled else { return "install tesseract-ocr (OCR is turned off)" }
        switch engine {
        case .ppocr: return ppocrReason ?? "PP-OCR cannot run"
        case .tesseract: return OCRSupport.cannotRunReason(status: tesseract, enabled: true)
        case .auto:
            return OCRSupport.cannotRunReason(status: tesseract, enabled: true)
                + (ppocrReason == nil ? "" : " (or wendao models pull ppocr)")
        }
    }
}
