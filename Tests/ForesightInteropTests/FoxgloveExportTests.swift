import Foundation
import ForesightBag
import ForesightSite
import ForesightTestSupport
import ForesightWire
import Testing
@testable import ForesightInterop

@Suite(.serialized) struct FoxgloveExportTests {
    /// A simulator bag plus predictions exports into well-known-schema channels that pass the
    /// field/type/required checks against the `foxglove-schemas-protobuf` descriptors
    /// (Tools/foxglove_check.py, read with the official Python `mcap` reader).
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: TestSupport.python)
                   && FileManager.default.isExecutableFile(atPath: TestSupport.foresightBinary), "needs .venv and the foresight executable"))
    func exportPassesTheFoxgloveSchemaCheck() throws {
        let dir = try TestSupport.temporaryDirectory("foxglove-export")
        defer { try? FileManager.default.removeItem(at: dir) }
        let simBag = try sharedAlignedBag.get()
        let withPredictions = dir.appendingPathComponent("session.mcap").path
        try addPredictions(from: simBag, to: withPredictions)

        let out = dir.appendingPathComponent("foxglove.mcap").path
        let site = try Site.load(path: TestSupport.path("Calibration/sim-site.yaml"))
        let report = try FoxgloveExporter(options: FoxgloveExportOptions(input: withPredictions, output: out, site: site)).run()
        for topic in [FoxgloveExporter.Topic.camera, FoxgloveExporter.Topic.lidar, FoxgloveExporter.Topic.gnss, FoxgloveExporter.Topic.radarMap,
                      FoxgloveExporter.Topic.scene, FoxgloveExporter.Topic.predictedFix, FoxgloveExporter.Topic.transforms, "/predict/beam", "/foresight/diagnostics", "/truth/beam"] {
            #expect((report.written[topic] ?? 0) > 0, "\(topic): \(report.written)")
        }
        let check = try TestSupport.runPython("foxglove_check.py", [out])
        #expect(check.status == 0, "\(check.stdout)\n\(check.stderr)")
        for name in ["foxglove.CompressedImage", "foxglove.PointCloud", "foxglove.LocationFix", "foxglove.SceneUpdate", "foxglove.RawImage", "foxglove.FrameTransforms"] {
            #expect(check.stdout.contains("\"\(name)\""), "\(name) checked")
        }

        // The check can fail: a message with a wrong type and a missing field is caught.
        let broken = dir.appendingPathComponent("broken.mcap").path
        let writer = try BagWriter(path: broken)
        let schema = try writer.addSchema(name: "foxglove.LocationFix", encoding: "jsonschema", data: Array(FoxgloveSchemas.schema("foxglove.LocationFix")!.utf8))
        let channel = try writer.addChannel(topic: "/gnss", messageEncoding: "json", schemaID: schema)
        let bad = #"{"timestamp":{"sec":1,"nsec":0},"frame_id":"x","latitude":"33.4","longitude":-111.9,"position_covariance":[],"position_covariance_type":7,"metadata":[]}"#
        try writer.write(channelID: channel, sequence: 0, logTime: 1, publishTime: 1, data: Array(bad.utf8))
        _ = try writer.finish()
        let failing = try TestSupport.runPython("foxglove_check.py", [broken])
        #expect(failing.status == 1)
        #expect(failing.stdout.contains("latitude") && failing.stdout.contains("altitude") && failing.stdout.contains("position_covariance_type"))
    }

    /// The `/tf` rotation of a pose turns body axes into the same site directions as `Pose`.
    @Test func transformQuaternionMatchesThePose() {
        for (yaw, pitch, roll) in [(90.0, 0.0, 0.0), (30.0, -12.0, 5.0), (200.0, 40.0, -70.0), (359.0, 0.0, 170.0)] {
            let pose = Pose(position: SIMD3(1, 2, 3), yawDeg: yaw, pitchDeg: pitch, rollDeg: roll)
            let q = quaternion(pose)
            #expect(abs(q.x * q.x + q.y * q.y + q.z * q.z + q.w * q.w - 1) < 1e-12)
            for axis in [SIMD3<Double>(1, 0, 0), SIMD3(0, 1, 0), SIMD3(0, 0, 1)] {
                // v' = v + 2w(u × v) + 2 u × (u × v), u = (x, y, z)
                let u = SIMD3(q.x, q.y, q.z)
                func cross(_ a: SIMD3<Double>, _ b: SIMD3<Double>) -> SIMD3<Double> {
                    SIMD3(a.y * b.z - a.z * b.y, a.z * b.x - a.x * b.z, a.x * b.y - a.y * b.x)
                }
                let t = 2 * cross(u, axis)
                let rotated = axis + q.w * t + cross(u, t)
                let expected = pose.directionToSite(axis)
                #expect(abs(rotated.x - expected.x) < 1e-9 && abs(rotated.y - expected.y) < 1e-9 && abs(rotated.z - expected.z) < 1e-9,
                        "yaw \(yaw) pitch \(pitch) roll \(roll) axis \(axis)")
            }
        }
    }

    /// Copies a bag and adds, after every `truth/ue`, the predictions a daemon would publish and a diagnostics message.
    func addPredictions(from input: String, to output: String) throws {
        let reader = try BagReader(path: input)
        let cursor = try reader.messages()
        let writer = try BagWriter(path: output)
        let site = try Site.load(path: TestSupport.path("Calibration/sim-site.yaml"))
        func schema(_ type: MessageType) -> BagTopicSchema { BagTopicSchema(name: type.name, encoding: "jsonschema", data: Array(type.jsonSchema.utf8)) }
        var n: UInt32 = 0
        while let entry = try cursor.next() {
            try writer.write(topic: entry.channel.topic, schema: MessageType.forTopic(entry.channel.topic).map(schema),
                             sequence: entry.message.sequence, logTime: entry.message.logTime, publishTime: entry.message.publishTime,
                             data: entry.message.data)
            guard entry.channel.topic == "truth/ue" else { continue }
            let ue = try TruthUE.decode(entry.message.data)
            let stamp = ue.header.stamp
            let horizon = (1...3).map { stamp + Int64($0) * 100_000_000 }
            let east = horizon.indices.map { ue.east + ue.velocityEast * 0.1 * Double($0 + 1) }
            let north = horizon.indices.map { ue.north + ue.velocityNorth * 0.1 * Double($0 + 1) }
            let geo = zip(east, north).map { site.origin.toGeodetic(east: $0, north: $1) }
            let header = Header(stamp: stamp, seq: n, frameID: "site")
            let messages: [any WireMessage] = [
                PositionPrediction(header: header, model: "test", horizon: horizon, east: east, north: north, lat: geo.map(\.lat), lon: geo.map(\.lon)),
                BeamPrediction(header: header, model: "test", horizon: horizon, best: [30, 31, 32], topk: [[30, 29], [31, 30], [32, 31]],
                               prob: [[0.6, 0.2], [0.5, 0.3], [0.4, 0.3]]),
                BlockagePrediction(header: header, model: "test", horizon: horizon, prob: [0.1, 0.6, 0.9]),
                Diagnostics(header: header, uptimeS: Double(n) / 10, topics: [], rejections: [], stages: []),
            ]
            for m in messages {
                let type = type(of: m).messageType
                try writer.write(topic: type.defaultTopic, schema: schema(type), sequence: n, logTime: entry.message.logTime,
                                 publishTime: UInt64(stamp), data: m.encoded())
            }
            n += 1
        }
        _ = try writer.finish()
    }
}
