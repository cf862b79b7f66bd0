import Foundation
import Testing
@testable import ForesightPreprocess

@Suite struct FramePreprocessorTests {
    static func configuration(inputCapacity: Int = 4, outputCapacity: Int = 8) throws -> FrontEndConfiguration {
        var config = FrontEndConfiguration(gnss: try GnssProjector(referenceLatitude: 33.42, referenceLongitude: -111.93))
        config.inputCapacity = inputCapacity
        config.outputCapacity = outputCapacity
        return config
    }

    static let image: [UInt8] = (0..<(32 * 24 * 3)).map { UInt8(truncatingIfNeeded: $0 * 7) }
    static let cube: [UInt8] = RadarTests.syntheticTarget(rx: 4, samples: 32, chirps: 8).littleEndianBytes

    static func frame(_ seq: UInt64) -> RawFrame {
        RawFrame(seq: seq, stamp: Int64(seq) * 100_000_000,
                 camera: .raw(pixels: image, width: 32, height: 24, encoding: .rgb8),
                 radar: RadarInput(data: cube, rx: 4, samples: 32, chirps: 8, type: .cf32),
                 gnss: GnssInput(latitude: 33.421, longitude: -111.929))
    }

    @Test func presentModalitiesAreProcessedLikeTheDirectFunctions() async throws {
        let frontEnd = try FramePreprocessor(configuration: try Self.configuration())
        defer { frontEnd.finish() }
        let out = await frontEnd.process(Self.frame(3))
        #expect(out.seq == 3 && out.stamp == 300_000_000)
        #expect(Set(out.tensors.keys) == [.camera, .radar, .gnss])
        #expect(out.failures.isEmpty)
        let camera = try CameraPreprocessor().process(raw: Self.image, width: 32, height: 24, encoding: .rgb8)
        #expect(out.tensors[.camera] == PreprocessedTensor(shape: [3, 224, 224], values: camera))
        let radar = try RadarPreprocessor().process(cube: Self.cube, rx: 4, samples: 32, chirps: 8, type: .cf32)
        #expect(out.tensors[.radar] == PreprocessedTensor(shape: [64, 32], values: radar))
        #expect(out.tensors[.gnss]?.shape == [2])
    }

    @Test func badModalityIsReportedAndOthersStillArrive() async throws {
        let frontEnd = try FramePreprocessor(configuration: try Self.configuration())
        defer { frontEnd.finish() }
        var frame = Self.frame(1)
        frame.lidar = LidarInput(data: [1, 2, 3], count: 1, fields: ["x", "y", "z"])
        frame.beamPower = BeamPowerInput(power: [1, .nan, 0.5], unit: .milliwatt)
        let out = await frontEnd.process(frame)
        #expect(out.failures[.lidar] == .sizeMismatch(modality: "lidar", expected: 12, actual: 3))
        #expect(Set(out.tensors.keys) == [.camera, .radar, .gnss, .beamPower])
        #expect(frontEnd.statistics.rejectedInputs == 1)
    }

    @Test func stagesRunOnTheirOwnThreads() async throws {
        let frontEnd = try FramePreprocessor(configuration: try Self.configuration())
        defer { frontEnd.finish() }
        let name = await frontEnd.camera.currentThreadName()
        #expect(name == "fs-pre-camera")
    }

    @Test func queueKeepsNewestDropsOldestAndCountsEverything() async throws {
        let frontEnd = try FramePreprocessor(configuration: try Self.configuration(inputCapacity: 2, outputCapacity: 1))
        let n: UInt64 = 30
        for seq in 0..<n { frontEnd.submit(Self.frame(seq)) }  // never blocks
        frontEnd.finish()
        // Let the front end drain before reading (bounded wait, no timing assertion).
        for _ in 0..<2000 where frontEnd.statistics.processed + frontEnd.statistics.droppedInput < Int(n) {
            try await Task.sleep(nanoseconds: 5_000_000)
        }
        var received: [UInt64] = []
        for await frame in frontEnd.output { received.append(frame.seq) }
        let stats = frontEnd.statistics
        // Output capacity 1 and a consumer that only starts reading at the end: only the newest survives.
        #expect(received == [n - 1])
        #expect(stats.submitted == Int(n))
        #expect(stats.processed + stats.droppedInput == Int(n))
        #expect(stats.droppedOutput == stats.processed - 1)
    }

    @Test func outputIsInSubmissionOrder() async throws {
        let frontEnd = try FramePreprocessor(configuration: try Self.configuration(inputCapacity: 64, outputCapacity: 64))
        for seq in 0..<20 { frontEnd.submit(Self.frame(UInt64(seq))) }
        frontEnd.finish()
        var received: [UInt64] = []
        for await frame in frontEnd.output { received.append(frame.seq) }
        #expect(received == Array(0..<20))
        #expect(frontEnd.statistics.droppedInput == 0 && frontEnd.statistics.droppedOutput == 0)
    }
}
