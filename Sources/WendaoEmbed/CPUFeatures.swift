import Foundation
import WendaoCore

/// What the processor supports, read before any encoder kernel runs (they are built for AVX2 + FMA
/// on x86-64).
public enum CPUFeatures {
    /// Throws a clear error on an x86-64 processor without AVX2 and FMA.
    public static func requireEncoderSupport() throws {
        #if arch(x86_64) && os(Linux)
            guard let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
                let flags = info.split(separator: "\n").first(where: { $0.hasPrefix("flags") })
            else { return }
            let set = Set(flags.split(separator: " ").map(String.init))
            guard ["avx2", "fma", "bmi2", "f16c", "movbe"].allSatisfy(set.contains) else {
                throw WendaoError(
                    .unsupported,
                    "local embedding models need a processor with AVX2 and FMA (Intel Haswell, AMD Zen or newer); BM25 still works"
                )
            }
        #endif
    }
}
