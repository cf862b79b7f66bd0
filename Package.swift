// swift-tools-version: 6.1
//
// Foresight — a streaming sensor-fusion daemon for sensing-assisted mmWave communications.
//
// The pipeline, module by module (docs/architecture.md follows one frame through it):
//
//   ZeroMQ SUB (ForesightBus) ─► ForesightWire (decode, validate) ─► ForesightSync (ApproximateTime + deadline)
//        ─► ForesightPreprocess (camera | radar | lidar | gnss + beam power actors)
//        ─► ForesightPredict (classical CTRV, persistence) or ForesightInference (learned model on OpenBLAS)
//        ─► ForesightWire (encode) ─► ZeroMQ PUB (ForesightBus)
//
// ForesightCore holds the shared vocabulary (Modality, ModalityMap, FrameView, the executor, the
// fork-join WorkTeam); ForesightDaemon assembles the graph from a launch file. ForesightBag (MCAP
// record/replay), ForesightSim (testbed in a box) and ForesightInterop (DeepSense import, Foxglove
// export) speak the same topics. System libraries come from apt (see Tools/setup.sh) and are reached
// through the small C shim targets below (CMsgPack only by the wire tests, as a reference decoder).
import Foundation
import PackageDescription

let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

/// The inference engine's SIMD loops (GELU, softmax, layer norm, im2col) compiled for the build
/// machine's vector unit when it has AVX2 and FMA (Haswell or later, every x86-64 server of the last
/// decade): about 1.5× faster than baseline x86-64 code (docs/performance.md). The daemon is built
/// where it runs (`make`); `FORESIGHT_PORTABLE=1 swift build …` makes baseline code for other machines.
let hostVectorUnit: [SwiftSetting] = {
    #if arch(x86_64)
    guard Context.environment["FORESIGHT_PORTABLE"] == nil,
          let cpuinfo = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
          let line = cpuinfo.split(separator: "\n").first(where: { $0.hasPrefix("flags") })
    else { return [] }
    let flags = Set(line.split(separator: " ").map(String.init))
    return flags.isSuperset(of: ["avx2", "fma"]) ? [.unsafeFlags(["-target-cpu", "haswell"])] : []
    #else
    return []
    #endif
}()

