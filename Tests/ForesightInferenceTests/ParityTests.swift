import Foundation
import Testing
@testable import ForesightInference

/// Streams a fixture through a fresh session (resetting at segment starts, as the daemon does) and
/// compares every submodule's output with PyTorch's at every frame. Returns the failures (empty = parity).
/// `threads` > 1 splits each frame's work over the session's team (tokenizers, attention heads, products).
func streamingParityFailures(_ model: LoadedModel, _ stream: FixtureStream, tolerance: Float = 1e-4, threads: Int = 1) throws -> [String] {
    let session = InferenceSession(model: model, topK: 5, threads: threads)
    var failures: [String] = []
    let isGRU: Bool
    if case .gru = model { isGRU = true } else { isGRU = false }
    let d: Int, tokenizers: TokenizerSet
    switch model {
    case let .multitask(m, _): d = m.config.dModel; tokenizers = m.tokenizers
    case let .gru(m, _): d = m.config.dModel; tokenizers = m.tokenizers
    }
    let scratch = Scratch()
    for (i, frame) in stream.frames.enumerated() {
        if stream.segmentStart[i] && i > 0 { session.reset() }
        // Tokenizers alone, on the raw inputs (before the missing-token substitution).
        let raw = FixtureStream.rawInputs(frame: i, tokenizers: tokenizers)
        // The fixtures name the tokenizers as PyTorch does (tok.vision, tok.radar, tok.lidar).
        for (m, layer, input) in [("vision", tokenizers.vision, raw.0), ("radar", tokenizers.radar, raw.1), ("lidar", tokenizers.lidar, raw.2)] {
            var out = [Float](repeating: 0, count: layer.tokens * d)
            input.withUnsafeBufferPointer { x in out.withUnsafeMutableBufferPointer { layer(x.baseAddress!, scratch: scratch, into: $0.baseAddress!) } }
            let v = parityViolation(out, try stream.expected("parts.\(m)", frame: i), tolerance: tolerance)
            if v > 0 { failures.append("frame \(i) \(m) tokenizer off by \(v)") }
        }
        let out = try session.pushRaw(frame, coarse: stream.coarse[i])
        let checks: [(String, [Float])] = [
            ("tokens", out.tokens), (isGRU ? "state" : "context", out.context), ("latents", out.latents),
            ("coarse_position", out.coarsePositions), ("position", out.positions), ("beam_logits", out.beamLogits),
            ("coarse_power_dbm", out.coarsePower), ("beam_power_dbm", out.beamPower), ("blockage_logit", out.blockageLogits),
        ]
        for (name, actual) in checks {
            let v = parityViolation(actual, try stream.expected(name, frame: i), tolerance: tolerance)
            if v > 0 { failures.append("frame \(i) (window \(session.framesInWindow)) \(name) off by \(v)") }
        }
    }
    return failures
}

extension FixtureStream {
    /// Camera, radar and LiDAR of frame `i` as generated for the fixture (present or not).
    static func rawInputs(frame i: Int, tokenizers t: TokenizerSet) -> ([Float], [Float], [Float]) {
        (pattern(t.vision.config.inputCount, seed: 1000 * i),
         pattern(t.radar.config.inputCount, seed: 1000 * i + 1).map { ($0 + 1) / 2 },
         pattern(t.lidar.config.inputCount, seed: 1000 * i + 2).map { ($0 + 1) * 1.5 })
    }
}

/// The Swift engine against the PyTorch twin (fixtures from `make parity`), within 1e-4, streaming frame
/// by frame through every window position: the first H−1 frames, a 250 ms gap, missing modalities, a reset.
@Suite struct ParityTests {
    @Test("fixtures are small and the models load")
    func fixturesLoad() throws {
        let files = FileManager.default.enumerator(at: try Fixture.directory, includingPropertiesForKeys: [.fileSizeKey])?
            .compactMap { $0 as? URL } ?? []
        let total = try files.map { try $0.resourceValues(forKeys: [.fileSizeKey]).fileSize ?? 0 }.reduce(0, +)
        #expect(total < 1_500_000)
        let m = try Fixture.model()
        #expect(m.config.dModel == 32)
        #expect(m.config.tokensPerModality == [9, 16, 16, 1, 1])
        #expect(try Fixture.gru().config.hidden == 24)
    }

    @Test("multi-task model: every submodule at every frame matches PyTorch's segment mode, on 1, 2 and 3 threads",
          arguments: [1, 2, 3])
    func multitask(threads: Int) throws {
        let model = try Fixture.model()
        let stream = try FixtureStream(tensors: Fixture.cases("multitask"), config: model.config)
        #expect(stream.frames.count == model.config.history + 5)
        #expect(stream.frames.contains { $0.camera == nil } && stream.frames.contains { $0.gnss == nil })
        let failures = try streamingParityFailures(.multitask(model), stream, threads: threads)
        #expect(failures.isEmpty, "\(failures.prefix(10))")
    }

