import Foundation
import Testing

/// Runs Tools/preprocess_reference.py in the package's .venv and reads its .npy output.
enum Reference {
    /// Package root, found from this file's path (Tests/ForesightPreprocessTests/…).
    static let root: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// A fresh temporary directory.
    static func tempDir() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fs-preprocess-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    /// Writes `bytes` to `dir/name` and returns the path.
    static func write(_ bytes: [UInt8], _ name: String, in dir: URL) throws -> String {
        let url = dir.appendingPathComponent(name)
        try Data(bytes).write(to: url)
        return url.path
    }

    /// Runs the reference with `arguments` and returns the flattened float64 output array.
    static func run(_ arguments: [String], dir: URL) throws -> [Double] {
        let out = dir.appendingPathComponent("out.npy").path
        let process = Process()
        process.executableURL = root.appendingPathComponent(".venv/bin/python")
        process.arguments = [root.appendingPathComponent("Tools/preprocess_reference.py").path] + arguments + ["--out", out]
        let errPipe = Pipe()
        process.standardError = errPipe
        try process.run()
        let errData = errPipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw ReferenceFailure(message: "reference failed: " + String(decoding: errData, as: UTF8.self))
        }
        return try readNpyFloat64(URL(fileURLWithPath: out))
    }

    /// Reads a little-endian float64 .npy file (version 1/2/3, C order) into a flat array.
    static func readNpyFloat64(_ url: URL) throws -> [Double] {
        let bytes = [UInt8](try Data(contentsOf: url))
        guard bytes.count > 10, bytes[0] == 0x93, bytes[6] >= 1 else { throw ReferenceFailure(message: "not an npy file") }
        let headerLength: Int
        let headerStart: Int
        if bytes[6] == 1 {
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
            headerStart = 10
        } else {
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
            headerStart = 12
        }
        let header = String(decoding: bytes[headerStart..<(headerStart + headerLength)], as: UTF8.self)
        guard header.contains("'<f8'"), header.contains("'fortran_order': False") else {
            throw ReferenceFailure(message: "unexpected npy header \(header)")
        }
        let start = headerStart + headerLength
        let count = (bytes.count - start) / 8
        return (0..<count).map { i in
            var bits: UInt64 = 0
            for b in 0..<8 { bits |= UInt64(bytes[start + 8 * i + b]) << (8 * b) }
            return Double(bitPattern: bits)
        }
    }

    /// Counts elements that differ by more than `relative` (with an absolute floor) and returns
    /// the worst offender for the failure message.
    static func compare(_ actual: [Float], _ expected: [Double], relative: Double = 1e-4,
                        absoluteFloor: Double = 1e-5) -> (bad: Int, worst: String) {
        guard actual.count == expected.count else { return (Int.max, "count \(actual.count) vs \(expected.count)") }
        var bad = 0, worst = "", worstRatio = 0.0
        for i in 0..<actual.count {
            let a = Double(actual[i]), e = expected[i]
            let tolerance = max(relative * abs(e), absoluteFloor)
            let diff = abs(a - e)
            if !(diff <= tolerance) {
                bad += 1
                if diff / tolerance > worstRatio { worstRatio = diff / tolerance; worst = "[\(i)] \(a) vs \(e)" }
            }
        }
        return (bad, worst)
    }
}

/// A failure running or reading the reference script.
struct ReferenceFailure: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}

/// Deterministic pseudo-random numbers (SplitMix64) so fixed inputs are reproducible.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

extension Array where Element == Float {
    /// Little-endian bytes of the floats.
    var littleEndianBytes: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(count * 4)
        for v in self { let b = v.bitPattern; for k in 0..<4 { out.append(UInt8(truncatingIfNeeded: b >> (8 * k))) } }
        return out
    }
}

extension Array where Element == Double {
    /// Little-endian bytes of the doubles.
    var littleEndianBytes: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(count * 8)
        for v in self { let b = v.bitPattern; for k in 0..<8 { out.append(UInt8(truncatingIfNeeded: b >> (8 * k))) } }
        return out
    }
}
