import Foundation
import Testing
@testable import ForesightInference

/// Safetensors parsing, config decoding and weight/config checks.
@Suite struct LoaderTests {
    let config: ModelConfig
    let weights: [String: Tensor]

    init() throws {
        config = try ModelConfig.decode(json: Data(contentsOf: Fixture.folder("multitask").appendingPathComponent("config.json")))
        weights = try SafeTensors(contentsOf: Fixture.folder("multitask").appendingPathComponent("model.safetensors")).tensors
    }

    /// Builds safetensors bytes from a raw header string and data.
    func file(header: String, data: [UInt8] = [], declaredLength: UInt64? = nil) -> Data {
        var out = Data()
        var n = (declaredLength ?? UInt64(header.utf8.count)).littleEndian
        withUnsafeBytes(of: &n) { out.append(contentsOf: $0) }
        out.append(contentsOf: Array(header.utf8))
        out.append(contentsOf: data)
        return out
    }

    @Test("encode → decode round-trips names, shapes, values and metadata")
    func roundTrip() throws {
        let tensors = ["b": Tensor(shape: [2, 3], values: [1, 2, 3, 4, 5, 6])!, "a\"x": Tensor(shape: [1], values: [-7.5])!,
                       "empty": Tensor(shape: [0, 4], values: [])!]
        let decoded = try SafeTensors(data: SafeTensors.encode(tensors, metadata: ["k": "v"]))
        #expect(decoded.tensors == tensors)
        #expect(decoded.metadata == ["k": "v"])
    }