let package = Package(
    name: "Foresight",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "foresight", targets: ["foresight"]),
        .executable(name: "foresight-bench", targets: ["ForesightBenchmarks"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket", from: "2.8.1"),
    ],
    targets: [
        // MARK: System libraries (installed by Tools/setup.sh, never vendored)
        .systemLibrary(name: "CZeroMQ", path: "Sources/CZeroMQ", pkgConfig: "libzmq",
                       providers: [.apt(["libzmq3-dev"])]),
        .systemLibrary(name: "CMsgPack", path: "Sources/CMsgPack", pkgConfig: "msgpack",
                       providers: [.apt(["libmsgpack-dev"])]),
        .systemLibrary(name: "COpenBLAS", path: "Sources/COpenBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CFFTW", path: "Sources/CFFTW", pkgConfig: "fftw3f",
                       providers: [.apt(["libfftw3-dev"])]),
        .systemLibrary(name: "CTurboJPEG", path: "Sources/CTurboJPEG", pkgConfig: "libturbojpeg",
                       providers: [.apt(["libturbojpeg0-dev"])]),
        .systemLibrary(name: "CZstd", path: "Sources/CZstd", pkgConfig: "libzstd",
                       providers: [.apt(["libzstd-dev"])]),
        .systemLibrary(name: "CLZ4", path: "Sources/CLZ4", pkgConfig: "liblz4",
                       providers: [.apt(["liblz4-dev"])]),
        .systemLibrary(name: "CZlib", path: "Sources/CZlib", pkgConfig: "zlib",
                       providers: [.apt(["zlib1g-dev"])]),
        // PCL cannot go through Swift's C++ interop: a C++ target behind an extern "C" header.
        .target(
            name: "CPCLShim",
            path: "Sources/CPCLShim",
            cxxSettings: [
                .unsafeFlags(["-I/usr/include/pcl-1.13", "-I/usr/include/eigen3", "-O2", "-Wno-deprecated-declarations"]),
            ],
            linkerSettings: [
                .linkedLibrary("pcl_common"),
                .linkedLibrary("pcl_filters"),
                .linkedLibrary("pcl_search"),
                .linkedLibrary("pcl_kdtree"),
                .linkedLibrary("stdc++"),
            ]
        ),

        // MARK: Foresight modules
        // The shared vocabulary: the one Modality, ModalityMap, FrameView, Locked, the wall clock,
        // DedicatedThreadExecutor and the debug ByteAudit.
        .target(name: "ForesightCore", swiftSettings: strict),
        .target(name: "ForesightWire", dependencies: ["ForesightCore", "CTurboJPEG"], swiftSettings: strict),
        .target(name: "ForesightBus", dependencies: ["CZeroMQ", "ForesightCore", "ForesightWire"], swiftSettings: strict),
        .target(name: "ForesightSite", dependencies: ["ForesightCore", "Yams"], swiftSettings: strict),
        .target(name: "ForesightSync", dependencies: ["ForesightWire"], swiftSettings: strict),
        .target(name: "ForesightPreprocess", dependencies: ["ForesightCore", "ForesightWire", "ForesightSite", "CFFTW", "CTurboJPEG", "CPCLShim"],
                swiftSettings: strict),
        .target(name: "ForesightInference", dependencies: ["ForesightCore", "COpenBLAS"], swiftSettings: strict + hostVectorUnit),
        .target(name: "ForesightBag", dependencies: ["CZstd", "CLZ4", "CZlib"], swiftSettings: strict),
        .target(name: "ForesightSim", dependencies: ["ForesightWire", "ForesightSite", "CTurboJPEG"], swiftSettings: strict),
        .target(name: "ForesightPredict", dependencies: ["ForesightCore", "ForesightWire"], swiftSettings: strict),
        // Import of other testbeds' data (DeepSense 6G) and export for other viewers (Foxglove).
        .target(name: "ForesightInterop", dependencies: ["ForesightWire", "ForesightBag", "ForesightSite", "ForesightPreprocess", "CZlib"],
                swiftSettings: strict),
        .target(name: "ForesightDaemon", dependencies: ["ForesightCore", "ForesightWire", "ForesightBus", "ForesightSync", "ForesightPredict",
                                                        "ForesightPreprocess", "ForesightInference", "ForesightSite",
                                                        "ForesightBag", "ForesightSim", "ForesightInterop",
                                                        .product(name: "Logging", package: "swift-log"),
                                                        .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                                                        .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                                                        .product(name: "Prometheus", package: "swift-prometheus"),
                                                        .product(name: "Hummingbird", package: "hummingbird"),
                                                        .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket")],
                swiftSettings: strict),
        .executableTarget(
            name: "foresight",
            dependencies: ["ForesightWire", "ForesightBus", "ForesightBag", "ForesightSim",
                           "ForesightDaemon", "ForesightSite", "ForesightPredict", "ForesightInterop",
                           .product(name: "ArgumentParser", package: "swift-argument-parser"),
                           .product(name: "Logging", package: "swift-log"),
                           .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "ForesightBenchmarks",
            dependencies: ["ForesightCore", "ForesightWire", "ForesightBus", "ForesightBag", "ForesightSim", "ForesightSync",
                           "ForesightPreprocess", "ForesightInference", "ForesightPredict", "CTurboJPEG",
                           .product(name: "Histogram", package: "hdrhistogram-swift"),
                           .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Sources/ForesightBenchmarks",
            swiftSettings: strict
        ),

        // MARK: Tests
        .target(name: "ForesightTestSupport", dependencies: ["ForesightWire"], path: "Tests/ForesightTestSupport"),
        .testTarget(name: "ForesightWireTests", dependencies: ["ForesightWire", "CMsgPack", "CTurboJPEG", "ForesightTestSupport"]),
        .testTarget(name: "ForesightBusTests", dependencies: ["ForesightBus", "ForesightWire", "ForesightTestSupport"]),
        .testTarget(name: "ForesightSyncTests", dependencies: ["ForesightSync", "ForesightWire"]),
        .testTarget(name: "ForesightPreprocessTests", dependencies: ["ForesightPreprocess", "ForesightSite", "ForesightWire", "CTurboJPEG"]),
        .testTarget(name: "ForesightInferenceTests", dependencies: ["ForesightInference", "ForesightCore"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "ForesightBagTests", dependencies: ["ForesightBag", "ForesightWire"]),
        .testTarget(name: "ForesightSimTests", dependencies: ["ForesightSim", "ForesightSite", "ForesightWire"]),
        .testTarget(name: "ForesightSiteTests", dependencies: ["ForesightSite"]),
        .testTarget(name: "ForesightPredictTests", dependencies: ["ForesightPredict", "ForesightCore", "ForesightWire"]),
        .testTarget(name: "ForesightInteropTests", dependencies: ["ForesightInterop", "ForesightBag", "ForesightWire", "ForesightSite", "ForesightTestSupport"]),
        .testTarget(name: "ForesightDaemonTests", dependencies: ["ForesightDaemon", "ForesightWire", "ForesightBus", "ForesightSite", "ForesightPredict",
                                                                 "ForesightPreprocess", "ForesightInference", "ForesightSim", "ForesightBag", "ForesightTestSupport",
                                                                 .product(name: "Logging", package: "swift-log"),
                                                                 .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                                                                 .product(name: "UnixSignals", package: "swift-service-lifecycle")]),
    ],
    swiftLanguageModes: [.v6]
)
