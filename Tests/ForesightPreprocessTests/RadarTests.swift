import Foundation
import Testing
import ForesightWire
@testable import ForesightPreprocess

@Suite struct RadarTests {
    static func randomCube(count: Int, seed: UInt64) -> [Float] {
        var rng = SplitMix(seed: seed)
        return (0..<(2 * count)).map { _ in Float.random(in: -1...1, using: &rng) }
    }

    @Test(arguments: [(4, 32, 16), (3, 20, 7), (4, 64, 1), (1, 16, 5)])
    func cf32MatchesNumPyReference(rx: Int, samples: Int, chirps: Int) throws {
        let floats = Self.randomCube(count: rx * samples * chirps, seed: UInt64(rx * 1000 + chirps))
        let bytes = floats.littleEndianBytes
        let radar = try RadarPreprocessor()
        let ours = try radar.process(cube: bytes, rx: rx, samples: samples, chirps: chirps, type: .cf32)
        let dir = try Reference.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let expected = try Reference.run(["radar", "--input", try Reference.write(bytes, "cube.bin", in: dir),
                                          "--rx", "\(rx)", "--samples", "\(samples)", "--chirps", "\(chirps)",
                                          "--dtype", "cf32"], dir: dir)
        #expect(ours.count == 64 * samples)
        let result = Reference.compare(ours, expected)
        #expect(result.bad == 0, "\(result.bad) values differ, worst \(result.worst)")
    }

    @Test func ci16MatchesNumPyReferenceWithoutNormalization() throws {
        let rx = 4, samples = 24, chirps = 10
        var rng = SplitMix(seed: 99)
        let ints: [Int16] = (0..<(2 * rx * samples * chirps)).map { _ in Int16.random(in: -2000...2000, using: &rng) }
        let bytes = ints.flatMap { v in [UInt8(truncatingIfNeeded: v), UInt8(truncatingIfNeeded: v >> 8)] }
        var params = RadarParameters()
        params.normalization = .none
        let radar = try RadarPreprocessor(parameters: params)
        let ours = try radar.process(cube: bytes, rx: rx, samples: samples, chirps: chirps, type: .ci16)
        let dir = try Reference.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let expected = try Reference.run(["radar", "--input", try Reference.write(bytes, "cube.bin", in: dir),
                                          "--rx", "\(rx)", "--samples", "\(samples)", "--chirps", "\(chirps)",
                                          "--dtype", "ci16", "--no-normalize"], dir: dir)
        let peak = expected.max() ?? 1
        let result = Reference.compare(ours, expected, absoluteFloor: 1e-5 * peak)
        #expect(result.bad == 0, "\(result.bad) values differ, worst \(result.worst)")
    }

    /// A moving point target at range bin 40 and angle bin +8 plus strong static clutter at range bin 100.
    static func syntheticTarget(rx: Int, samples: Int, chirps: Int) -> [Float] {
        var cube = [Float](repeating: 0, count: 2 * rx * samples * chirps)
        for r in 0..<rx { for n in 0..<samples { for c in 0..<chirps {
            let target = 2 * Double.pi * (40.0 * Double(n) / Double(samples) + 8.0 * Double(r) / 64 + 5.0 * Double(c) / Double(chirps))
            let clutter = 2 * Double.pi * (100.0 * Double(n) / Double(samples) - 3.0 * Double(r) / 64)
            let i = 2 * ((r * samples + n) * chirps + c)
            cube[i] = Float(cos(target) + 10 * cos(clutter))
            cube[i + 1] = Float(sin(target) + 10 * sin(clutter))
        } } }
        return cube
    }

    @Test func mapPeaksAtSyntheticTargetAndRemovesStaticClutter() throws {
        let rx = 4, samples = 256, chirps = 32
        let radar = try RadarPreprocessor()
        let map = try radar.process(cube: Self.syntheticTarget(rx: rx, samples: samples, chirps: chirps).littleEndianBytes,
                                    rx: rx, samples: samples, chirps: chirps, type: .cf32)
        let peakIndex = map.indices.max { map[$0] < map[$1] } ?? -1
        #expect(peakIndex / samples == 32 + 8, "angle bin after fftshift")
        #expect(peakIndex % samples == 40, "range bin")
        #expect(abs(map[peakIndex] - 1) < 1e-6)
        // The static clutter (10× stronger) is gone after subtracting the mean over chirps.
        let clutterColumn = (0..<64).map { map[$0 * samples + 100] }
        #expect((clutterColumn.max() ?? 1) < 1e-3)
    }

