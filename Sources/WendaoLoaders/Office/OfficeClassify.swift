public import Foundation
public import WendaoCore

extension OfficeLoader {
    /// Which Office/EPUB format a ZIP archive holds, from its parts (the extension only breaks a tie).
    ///
    /// - Throws: `unsupported` for a ZIP that is none of them ("ZIP archives are not read"),
    ///   `unreadable`/`limitExceeded` for a damaged or oversized archive.
    public static func classify(_ data: Data, ext: String, limits: LoaderLimits = LoaderLimits()) throws
        -> DocumentFormat
    {
        let package = try OfficePackage(data, limits: limits)
        var found: [DocumentFormat] = []
        if package.has("word/document.xml") { found.append(.docx) }
        if package.has("ppt/presentation.xml") { found.append(.pptx) }
        if package.has("xl/workbook.xml") { found.append(.xlsx) }
        if package.has("META-INF/container.xml") || package.has("mimetype") && ext == "epub" { found.append(.epub) }
        if found.isEmpty, package.has("[Content_Types].xml") {
            // Parts elsewhere than the usual names: follow the package's main relationship.
            switch ext {
            case "docx", "docm", "dotx": found.append(.docx)
            case "pptx", "pptm", "potx": found.append(.pptx)
            case "xlsx", "xlsm", "xltx": found.append(.xlsx)
            default: break
            }
        }
        let byExtension: [String: DocumentFormat] = [
            "docx": .docx, "docm": .docx, "dotx": .docx, "pptx": .pptx, "pptm": .pptx, "potx": .pptx,
            "xlsx": .xlsx, "xlsm": .xlsx, "xltx": .xlsx, "epub": .epub,
        ]
        if let wanted = byExtension[ext], found.contains(wanted) { return wanted }
        if let first = found.first { return first }
        if let wanted = byExtension[ext] {
            throw WendaoError(.unreadable, "named .\(ext) but the archive holds no \(wanted.displayName) parts")
        }
        throw WendaoError(.unsupported, "ZIP archives are not read: unpack them and ingest the folder")
    }
}
