import Foundation
import WendaoCore

// TEMPORARY until the Office branch is merged.
enum OfficeLoader {
    static func docx(_ data: Data, limits: LoaderLimits) throws -> ParsedDocument { throw WendaoError(.unsupported, "x") }
    static func pptx(_ data: Data, limits: LoaderLimits) throws -> ParsedDocument { throw WendaoError(.unsupported, "x") }
    static func xlsx(_ data: Data, limits: LoaderLimits) throws -> ParsedDocument { throw WendaoError(.unsupported, "x") }
    static func epub(_ data: Data, limits: LoaderLimits) throws -> ParsedDocument { throw WendaoError(.unsupported, "x") }
    static func svg(_ data: Data, limits: LoaderLimits) throws -> ParsedDocument { throw WendaoError(.unsupported, "x") }
    static func classify(_ data: Data, ext: String) throws -> DocumentFormat { .docx }
}
