import Foundation
import ForesightWire

/// How the dB vector is scaled (configured per site).
public enum BeamPowerNormalization: Sendable, Equatable {
    /// Keep dBm values.
    case none
    /// Fixed site range: `(x − min) / (max − min)`.
    case minMax(min: Float, max: Float)
    /// Fixed site statistics: `(x − mean) / std`.
    case standard(mean: Float, std: Float)
    /// Per-vector range: `(x − min(x)) / (max(x) − min(x))`; a constant vector becomes zeros.
    case perVectorMinMax
    /// Linear power divided by the vector's maximum: `10^((x − max(x)) / 10)`, in (0, 1]
    /// (site calibration `normalization: max`).
    case linearMax
    /// dB above the floor: `x − floor` (≥ 0; site calibration `normalization: floor`).
    case aboveFloor
}

/// Beam power parameters.
public struct BeamPowerParameters: Sendable, Equatable {
    /// Floor in dBm for zeros, negatives, NaN/inf and anything lower.
    public var floorDBm: Float = -120
    /// Normalization applied after the conversion to dBm.
    public var normalization: BeamPowerNormalization = .none
    /// Largest accepted codebook size.
    public var maxBeams: Int = 4096

    /// Creates the default parameters.
    public init() {}

    /// Checks that every field is usable.
    public func validate() throws(PreprocessError) {
        guard floorDBm.isFinite else { throw .badParameter("beam power floor must be finite") }
        guard maxBeams > 0 else { throw .badParameter("beam power maxBeams must be positive") }
        switch normalization {
        case .none, .perVectorMinMax, .linearMax, .aboveFloor: break
        case let .minMax(lo, hi):
            guard lo.isFinite, hi.isFinite, hi > lo else { throw .badParameter("beam power min/max \(lo)/\(hi) need max > min") }
        case let .standard(_, std):
            guard std.isFinite, std > 0 else { throw .badParameter("beam power std \(std) must be positive") }
        }
    }
}

/// Converts a beam power vector to dBm (`10·log10(mW)`), replaces zeros/NaN/negative values by
/// the floor, clamps below the floor, then normalizes.
public struct BeamPowerPreprocessor: Sendable {
    /// The parameters this preprocessor was built with.
    public let parameters: BeamPowerParameters

    /// Creates a preprocessor; fails on invalid parameters.
    public init(parameters: BeamPowerParameters = BeamPowerParameters()) throws(PreprocessError) {
        try parameters.validate()
        self.parameters = parameters
    }

    /// Processes `power` into `output` (same length).
    public func process(power: UnsafeBufferPointer<Float>, unit: PowerUnit,
                        into output: UnsafeMutableBufferPointer<Float>) throws(PreprocessError) {
        let n = power.count
        guard n > 0, n <= parameters.maxBeams else {
            throw .badDimensions(modality: .beamPower, detail: "\(n) beams, limit 1...\(parameters.maxBeams)")
        }
        guard output.count >= n else { throw .outputSize(modality: .beamPower, expected: n, actual: output.count) }
        toDBm(power: power, unit: unit, into: output)
        normalize(output, count: n)
    }

    /// Writes the floored dBm value of every beam into `output` (sizes already checked).
    private func toDBm(power: UnsafeBufferPointer<Float>, unit: PowerUnit, into output: UnsafeMutableBufferPointer<Float>) {
        let floor = parameters.floorDBm
        for i in 0..<power.count {
            let v = power[i]
            let db: Float
            switch unit {
            case .mw: db = v > 0 && v.isFinite ? 10 * log10(v) : floor
            case .dbm: db = v.isFinite ? v : floor
            }
            output[i] = max(db, floor)
        }
    }

    /// Applies the normalization in place to the first `n` dBm values of `output`.
    private func normalize(_ output: UnsafeMutableBufferPointer<Float>, count n: Int) {
        let floor = parameters.floorDBm
        switch parameters.normalization {
        case .none: break
        case let .minMax(lo, hi):
            let inv = 1 / (hi - lo)
            for i in 0..<n { output[i] = (output[i] - lo) * inv }
        case let .standard(mean, std):
            let inv = 1 / std
            for i in 0..<n { output[i] = (output[i] - mean) * inv }
        case .perVectorMinMax:
            var lo = output[0], hi = output[0]
            for i in 1..<n { lo = min(lo, output[i]); hi = max(hi, output[i]) }
            let span = hi - lo
            for i in 0..<n { output[i] = span > 0 ? (output[i] - lo) / span : 0 }
        case .linearMax:
            var hi = output[0]
            for i in 1..<n { hi = max(hi, output[i]) }
            for i in 0..<n { output[i] = pow(10, (output[i] - hi) / 10) }
        case .aboveFloor:
            for i in 0..<n { output[i] -= floor }
        }
    }

    /// Processes `power` into the normalized vector and the floored dBm vector it was normalized
    /// from (one conversion gives both; the dBm vector is what the classical predictor reads).
    public func processWithDBm(power: [Float], unit: PowerUnit) throws(PreprocessError) -> (normalized: [Float], dBm: [Float]) {
        let n = power.count
        guard n > 0, n <= parameters.maxBeams else {
            throw .badDimensions(modality: .beamPower, detail: "\(n) beams, limit 1...\(parameters.maxBeams)")
        }
        var dBm = [Float](repeating: 0, count: n)
        power.withUnsafeBufferPointer { p in dBm.withUnsafeMutableBufferPointer { toDBm(power: p, unit: unit, into: $0) } }
        var normalized = dBm
        normalized.withUnsafeMutableBufferPointer { normalize($0, count: n) }
        return (normalized, dBm)
    }

    /// Convenience: processes into a new array.
    public func process(power: [Float], unit: PowerUnit) throws(PreprocessError) -> [Float] {
        var out = [Float](repeating: 0, count: power.count)
        let result = power.withUnsafeBufferPointer { p in
            out.withUnsafeMutableBufferPointer { o in
                Result { () throws(PreprocessError) in try process(power: p, unit: unit, into: o) }
            }
        }
        try result.get()
        return out
    }
}
