import Foundation
import Testing
@testable import ForesightInference

/// Cross-language check of the export path for the default d = 128 model. Needs PyTorch in the
/// package's `.venv` (installed by `make parity`); skipped otherwise, since `make test` does not install it.
@Suite struct ExportTests {
    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let python = packageRoot.appendingPathComponent(".venv/bin/python")

    static func run(_ arguments: [String]) -> Int32 {
        let process = Process()
        process.executableURL = python
        process.arguments = arguments
        process.currentDirectoryURL = packageRoot
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        do { try process.run() } catch { return -1 }
        process.waitUntilExit()
        return process.terminationStatus
    }

    static let torchAvailable: Bool =
        FileManager.default.isExecutableFile(atPath: python.path) && run(["-c", "import torch"]) == 0

    @Test("export.py's default model loads in Swift with the default config",
          .enabled(if: torchAvailable, "PyTorch is not installed in .venv (run `make parity`)"))
    func defaultExportLoads() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("foresight-export-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(Self.run(["Tools/training/export.py", "--out", dir.path, "--seed", "3"]) == 0)
        let model = try MultiTaskModel(directory: dir)
        #expect(model.config == ModelConfig())
        let random = try MultiTaskModel.randomWeights(config: ModelConfig())
        #expect(model.parameterCount == random.values.reduce(0) { $0 + $1.count })
    }
}
