import Foundation
import Testing
import ForesightWire
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

    static func header(_ seq: UInt64) -> Header { Header(stamp: Int64(seq) * 100_000_000, seq: UInt32(seq), frameID: "sensor") }

    static func frame(_ seq: UInt64) -> RawFrame {
        RawFrame(seq: seq, stamp: Int64(seq) * 100_000_000,
                 camera: Image(header: header(seq), width: 32, height: 24,
                               encoding: .rgb8, data: image),
                 radar: RadarCube(header: header(seq), rx: 4, samples: 32, chirps: 8, dtype: .cf32, data: cube),
                 gnss: GnssFix(header: header(seq), lat: 33.421, lon: -111.929, alt: 0, hdop: 1, fix: .threeD))
    }

    /// The header travels with the frame through the bounded queues (no side table), and the
    /// classical predictor's view — site-frame LiDAR points, beam power in dBm — comes out of the
    /// same pass as the tensors.
    @Test func theHeaderTravelsWithTheFrameAndTheClassicalViewComesFromTheSamePass() async throws {
        var config = try Self.configuration()
        config.lidar.sitePose = LidarSitePose(rx: SIMD3(0, 1, 0), ry: SIMD3(-1, 0, 0), rz: SIMD3(0, 0, 1), origin: SIMD3(1, 2, 3))
        var beam = BeamPowerParameters()
        beam.normalization = .perVectorMinMax
        config.beamPower = beam
        let frontEnd = try FramePreprocessor(configuration: config)
        let header = FrameHeader(seq: 7, stamp: 700, members: [FusionFrame.Member(modality: .lidar, topic: "sensor/lidar", stamp: 690, seq: 3)],
                                 missing: [.camera], reason: .deadline, lastReceive: 5, synchronizedAt: 6, epoch: 2)
        let cloud: [Float] = [1, 0, 0, 0, 2, 0]
        let power: [Float] = [1, 10, .nan]
        let wire = Header(stamp: 690, seq: 3, frameID: "sensor")
        frontEnd.submit(RawFrame(header: header, lidar: PointCloud(header: wire, fields: ["x", "y", "z"], count: 2, data: cloud.littleEndianBytes),
                                 beamPower: BeamPower(header: wire, power: power, unit: .mw)))
        frontEnd.finish()
        var out: [PreprocessedFrame] = []
        for await frame in frontEnd.output { out.append(frame) }
        #expect(out.count == 1)
        let frame = try #require(out.first)
        #expect(frame.header == header)
        #expect(frame.lidarPoints == [SIMD3(1, 3, 3), SIMD3(-1, 2, 3)])
        #expect(frame.beamPowerDBm == [0, 10, -120])
        #expect(frame.tensors[.beamPower]?.values == (try BeamPowerPreprocessor(parameters: beam).process(power: power, unit: .mw)))
        #expect(frame.tensors[.lidar]?.values == (try LidarPreprocessor(parameters: config.lidar).process(points: cloud.littleEndianBytes, count: 2, fields: ["x", "y", "z"])))
    }

    /// `modelInputs` without camera, radar and LiDAR (what the classical predictor reads): the
    /// camera image and radar cube are not processed, the LiDAR cloud gives the same site-frame
    /// points as the full pass without a depth image, and all three are listed as unprocessed —
    /// present, not missing. A broken cloud is still rejected (its points are read).
    @Test func modalitiesNoConsumerReadsAreSkippedButTheClassicalViewIsTheSame() async throws {
        var config = try Self.configuration()
        config.lidar.sitePose = LidarSitePose(rx: SIMD3(0, 1, 0), ry: SIMD3(-1, 0, 0), rz: SIMD3(0, 0, 1), origin: SIMD3(1, 2, 3))
        let full = try FramePreprocessor(configuration: config)
        config.modelInputs = [.gnss]
        let lean = try FramePreprocessor(configuration: config)
        defer { full.finish(); lean.finish() }
        #expect(lean.modelInputs == [.gnss, .beamPower], "GNSS and beam power are always processed")
        let cloud: [Float] = [1, 0, 0, 0, 2, 0, .nan, 1, 1, 5, 5, 1]
        var raw = Self.frame(4)
        raw.lidar = PointCloud(header: Self.header(4), fields: ["x", "y", "z"], count: 4, data: cloud.littleEndianBytes)
        raw.beamPower = BeamPower(header: Self.header(4), power: [1, 10, 100], unit: .mw)

        let all = await full.process(raw)
        let some = await lean.process(raw)
        #expect(Set(all.tensors.keys) == Set(Modality.allCases) && all.unprocessed.isEmpty)
        #expect(Set(some.tensors.keys) == [.gnss, .beamPower])
        #expect(some.unprocessed == [.camera, .radar, .lidar])
        #expect(some.failures.isEmpty)
        #expect(some.lidarPoints != nil && some.lidarPoints == all.lidarPoints, "the same points, bit for bit")
        #expect(some.lidarPoints?.count == 3, "the non-finite point is dropped as in the full pass")
        #expect(some.beamPowerDBm == all.beamPowerDBm && some.tensors[.gnss] == all.tensors[.gnss])

        // Dropping a skipped modality (an ablation) makes it missing, not unprocessed.
        var dropped = some
        dropped.drop(.lidar)
        #expect(!dropped.unprocessed.contains(.lidar) && dropped.lidarPoints == nil)

        // A cloud whose size does not match its fields is still rejected without the depth image.
        raw.lidar = PointCloud(header: Self.header(4), fields: ["x", "y", "z"], count: 5, data: cloud.littleEndianBytes)
        let broken = await lean.process(raw)
        #expect(broken.failures[.lidar] != nil && broken.lidarPoints == nil && !broken.unprocessed.contains(.lidar))
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
        frame.lidar = PointCloud(header: Self.header(1), fields: ["x", "y", "z"], count: 1, data: [1, 2, 3])
        frame.beamPower = BeamPower(header: Self.header(1), power: [1, .nan, 0.5], unit: .mw)
        let out = await frontEnd.process(frame)
        #expect(out.failures[.lidar] == .sizeMismatch(modality: .lidar, expected: 12, actual: 3))
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

@Suite struct WireAdapterTests {
    @Test func decodedWireMessagesBecomeAFrame() async throws {
        let header = Header(stamp: 1_000, seq: 1, frameID: "bs")
        let image = Image(header: header, width: 32, height: 24, encoding: .rgb8, data: FramePreprocessorTests.image)
        let cube = RadarCube(header: header, rx: 4, samples: 32, chirps: 8, dtype: .cf32, data: FramePreprocessorTests.cube)
        let cloud = PointCloud(header: header, fields: ["x", "y", "z", "intensity"], values: [10, 0, 0, 0.5, 0, 20, 1, 0.1])
        let noFix = GnssFix(header: header, lat: 33.4, lon: -111.9, alt: 0, hdop: 1, fix: .none)
        let power = BeamPower(header: header, power: [1, 0.5, .nan], unit: .mw)
        // Through the codec, as the daemon receives them.
        let decodedImage = try Image.decode(image.encoded(), topic: MessageType.image.defaultTopic)
        let decodedCube = try RadarCube.decode(cube.encoded(), topic: MessageType.radarCube.defaultTopic)
        let decodedCloud = try PointCloud.decode(cloud.encoded(), topic: MessageType.pointCloud.defaultTopic)
        let frame = RawFrame(seq: 1, stamp: 1_000, camera: decodedImage, radar: decodedCube, lidar: decodedCloud,
                             gnss: noFix, beamPower: power)
        #expect(frame.present == [.camera, .radar, .lidar, .beamPower], "an unusable fix is absent, not an error")
        let frontEnd = try FramePreprocessor(configuration: try FramePreprocessorTests.configuration())
        defer { frontEnd.finish() }
        let out = await frontEnd.process(frame)
        #expect(out.failures.isEmpty)
        #expect(out.tensors[.lidar].map { t in t.values.filter { $0 > 0 }.count } == 2)
        let beams = out.tensors[.beamPower]?.values ?? []
        #expect(beams.count == 3 && beams[0] == 0 && abs(beams[1] + 3.0103) < 1e-3 && beams[2] == -120)
    }
}
