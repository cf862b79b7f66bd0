import ForesightCore
import Foundation
@testable import ForesightInference

/// Shared helpers for the inference tests.
enum Fixture {
    /// The committed parity fixture directory (`multitask/`, `gru/`, `multitask-filter/`).
    static var directory: URL {
        get throws {
            guard let url = Bundle.module.url(forResource: "Fixtures", withExtension: nil) else {
                throw FixtureError.missing("Fixtures resource folder")
            }
            return url
        }
    }

    /// The fixture folder of one format ("multitask" or "gru").
    static func folder(_ format: String) throws -> URL { try directory.appendingPathComponent(format) }

    static func cases(_ format: String) throws -> [String: Tensor] {
        try SafeTensors(contentsOf: folder(format).appendingPathComponent("cases.safetensors")).tensors
    }

    static func model() throws -> MultiTaskModel { try MultiTaskModel(directory: folder("multitask")) }

    static func gru() throws -> GRUModel { try GRUModel(directory: folder("gru")) }

    /// The package root (for `models/` and `.venv`).
    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
}

enum FixtureError: Error { case missing(String) }

/// Deterministic values in [-1, 1), bit-identical to `pattern` in Tools/training/make_parity_fixtures.py.
func pattern(_ n: Int, seed: Int) -> [Float] {
    (0..<n).map { i in
        let u = (UInt64(i) &* 2_654_435_761 &+ UInt64(seed) &* 97_531 &+ 12_345) & 0xFFFF_FFFF
        return Float(u >> 8) / Float(16_777_216) * 2 - 1
    }
}

/// One recorded fixture stream: the frames (inputs rebuilt as the Python side built them) and the expected outputs.
struct FixtureStream {
    let tensors: [String: Tensor]
    let frames: [FrameView]
    /// The classical estimates given with each frame (nil for a model that does not take them).
    let coarse: [CoarseEstimates?]
    let segmentStart: [Bool]

    /// Builds the frames of a fixture file for a model with the given input sizes.
    init(tensors: [String: Tensor], config c: some StreamingModelConfig, baseStamp: Int64 = 1_764_000_000_000_000_000) throws {
        self.tensors = tensors
        func t(_ name: String) throws -> [Float] {
            guard let v = tensors[name] else { throw FixtureError.missing(name) }
            return v.storage
        }
        let stampUs = try t("stamp_us"), starts = try t("segment_start"), present = try t("present")
        let gnss = try t("gnss"), power = try t("power"), dbm = try t("power_dbm")
        let B = c.numBeams
        var frames: [FrameView] = []
        var estimates: [CoarseEstimates?] = []
        for i in stampUs.indices {
            let has = { (m: Modality) in present[i * 5 + m.index] > 0.5 }
            let cam = pattern(c.vision.inputCount, seed: 1000 * i)
            let radar = pattern(c.radar.inputCount, seed: 1000 * i + 1).map { ($0 + 1) / 2 }
            let lidar = pattern(c.lidar.inputCount, seed: 1000 * i + 2).map { ($0 + 1) * 1.5 }
            // The classical estimates, for a model whose heads take them.
            var coarse: CoarseEstimates?
            if c.takesClassicalEstimates {
                let F = c.future
                func rows(_ name: String, _ width: Int) throws -> [Float] { Array(try t(name)[(i * width)..<((i + 1) * width)]) }
                // (inputs are `classical_*`: the fixture's `coarse_position` / `coarse_power_dbm` are expected outputs)
                coarse = CoarseEstimates(positions: try rows("classical_position", 2 * F), beamLogits: try rows("classical_beam_logits", F * B),
                                         powerDBm: try rows("classical_power_dbm", F), blockageProbability: try rows("classical_blockage", F),
                                         positionKnown: try t("classical_known")[i] > 0.5)
            }
            frames.append(FrameView(
                stamp: baseStamp + Int64(stampUs[i]) * 1000,
                gnss: has(.gnss) ? SIMD2(Double(gnss[2 * i]), Double(gnss[2 * i + 1])) : nil,
                beamPowerDBm: has(.beamPower) ? Array(dbm[(i * B)..<((i + 1) * B)]) : nil,
                camera: has(.camera) ? cam : nil, radarMap: has(.radar) ? radar : nil, lidarDepth: has(.lidar) ? lidar : nil,
                beamPowerNormalized: has(.beamPower) ? Array(power[(i * B)..<((i + 1) * B)]) : nil,
                missing: Set(Modality.allCases.filter { !has($0) })))
            estimates.append(coarse)
        }
        self.frames = frames
        self.coarse = estimates
        segmentStart = starts.map { $0 > 0.5 }
    }

    /// Rows `[frame]` of an expected tensor (first dimension = frame).
    func expected(_ name: String, frame: Int) throws -> [Float] {
        guard let t = tensors[name] else { throw FixtureError.missing(name) }
        let per = t.count / t.shape[0]
        return Array(t.storage[(frame * per)..<((frame + 1) * per)])
    }
}

/// Worst violation of "|a − b| ≤ tol or |a − b| ≤ tol·|b|" (0 when everything is within tolerance).
func parityViolation(_ actual: [Float], _ expected: [Float], tolerance: Float = 1e-4) -> Float {
    guard actual.count == expected.count else { return .infinity }
    var worst: Float = 0
    for i in expected.indices {
        let diff = abs(actual[i] - expected[i])
        if !(diff <= tolerance || diff <= tolerance * abs(expected[i])) { worst = max(worst, diff.isNaN ? .infinity : diff) }
    }
    return worst
}

/// Deterministic pseudo-random floats in [-1, 1).
struct TestRandom {
    var state: UInt64
    init(_ seed: UInt64) { state = seed }
    mutating func next() -> Float {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return Float(state >> 40) / Float(1 << 23) - 1
    }
    mutating func array(_ n: Int) -> [Float] { (0..<n).map { _ in next() } }
}
