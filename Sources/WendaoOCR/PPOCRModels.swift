public import Foundation

/// Where the PP-OCR models live and what `wendao models pull ppocr` fetches: the wheel
/// `rapidocr_onnxruntime==1.4.4` (Apache-2.0) from PyPI, its SHA-256 checked, and from it only the three
/// ONNX files, each checked again.
public enum PPOCRModels {
    /// The name used on the command line.
    public static let name = "ppocr"
    /// The pip requirement.
    public static let requirement = "rapidocr_onnxruntime==1.4.4"
    /// SHA-256 of the wheel file.
    public static let wheelSHA256 = "971d7d5f223a7a808662229df1ef69893809d8457d834e6373d3854bc1782cbf"
    /// Folder inside the wheel that holds the models.
    public static let wheelFolder = "rapidocr_onnxruntime/models/"
    /// The model files and their SHA-256.
    public static let files: [(name: String, sha256: String)] = [
        (PPOCREngine.detectorFile, "d2a7720d45a54257208b1e13e36a8479894cb74155a5efe29462512d42f49da9"),
        (PPOCREngine.classifierFile, "e47acedf663230f8863ff1ab0e64dd2d82b838fceb5957146dab185a89d6215c"),
        (PPOCREngine.recogniserFile, "48fc40f24f6d2a207a2b1091d3437eb3cc3eb6b676dc3ef9c37384005483683b"),
    ]
    /// What it is, for `models list`.
    public static let summary =
        "PP-OCRv4 mobile text detection and recognition (Chinese + English) and the 0°/180° classifier, from RapidOCR (16 MB)"
    /// The licence, kept as attribution.
    public static let licence = "Apache-2.0 (PaddleOCR models, packaged by RapidOCR)"

    /// The folder the models are pulled into: `$WENDAO_MODELS/ppocr`, default `~/.cache/wendao/models/ppocr`.
    public static func directory(environment: [String: String] = ProcessInfo.processInfo.environment) -> URL {
        let root: URL
        if let dir = environment["WENDAO_MODELS"], !dir.isEmpty {
            root = URL(fileURLWithPath: dir, isDirectory: true)
        } else {
            let home =
                environment["HOME"].map { URL(fileURLWithPath: $0) }
                ?? FileManager.default.homeDirectoryForCurrentUser
            root = home.appendingPathComponent(".cache/wendao/models", isDirectory: true)
        }
        return root.appendingPathComponent(name, isDirectory: true)
    }

    /// The models folder when all three files are there, else nil.
    public static func installed(environment: [String: String] = ProcessInfo.processInfo.environment) -> URL? {
        let dir = directory(environment: environment)
        let complete = files.allSatisfy {
            FileManager.default.fileExists(atPath: dir.appendingPathComponent($0.name).path)
        }
        return complete ? dir : nil
    }
}
