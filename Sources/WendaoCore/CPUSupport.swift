import Foundation

/// What the processor can run, for the targets built with `-target-cpu haswell` (the vector index's
/// and the language models' kernels): their callers check ``haswell`` once and otherwise use their
/// baseline code, so the rest of the tool runs on any x86-64.
public enum CPUSupport {
    /// The `/proc/cpuinfo` flags of every feature `-target-cpu haswell` code may use: AVX, AVX2, FMA,
    /// BMI1/2, F16C, MOVBE, POPCNT and LZCNT (`abm`).
    public static let haswellFlags = ["avx", "avx2", "fma", "bmi1", "bmi2", "f16c", "movbe", "popcnt", "abm"]

    /// Whether this is an x86-64 processor with every Haswell feature (read once, from
    /// `/proc/cpuinfo` on Linux). False on other operating systems and architectures.
    public static let haswell: Bool = {
        #if arch(x86_64) && os(Linux)
            guard let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
                let flags = info.split(separator: "\n").first(where: { $0.hasPrefix("flags") })
            else { return false }
            return hasHaswellFeatures(Set(flags.split(separator: " ").map(String.init)))
        #else
            return false
        #endif
    }()

    /// Whether a `/proc/cpuinfo` flag set covers ``haswellFlags``.
    public static func hasHaswellFeatures(_ flags: Set<String>) -> Bool {
        haswellFlags.allSatisfy(flags.contains)
    }
}
