import Foundation
import WendaoWeb

/// Fuzz targets for the web side (filled in when the web fetcher lands).
enum FuzzWebTargets {
    static let names: [String] = []

    static func run(_ name: String, _ data: Data) -> Bool { false }
}