    @Test func ci16AndCf32GiveTheSameMapAndShapesCanChange() throws {
        let rx = 4, samples = 64, chirps = 9
        let floats = Self.syntheticTarget(rx: rx, samples: samples, chirps: chirps).map { ($0 * 100).rounded() }
        let ints = floats.map { Int16($0) }
        let ci16 = ints.flatMap { v in [UInt8(truncatingIfNeeded: v), UInt8(truncatingIfNeeded: v >> 8)] }
        let radar = try RadarPreprocessor()
        let a = try radar.process(cube: floats.littleEndianBytes, rx: rx, samples: samples, chirps: chirps, type: .cf32)
        // A different shape in between exercises the plan cache.
        _ = try radar.process(cube: [UInt8](repeating: 0, count: 8 * 2 * 8 * 3), rx: 2, samples: 8, chirps: 3, type: .cf32)
        let b = try radar.process(cube: ci16, rx: rx, samples: samples, chirps: chirps, type: .ci16)
        #expect(zip(a, b).allSatisfy { abs($0 - $1) < 1e-6 })
    }

    @Test func estimatedAndMeasuredPlansAgree() throws {
        let rx = 4, samples = 64, chirps = 25
        let bytes = Self.randomCube(count: rx * samples * chirps, seed: 11).littleEndianBytes
        var params = RadarParameters()
        params.measureAnglePlan = false
        let estimated = try RadarPreprocessor(parameters: params).process(cube: bytes, rx: rx, samples: samples, chirps: chirps, type: .cf32)
        let measured = try RadarPreprocessor().process(cube: bytes, rx: rx, samples: samples, chirps: chirps, type: .cf32)
        #expect(zip(estimated, measured).allSatisfy { abs($0 - $1) <= 1e-5 })
    }

    @Test("the range bins shared out over 1, 2 or 3 threads give the identical map")
    func threadCountDoesNotChangeTheMap() throws {
        let rx = 4, samples = 72, chirps = 9
        let bytes = Self.randomCube(count: rx * samples * chirps, seed: 21).littleEndianBytes
        var maps: [[Float]] = []
        for threads in [1, 2, 3] {
            var params = RadarParameters()
            params.threads = threads
            let radar = try RadarPreprocessor(parameters: params)
            let first = try radar.process(cube: bytes, rx: rx, samples: samples, chirps: chirps, type: .cf32)
            #expect(try radar.process(cube: bytes, rx: rx, samples: samples, chirps: chirps, type: .cf32) == first)
            maps.append(first)
        }
        #expect(maps[0] == maps[1] && maps[1] == maps[2])
        var bad = RadarParameters()
        bad.threads = 0
        #expect(throws: PreprocessError.self) { try RadarPreprocessor(parameters: bad) }
    }

    @Test func badShapesAreRejected() throws {
        let radar = try RadarPreprocessor()
        #expect(throws: PreprocessError.sizeMismatch(modality: .radar, expected: 4 * 8 * 2 * 8, actual: 10)) {
            try radar.process(cube: [UInt8](repeating: 0, count: 10), rx: 4, samples: 8, chirps: 2, type: .cf32)
        }
        #expect(throws: PreprocessError.self) { try radar.process(cube: [], rx: 65, samples: 1, chirps: 1, type: .cf32) }
        #expect(throws: PreprocessError.self) { try radar.process(cube: [], rx: 4, samples: 0, chirps: 1, type: .cf32) }
        #expect(throws: PreprocessError.self) {
            try radar.process(cube: [], rx: 64, samples: Int.max / 8, chirps: 1000, type: .ci16)
        }
    }
}
