import Foundation
import Testing
@testable import ForesightInference

/// Cross-language check of the export path with the default-size models: export.py writes each format,
/// Swift loads it, and make_parity_fixtures.py --model produces PyTorch's outputs for the Swift engine to
/// match at every frame. Needs PyTorch in the package's `.venv` (`make test` installs it with
/// `Tools/setup.sh torch`); without it the test is reported as skipped with that reason.
@Suite struct ExportTests {
    static let python = Fixture.packageRoot.appendingPathComponent(".venv/bin/python")

    static func run(_ arguments: [String]) -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = python
        process.arguments = arguments
        process.currentDirectoryURL = Fixture.packageRoot
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        do { try process.run() } catch { return (-1, "\(error)") }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    static let torchAvailable: Bool =
        FileManager.default.isExecutableFile(atPath: python.path) && run(["-c", "import torch"]).status == 0

    @Test("export.py's default models load in Swift and match PyTorch at every frame of a stream",
          .enabled(if: torchAvailable, "PyTorch is not installed in .venv (run `Tools/setup.sh torch`; `make test` does)"),
          arguments: ["multitask", "gru"])
    func defaultExportLoads(_ format: String) throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("foresight-export-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let export = Self.run(["Tools/training/export.py", "--out", dir.path, "--format", format, "--seed", "3"])
        #expect(export.status == 0, "\(export.output)")
        let model = try LoadedModel.load(directory: dir)
        switch model {
        case let .multitask(m, _):
            #expect(format == "multitask" && m.config == ModelConfig())
            let random = try MultiTaskModel.randomWeights(config: ModelConfig())
            #expect(m.parameterCount == random.values.reduce(0) { $0 + $1.count })
        case let .gru(m, _):
            #expect(format == "gru" && m.config == GRUConfig())
        }
        let fixtures = Self.run(["Tools/training/make_parity_fixtures.py", "--model", dir.path])
        #expect(fixtures.status == 0, "\(fixtures.output)")
        let tensors = try SafeTensors(contentsOf: dir.appendingPathComponent("parity.safetensors")).tensors
        let stream: FixtureStream
        switch model {
        case let .multitask(m, _): stream = try FixtureStream(tensors: tensors, config: m.config)
        case let .gru(m, _): stream = try FixtureStream(tensors: tensors, config: m.config)
        }
        let failures = try streamingParityFailures(model, stream)
        #expect(failures.isEmpty, "\(failures.prefix(10))")
    }
}
