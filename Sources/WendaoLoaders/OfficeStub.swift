import Foundation
import WendaoCore

// TEMPORARY until the Office branch is merged.
public enum OfficeLoader {
    public static func docx(_ data: Data, limits: LoaderLimits) throws -> ParsedDocument { throw WendaoError(.unsupported, "x") }
    public static func pptx(_ data: Data, limits: LoaderLimits) throws -> ParsedDocument { throw WendaoError(.unsupported, "x") }
    public static func xlsx(_ data: Data, limits: LoaderLimits) throws -> ParsedDocument { throw WendaoError(.unsupported, "x") }
    public static func epub(_ data: Data, limits: LoaderLimits) throws -> ParsedDocument { throw WendaoError(.unsupported, "x") }
    public static func svg(_ data: Data, limits: LoaderLimits) throws -> ParsedDocument { throw WendaoError(.unsupported, "x") }
    public static func classify(_ data: Data, ext: String) throws -> DocumentFormat { .docx }
}
