import Foundation
@testable import ForesightInference

/// Shared helpers for the inference tests.
enum Fixture {
    /// The committed parity fixture directory (config.json, model.safetensors, cases.safetensors).
    static var directory: URL {
        get throws {
            guard let url = Bundle.module.url(forResource: "Fixtures", withExtension: nil) else {
                throw FixtureError.missing("Fixtures resource folder")
            }
            return url
        }
    }

    static func cases() throws -> [String: Tensor] {
        try SafeTensors(contentsOf: directory.appendingPathComponent("cases.safetensors")).tensors
    }

    static func model() throws -> MultiTaskModel {
        try MultiTaskModel(directory: directory)
    }
}

enum FixtureError: Error { case missing(String) }

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
