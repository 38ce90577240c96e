public import Foundation
import WendaoCore

/// The rows of a workbook's first worksheet, for inputs shaped as a table (evaluation test sets): what
/// the ingest reader sees, row by row, without building a document.
public enum XLSXTable {
    /// Calls `row` with each row of the first worksheet of the `.xlsx` file that has a value: the cells'
    /// texts as Excel displays them ("" for an empty cell) and the row's 1-based number. The file is
    /// memory-mapped and the sheet parsed while it inflates (one row in memory at a time).
    ///
    /// - Throws: ``WendaoError`` `.unreadable` for a file that cannot be read or is not a workbook,
    ///   `.limitExceeded` beyond `limits` (size, rows); and whatever `row` throws.
    public static func rows(
        of file: URL, limits: LoaderLimits = LoaderLimits(), _ row: (_ cells: [String], _ number: Int) throws -> Void
    ) throws {
        let data: Data
        do { data = try Data(contentsOf: file, options: .alwaysMapped) } catch {
            throw WendaoError(.unreadable, "cannot read \(file.path)")
        }
        try XLSXReader.rows(of: data, limits: limits, row)
    }
}