    @Test("the filter beam head with absolute logits (multitask-filter) matches PyTorch at every frame, on 1 and 2 threads",
          arguments: [1, 2])
    func multitaskFilter(threads: Int) throws {
        let model = try MultiTaskModel(directory: Fixture.folder("multitask-filter"))
        #expect(model.config.beamFilterWidth == 7 && model.config.beamAbsoluteLogits)
        let stream = try FixtureStream(tensors: Fixture.cases("multitask-filter"), config: model.config)
        let failures = try streamingParityFailures(.multitask(model), stream, threads: threads)
        #expect(failures.isEmpty, "\(failures.prefix(10))")
    }

    @Test("GRU baseline: every submodule at every frame matches PyTorch, on 1 and 2 threads", arguments: [1, 2])
    func gru(threads: Int) throws {
        let model = try Fixture.gru()
        let stream = try FixtureStream(tensors: Fixture.cases("gru"), config: model.config)
        let failures = try streamingParityFailures(.gru(model), stream, threads: threads)
        #expect(failures.isEmpty, "\(failures.prefix(10))")
    }

    @Test("decoded predictions are consistent with the raw outputs (dBm power, top-k, sigmoid)")
    func decoded() throws {
        let model = try Fixture.model()
        let stream = try FixtureStream(tensors: Fixture.cases("multitask"), config: model.config)
        let session = InferenceSession(model: model, topK: 5)
        let B = model.config.numBeams
        for (i, frame) in stream.frames.enumerated() {
            if stream.segmentStart[i] && i > 0 { session.reset() }
            let prediction = try session.push(frame, coarse: stream.coarse[i])
            let logits = try stream.expected("beam_logits", frame: i)
            let power = try stream.expected("beam_power_dbm", frame: i)
            let blockage = try stream.expected("blockage_logit", frame: i)
            #expect(prediction.steps.count == model.config.future)
            for (k, step) in prediction.steps.enumerated() {
                let row = Array(logits[(k * B)..<((k + 1) * B)])
                let best = row.indices.max { row[$0] < row[$1] }
                #expect(step.chosenBeam == best)
                #expect(step.topBeams.first?.beam == best)
                #expect(step.topBeams.count == 5)
                #expect(abs(step.chosenBeamPower - power[k * B + step.chosenBeam]) <= 1e-4 * max(1, abs(power[k * B + step.chosenBeam])))
                #expect(abs(step.beamProbabilities.reduce(0, +) - 1) < 1e-5)
                #expect(zip(step.topBeams, step.topBeams.dropFirst()).allSatisfy { $0.probability >= $1.probability })
                #expect(abs(step.blockageProbability - 1 / (1 + exp(-blockage[k]))) < 1e-5)
            }
        }
    }

    @Test("the comparison is sensitive: a small change in one lag-bias entry breaks parity, only where that lag occurs")
    func sensitivity() throws {
        let model = try Fixture.model()
        var weights = try SafeTensors(contentsOf: Fixture.folder("multitask").appendingPathComponent("model.safetensors")).tensors
        var bias = try #require(weights["encoder.layers.1.attn.lag_bias"])
        bias.storage[2] += 0.02          // head 0, lag 2: only keys two steps back see it
        weights["encoder.layers.1.attn.lag_bias"] = bias
        let perturbed = try MultiTaskModel(config: model.config, tensors: weights)
        let stream = try FixtureStream(tensors: Fixture.cases("multitask"), config: model.config)
        let failures = try streamingParityFailures(.multitask(perturbed), stream)
        #expect(!failures.isEmpty)
        #expect(!failures.contains { $0.hasPrefix("frame 0 ") })   // a single frame has no lag-2 key
    }
}

/// Parity of trained models: every `models/<name>/` holding a `parity.safetensors` (written by
/// `Tools/training/make_parity_fixtures.py --model models/<name>`, which `make train` runs after export).
@Suite struct TrainedModelParityTests {
    static let folders: [URL] = {
        let models = Fixture.packageRoot.appendingPathComponent("models")
        let entries = (try? FileManager.default.contentsOfDirectory(at: models, includingPropertiesForKeys: nil)) ?? []
        return entries.filter { FileManager.default.fileExists(atPath: $0.appendingPathComponent("parity.safetensors").path) }
            .sorted { $0.path < $1.path }
    }()

    @Test("trained models under models/ match their PyTorch parity fixtures at every frame, on 1 and 2 threads",
          .enabled(if: !folders.isEmpty, "no models/<name>/parity.safetensors yet (run `make train`, or make_parity_fixtures.py --model models/<name>)"),
          arguments: [1, 2])
    func trained(threads: Int) throws {
        for folder in Self.folders {
            let model = try LoadedModel.load(directory: folder)
            let tensors = try SafeTensors(contentsOf: folder.appendingPathComponent("parity.safetensors")).tensors
            let stream: FixtureStream
            switch model {
            case let .multitask(m, _): stream = try FixtureStream(tensors: tensors, config: m.config)
            case let .gru(m, _): stream = try FixtureStream(tensors: tensors, config: m.config)
            }
            let failures = try streamingParityFailures(model, stream, threads: threads)
            #expect(failures.isEmpty, "\(folder.lastPathComponent) on \(threads) threads: \(failures.prefix(10))")
        }
    }
}