    @Test("truncated files are rejected with the sizes involved")
    func truncated() throws {
        let good = SafeTensors.encode(["w": Tensor(shape: [4], values: [1, 2, 3, 4])!])
        #expect(throws: SafeTensorsError.truncated(path: "<memory>", needed: 8, available: 5)) {
            try SafeTensors(data: good.prefix(5))
        }
        let cut = good.prefix(good.count - 3)
        #expect(throws: SafeTensorsError.truncated(path: "<memory>", needed: good.count, available: good.count - 3)) {
            try SafeTensors(data: cut)
        }
        #expect(throws: SafeTensorsError.self) { try SafeTensors(data: good.prefix(20)) }
    }

    @Test("bad headers are rejected with a reason")
    func badHeaders() {
        #expect(throws: SafeTensorsError.headerTooLarge(path: "<memory>", length: 1 << 40)) {
            try SafeTensors(data: file(header: "{}", declaredLength: 1 << 40))
        }
        for header in ["not json", "[1,2]", #"{"w":{"dtype":"F32","shape":[1]}}"#, #"{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,0]}}"#,
                       #"{"__metadata__":{"a":1}}"#] {
            do {
                _ = try SafeTensors(data: file(header: header, data: [0, 0, 0, 0]))
                Issue.record("header \(header) was accepted")
            } catch {
                guard case .badHeader = error else { Issue.record("unexpected \(error) for \(header)"); continue }
                #expect(error.description.contains("invalid"))
            }
        }
    }

    @Test("wrong dtype and inconsistent offsets name the tensor")
    func dtypeAndOffsets() {
        #expect(throws: SafeTensorsError.unsupportedDType(tensor: "w", dtype: "F16")) {
            try SafeTensors(data: file(header: #"{"w":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0]))
        }
        do {
            _ = try SafeTensors(data: file(header: #"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0]))
            Issue.record("short tensor accepted")
        } catch {
            guard case .badOffsets(let name, _) = error else { Issue.record("unexpected \(error)"); return }
            #expect(name == "w")
            #expect(error.description.contains("'w'"))
        }
        #expect(throws: SafeTensorsError.self) {
            try SafeTensors(data: file(header: #"{"w":{"dtype":"F32","shape":[1000000000000,1000000000],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0]))
        }
    }

    @Test("a missing tensor is named with its expected shape")
    func missingTensor() {
        var w = weights
        w["encoder.layers.1.attn.qkv.weight"] = nil
        #expect(throws: ModelError.missingTensor(name: "encoder.layers.1.attn.qkv.weight", expectedShape: [96, 32])) {
            try MultiTaskModel(config: config, tensors: w)
        }
    }

    @Test("a wrong shape is named with both shapes")
    func wrongShape() throws {
        var w = weights
        w["tok.radar.convs.1.conv.weight"] = Tensor(zeros: [16, 8, 5, 5])
        do {
            _ = try MultiTaskModel(config: config, tensors: w)
            Issue.record("wrong shape accepted")
        } catch {
            #expect(error == .shapeMismatch(name: "tok.radar.convs.1.conv.weight", expected: [16, 8, 3, 3], found: [16, 8, 5, 5]))
            #expect(error.description.contains("tok.radar.convs.1.conv.weight"))
        }
        // A config that disagrees with the file (here: another d) is caught the same way.
        var other = config
        other.headHidden = 48
        #expect(throws: ModelError.self) { try MultiTaskModel(config: other, tensors: weights) }
    }

    @Test("tensors the config does not use are reported")
    func unexpected() {
        var w = weights
        w["encoder.layers.9.norm1.weight"] = Tensor(zeros: [32])
        #expect(throws: ModelError.unexpectedTensors(["encoder.layers.9.norm1.weight"])) {
            try MultiTaskModel(config: config, tensors: w)
        }
    }

    @Test("inconsistent or unreadable configs are rejected")
    func configs() throws {
        var c = config
        c.heads = 3
        #expect(throws: ModelError.self) { try c.validate() }
        c = config
        c.vision.pool.kernel = [40, 40]
        #expect(throws: ModelError.self) { try c.validate() }
        c = config
        c.maxIntraTokens = 8
        #expect(throws: ModelError.self) { try c.validate() }
        c = config
        c.vision.convs[0].outChannels = 1 << 20
        #expect(throws: ModelError.self) { try c.validate() }
        c = config
        c.dModel = 1 << 16
        c.heads = 1
        #expect(throws: ModelError.self) { try c.validate() }
        #expect(throws: ModelError.self) { try ModelConfig.decode(json: Data("{\"d_model\": 3}".utf8)) }
        c = config
        c.headBeam = "sideways"
        #expect(throws: ModelError.self) { try c.validate() }
        c.headBeam = "filter"
        c.coarseInputs = "window"
        #expect {
            try c.validate()
        } throws: { error in
            "\(error)".contains("coarse_inputs 'classical'")
        }
        c.coarseInputs = "classical"
        c.beamFilterTaps = 40
        #expect(throws: ModelError.self) { try c.validate() }
        c.beamFilterTaps = 2
        #expect(throws: Never.self) { try c.validate() }
        #expect(c.beamFilterWidth == 5 && !c.beamAbsoluteLogits)
        c.headBeam = "filter+absolute"
        #expect(throws: Never.self) { try c.validate() }
        #expect(c.beamFilterWidth == 5 && c.beamAbsoluteLogits)
        // A config from before the key (no head_beam) has the absolute head.
        c.headBeam = nil
        #expect(throws: Never.self) { try c.validate() }
        #expect(c.beamFilterWidth == 0 && c.beamAbsoluteLogits)
        // JSON round trip through the snake_case coding keeps the default config.
        #expect(try ModelConfig.decode(json: ModelConfig().encodedJSON()) == ModelConfig())
        #expect(ModelConfig().tokensPerModality == [9, 16, 16, 1, 1])
        #expect(throws: ModelError.self) { try MultiTaskModel(directory: URL(fileURLWithPath: "/nonexistent-foresight-model")) }
    }

    @Test("a model saved from random weights loads from a directory and runs")
    func directoryRoundTrip() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("foresight-model-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let random = try MultiTaskModel.randomWeights(config: config, seed: 3)
        #expect(Set(random.keys) == Set(weights.keys))
        try config.encodedJSON().write(to: dir.appendingPathComponent("config.json"))
        try SafeTensors.encode(random).write(to: dir.appendingPathComponent("model.safetensors"))
        let model = try MultiTaskModel(directory: dir)
        #expect(model.parameterCount == random.values.reduce(0) { $0 + $1.count })
        // Truncating the weights file on disk gives a clear error through the directory loader.
        let url = dir.appendingPathComponent("model.safetensors")
        let bytes = try Data(contentsOf: url)
        try bytes.prefix(bytes.count / 2).write(to: url)
        do {
            _ = try MultiTaskModel(directory: dir)
            Issue.record("truncated weights accepted")
        } catch {
            guard case .inModel(let path, .weights(.truncated)) = error else { Issue.record("unexpected \(error)"); return }
            #expect(path == dir.path)
            #expect(error.description.contains("truncated") && error.description.contains(dir.path))
        }
    }

    @Test("the config's format picks the model kind; info reports the sizes the daemon checks")
    func formatDispatch() throws {
        guard case let .multitask(m, name) = try LoadedModel.load(directory: Fixture.folder("multitask")) else {
            Issue.record("multitask folder did not load as multitask"); return
        }
        #expect(name == "multitask" && m.config.history == 4)
        let gru = try LoadedModel.load(directory: Fixture.folder("gru"))
        guard case .gru = gru else { Issue.record("gru folder did not load as gru"); return }
        let info = gru.info
        #expect(info.kind == .gru && info.history == 4 && info.future == 3 && info.stepMs == 100 && info.numBeams == 64)
        #expect(info.preprocessingVersion == "parity-fixture")
        #expect(info.cameraShape == [3, 32, 32] && info.radarShape == [16, 32] && info.lidarShape == [16, 32])
        let random = try GRUModel.randomWeights(config: try Fixture.gru().config)
        #expect(info.parameterCount == random.values.reduce(0) { $0 + $1.count })
        let predictor = try StreamingPredictor.load(directory: Fixture.folder("gru"), blasThreads: 1, topK: 2)
        defer { predictor.shutdown() }
        #expect(predictor.info == info)
    }

    @Test("bad model folders fail with the folder, the file and a remedy")
    func badFolders() throws {
        let fm = FileManager.default
        let dir = fm.temporaryDirectory.appendingPathComponent("foresight-bad-\(UUID().uuidString)")
        defer { try? fm.removeItem(at: dir) }
        // Missing folder.
        do { _ = try LoadedModel.load(directory: dir); Issue.record("missing folder accepted") } catch {
            #expect(error.description.contains(dir.path) && error.description.contains("make train"))
        }
        // No config.json.
        try fm.createDirectory(at: dir, withIntermediateDirectories: true)
        do { _ = try LoadedModel.load(directory: dir); Issue.record("folder without config accepted") } catch {
            #expect(error.description.contains("config.json"))
        }
        // Unknown format, and the old v1 multi-task format.
        try Data(#"{"format": "onnx"}"#.utf8).write(to: dir.appendingPathComponent("config.json"))
        do { _ = try LoadedModel.load(directory: dir); Issue.record("unknown format accepted") } catch {
            #expect(error.description.contains("'onnx'") && error.description.contains("foresight-multitask"))
        }
        var v1 = config
        v1.version = 1
        try v1.encodedJSON().write(to: dir.appendingPathComponent("config.json"))
        do { _ = try LoadedModel.load(directory: dir); Issue.record("v1 accepted") } catch {
            #expect(error.description.contains("version 1") && error.description.contains(dir.path))
        }
        // Valid config, weights of the other format: the first missing tensor is named.
        try config.encodedJSON().write(to: dir.appendingPathComponent("config.json"))
        try fm.copyItem(at: Fixture.folder("gru").appendingPathComponent("model.safetensors"), to: dir.appendingPathComponent("model.safetensors"))
        do { _ = try LoadedModel.load(directory: dir); Issue.record("mismatched weights accepted") } catch {
            #expect(error.description.contains("'embed.modality'") || error.description.contains("tok."))
        }
    }
}
