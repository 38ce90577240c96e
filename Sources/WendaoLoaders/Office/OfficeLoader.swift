public import Foundation
import WendaoCore

/// Parsers for Office Open XML (DOCX, PPTX, XLSX), EPUB and SVG.
///
/// Every parser reads the ZIP container with bounded inflation (``LoaderLimits/maxInflatedBytes``,
/// ``LoaderLimits/maxArchiveEntries``) and parses XML with a small tokenizer that refuses DTDs with
/// entity declarations, so XXE and entity-expansion attacks fail with one-line errors.
///
/// ```swift
/// let parsed = try OfficeLoader.docx(data, limits: LoaderLimits())
/// for block in parsed.blocks { print(block.sectionPath, block.text) }
/// ```
///
/// Errors are ``WendaoError``: `unreadable` (damaged ZIP, malformed XML, missing parts),
/// `unsupported` (entity declarations, DRM-protected EPUB), `limitExceeded` (size, entry, nesting
/// or inflation limits).
public enum OfficeLoader {
    /// Parses a Word document: headings (from styles), paragraphs, list items and table rows as
    /// header-repeating records.
    public static func docx(_ data: Data, limits: LoaderLimits) throws -> ParsedDocument {
        try DOCXReader.parse(data, limits: limits)
    }

    /// Parses a PowerPoint presentation: slides in presentation order (``Block/page`` = slide
    /// number), slide titles as section paths, tables as records, speaker notes.
    public static func pptx(_ data: Data, limits: LoaderLimits) throws -> ParsedDocument {
        try PPTXReader.parse(data, limits: limits)
    }

    /// Parses an Excel workbook: every sheet, each row after the header row as one record, values
    /// formatted as Excel shows them (formulas never evaluated; cached values only).
    public static func xlsx(_ data: Data, limits: LoaderLimits) throws -> ParsedDocument {
        try XLSXReader.parse(data, limits: limits)
    }

    /// Parses an EPUB book: chapters in spine order, headings as section paths under the chapter
    /// title.
    public static func epub(_ data: Data, limits: LoaderLimits) throws -> ParsedDocument {
        try EPUBReader.parse(data, limits: limits)
    }

    /// Parses an SVG drawing: its `<title>`, `<desc>` and `<text>` elements.
    public static func svg(_ data: Data, limits: LoaderLimits) throws -> ParsedDocument {
        try SVGReader.parse(data, limits: limits)
    }

    /// A cell value made safe for CSV or spreadsheet export: text starting with `=`, `+`, `-`, `@`,
    /// a tab or a carriage return gets a leading `'`, so no spreadsheet evaluates it as a formula.
    public static func neutralisedForExport(_ cell: String) -> String {
        guard let first = cell.unicodeScalars.first else { return cell }
        switch first {
        case "=", "+", "-", "@", "\t", "\r": return "'" + cell
        default: return cell
        }
    }
}
