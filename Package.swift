// swift-tools-version:6.0
import PackageDescription

/// Settings shared by every target: Swift 6 language mode plus the upcoming features the
/// design notes ask for.
let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    // `import X` is internal unless written `public import X`: a module's public API says which
    // modules it exposes.
    .enableUpcomingFeature("InternalImportsByDefault"),
]

/// The encoder kernels (SIMD GEMM, Q4_0, GELU) are built for Haswell-class x86-64 (AVX2 + FMA): 2.8×
/// faster than the baseline SSE2 code. Wendao checks the CPU before loading an embedding model
/// (`Embedders.open`), so the rest of the tool still runs on older CPUs.
/// Kernel targets are optimised in debug builds too: an unoptimised forward pass takes about a second
/// per token, which would make the golden tests crawl.
let optimisedInDebug: [SwiftSetting] = [.unsafeFlags(["-O"], .when(configuration: .debug))]
#if arch(x86_64)
    let kernelSettings: [SwiftSetting] =
        swiftSettings + optimisedInDebug + [.unsafeFlags(["-target-cpu", "haswell"])]
#else
    let kernelSettings: [SwiftSetting] = swiftSettings + optimisedInDebug
#endif

let package = Package(
    name: "wendao",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "wendao", targets: ["wendao"]),
        .library(name: "WendaoRAG", targets: ["WendaoRAG"]),
    ],
    dependencies: [
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.30.0"),
        .package(url: "https://github.com/weichsel/ZIPFoundation", from: "0.9.20"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
    ],
    targets: [
        .target(
            name: "WendaoCore",
            swiftSettings: swiftSettings
        ),
        .target(
            name: "WendaoText",
            dependencies: ["WendaoCore"],
            swiftSettings: swiftSettings
        ),
        .systemLibrary(
            name: "WendaoZlib",
            providers: [.apt(["zlib1g-dev"])]
        ),
        // Accounts, passwords (Argon2id from the system's libsodium, loaded at run time) and
        // sessions over Core's UserStore.
        .target(
            name: "WendaoAuth",
            dependencies: ["WendaoCore"],
            swiftSettings: swiftSettings
        ),
        // The quantised matrix kernels of the local language models for Haswell-class CPUs (AVX2 + FMA).
        // WendaoLLM itself stays baseline x86-64 (its portable kernels are the fallback and the tests'
        // reference) and calls these only after checking the CPU.
        // A software prefetch for the kernels (a C header: Swift cannot spell the instruction).
        .target(name: "WendaoPrefetch"),
        .target(
            name: "WendaoLLMKernels",
            dependencies: ["WendaoPrefetch"],
            swiftSettings: kernelSettings
        ),
        // Local language models: the GGUF reader (checked, memory-mapped) and the runtime.
        .target(
            name: "WendaoLLM",
            dependencies: ["WendaoCore", "WendaoLLMKernels"],
            swiftSettings: swiftSettings + optimisedInDebug
        ),
        // PP-OCR run natively: the ONNX reader and interpreter, the OCR kernels (AVX2 + FMA, checked
        // before use), the detector's post-processing and the recogniser; images decoded by the system's
        // libpng, libjpeg-turbo and libtiff.
        .target(
            name: "WendaoImageCodecs",
            linkerSettings: [.linkedLibrary("png16"), .linkedLibrary("jpeg"), .linkedLibrary("tiff")]
        ),
        .target(
            name: "WendaoOCR",
            dependencies: ["WendaoCore", "WendaoImageCodecs"],
            swiftSettings: kernelSettings
        ),
        .target(
            name: "WendaoLoaders",
            dependencies: ["WendaoCore", "WendaoZlib", "WendaoOCR"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "WendaoWeb",
            dependencies: [
                "WendaoCore", "WendaoLoaders",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "WendaoEmbed",
            dependencies: [
                "WendaoCore",
                .product(name: "ZIPFoundation", package: "ZIPFoundation"),
            ],
            swiftSettings: kernelSettings
        ),
        // The vector index's dot products for Haswell-class CPUs (AVX2 + FMA). WendaoIndex itself
        // stays baseline x86-64 (BM25 runs everywhere) and calls these only after checking the CPU.
        .target(
            name: "WendaoVectorKernels",
            swiftSettings: kernelSettings
        ),
        .target(
            name: "WendaoIndex",
            dependencies: ["WendaoCore", "WendaoVectorKernels"],
            swiftSettings: swiftSettings + optimisedInDebug
        ),
        .target(
            name: "WendaoStore",
            dependencies: [
                "WendaoCore",
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: swiftSettings
        ),
        // The shared store: PostgreSQL through postgres-nio's connection pool, behind the same
        // KnowledgeStore contract (team scale: several servers on one database).
        .target(
            name: "WendaoPostgres",
            dependencies: [
                "WendaoCore",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "WendaoModels",
            dependencies: [
                "WendaoCore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "WendaoTestSupport",
            dependencies: [
                "WendaoCore",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // Retrieval and answering over protocols of Core (store, embedders, chat models): no
        // storage engine, encoder or HTTP client here.
        .target(
            name: "WendaoRAG",
            dependencies: [
                "WendaoCore", "WendaoText", "WendaoLoaders", "WendaoIndex", "WendaoWeb",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // The composition root: builds the store, the model gateway, the embedder registry, the
        // thread pool for blocking work and the library; used by the CLI, the server and evaluation.
        .target(
            name: "WendaoApp",
            dependencies: [
                "WendaoCore", "WendaoRAG", "WendaoStore", "WendaoPostgres", "WendaoEmbed", "WendaoModels", "WendaoLLM",
                "WendaoOCR",
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "WendaoServer",
            dependencies: [
                "WendaoCore", "WendaoLoaders", "WendaoRAG", "WendaoModels", "WendaoApp", "WendaoAuth", "WendaoLLM",
                "WendaoImages", "WendaoEval", "WendaoTune",
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            exclude: ["UI"],
            swiftSettings: swiftSettings
        ),
        // The image studio: image providers (OpenAI-compatible, DashScope tasks, SD WebUI, ComfyUI), the task
        // engine, the gallery (its own SQLite file under images/) and signed upload URLs; pictures are decoded
        // and encoded (try-on inputs turned upright, thumbnails) by the same C codecs as OCR.
        .target(
            name: "WendaoImages",
            dependencies: [
                "WendaoCore", "WendaoText", "WendaoWeb", "WendaoModels", "WendaoOCR", "WendaoImageCodecs",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: swiftSettings
        ),
        // The speed benchmarks behind `wendao bench` (BM25, vectors, embeddings, loaders, local language models).
        .target(
            name: "WendaoBench",
            dependencies: [
                "WendaoCore", "WendaoText", "WendaoIndex", "WendaoLoaders", "WendaoEmbed", "WendaoLLM", "WendaoOCR",
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "WendaoEval",
            dependencies: [
                "WendaoCore", "WendaoText", "WendaoIndex", "WendaoRAG", "WendaoApp", "WendaoModels", "WendaoLoaders",
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: swiftSettings
        ),
        // The fine-tuning data studio: distilled training sets from a knowledge base (generation, cleaning,
        // splits, exports) and fine-tuning jobs on providers.
        .target(
            name: "WendaoTune",
            dependencies: ["WendaoCore", "WendaoRAG", "WendaoEval", "WendaoModels"],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "wendao",
            dependencies: [
                "WendaoTune",
                "WendaoCore", "WendaoText", "WendaoIndex", "WendaoRAG", "WendaoEval", "WendaoBench", "WendaoLoaders",
                "WendaoModels", "WendaoServer", "WendaoWeb", "WendaoEmbed", "WendaoApp", "WendaoAuth", "WendaoLLM",
                "WendaoPostgres", "WendaoImages", "WendaoOCR",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "wendao-fuzz",
            dependencies: [
                "WendaoCore", "WendaoLoaders", "WendaoWeb", "WendaoServer", "WendaoRAG", "WendaoApp",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ],
            swiftSettings: swiftSettings
        ),
        // Tests, one target per layer (each links only the layers it tests), sharing WendaoTestSupport.
        // Targets whose tests run the built `wendao` binary depend on it so that it is built first.
        .testTarget(
            name: "WendaoIndexTests",
            dependencies: [
                "WendaoCore", "WendaoText", "WendaoIndex", "WendaoVectorKernels", "WendaoBench", "WendaoTestSupport",
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "WendaoOCRTests",
            dependencies: ["WendaoCore", "WendaoOCR", "WendaoLoaders", "WendaoTestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "WendaoLLMTests",
            dependencies: ["WendaoCore", "WendaoLLM", "WendaoTestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "WendaoStoreTests",
            dependencies: ["WendaoCore", "WendaoStore", "WendaoAuth", "WendaoTestSupport"],
            swiftSettings: swiftSettings
        ),
        // The store contract against SQLite and PostgreSQL (a private cluster started by the tests),
        // and what only the PostgreSQL store does.
        .testTarget(
            name: "WendaoPostgresTests",
            dependencies: [
                "WendaoCore", "WendaoStore", "WendaoPostgres", "WendaoRAG", "WendaoApp", "WendaoTestSupport", "wendao",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "WendaoLoadersTests",
            dependencies: ["WendaoCore", "WendaoLoaders", "WendaoTestSupport", "wendao", "wendao-fuzz"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "WendaoEmbedTests",
            dependencies: ["WendaoCore", "WendaoEmbed", "WendaoTestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "WendaoModelsTests",
            dependencies: [
                "WendaoCore", "WendaoModels", "WendaoTestSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "WendaoRAGTests",
            dependencies: [
                "WendaoCore", "WendaoText", "WendaoLoaders", "WendaoIndex", "WendaoStore", "WendaoEmbed", "WendaoWeb",
                "WendaoRAG", "WendaoEval", "WendaoApp", "WendaoModels", "WendaoTestSupport", "wendao",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "WendaoServerTests",
            dependencies: [
                "WendaoCore", "WendaoIndex", "WendaoStore", "WendaoRAG", "WendaoModels", "WendaoServer", "WendaoApp",
                "WendaoEmbed", "WendaoAuth", "WendaoTestSupport", "wendao", "WendaoImages", "WendaoTune",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "WendaoTuneTests",
            dependencies: [
                "WendaoCore", "WendaoRAG", "WendaoEval", "WendaoModels", "WendaoTune", "WendaoTestSupport", "wendao",
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "WendaoImagesTests",
            dependencies: [
                "WendaoCore", "WendaoImages", "WendaoModels", "WendaoWeb", "WendaoTestSupport", "wendao",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "WendaoCLITests",
            dependencies: ["WendaoCore", "WendaoStore", "WendaoTestSupport", "wendao"],
            swiftSettings: swiftSettings
        ),
    ],
    swiftLanguageModes: [.v6]
)
