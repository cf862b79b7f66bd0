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

    /// A camera that sends raw pixels (rgb8, bgr8, mono8) and JPEG frames: the raw frames become
    /// `foxglove.RawImage` on `/camera/raw` (encoding kept, step = width × bytes per pixel, the
    /// pixels unchanged), the JPEG ones `foxglove.CompressedImage` on `/camera`; nothing is
    /// skipped, and the bag passes Tools/foxglove_check.py (which also checks that every RawImage
    /// is drawable and that every topic has one schema).
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: TestSupport.python), "needs .venv"))
    func rawPixelCamerasExportAsRawImage() throws {
        let dir = try TestSupport.temporaryDirectory("foxglove-raw")
        defer { try? FileManager.default.removeItem(at: dir) }
        let jpegText = try TestSupport.run(TestSupport.python, ["-c", """
            import base64, io, sys
            from PIL import Image
            b = io.BytesIO(); Image.new("RGB", (32, 16), (10, 200, 30)).save(b, "JPEG"); print(base64.b64encode(b.getvalue()).decode())
            """])
        let jpeg = try #require(Data(base64Encoded: jpegText.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
        let input = dir.appendingPathComponent("raw.mcap").path
        let writer = try BagWriter(path: input)
        let schema = BagTopicSchema(name: MessageType.image.name, encoding: "jsonschema", data: Array(MessageType.image.jsonSchema.utf8))
        var generator = SystemRandomNumberGenerator()
        var sent: [Int64: Image] = [:]
        let frames: [(ImageEncoding, Int, Int)] = [(.rgb8, 7, 5), (.bgr8, 4, 3), (.mono8, 9, 2), (.jpeg, 32, 16), (.rgb8, 3, 1)]
        for (i, (encoding, width, height)) in frames.enumerated() {
            let stamp = Int64(1_650_000_000_000_000_000) + Int64(i) * 100_000_000
            let data = encoding == .jpeg ? Array(jpeg)
                : (0..<(width * height * (encoding.bytesPerPixel ?? 1))).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let image = Image(header: Header(stamp: stamp, seq: UInt32(i), frameID: "camera"), width: width, height: height, encoding: encoding, data: data)
            sent[stamp] = image
            try writer.write(topic: "sensor/camera", schema: schema, sequence: UInt32(i), logTime: UInt64(stamp), publishTime: UInt64(stamp),
                             data: image.encoded())
        }
        _ = try writer.finish()

        let out = dir.appendingPathComponent("foxglove.mcap").path
        let report = try FoxgloveExporter(options: FoxgloveExportOptions(input: input, output: out)).run()
        #expect(report.written[FoxgloveExporter.Topic.cameraRaw] == 4, "\(report.written)")
        #expect(report.written[FoxgloveExporter.Topic.camera] == 1, "\(report.written)")
        #expect(report.skipped.isEmpty, "\(report.skipped)")

        let reader = try BagReader(path: out)
        let cursor = try reader.messages()
        var checked = 0
        while let entry = try cursor.next() {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(entry.message.data)) as? [String: Any])
            let time = try #require(object["timestamp"] as? [String: Any])
            let sec = try #require(time["sec"] as? Int), nsec = try #require(time["nsec"] as? Int)
            let stamp = Int64(sec) * 1_000_000_000 + Int64(nsec)
            let image = try #require(sent[stamp])
            let text = try #require(object["data"] as? String)
            let pixels = try #require(Data(base64Encoded: text))
            #expect(Array(pixels) == Array(image.data), "stamp \(stamp): the bytes are unchanged")
            if image.encoding == .jpeg {
                #expect(entry.channel.topic == "/camera" && object["format"] as? String == "jpeg")
            } else {
                #expect(entry.channel.topic == "/camera/raw")
                #expect(object["encoding"] as? String == image.encoding.rawValue)
                #expect(object["width"] as? Int == image.width && object["height"] as? Int == image.height)
                #expect(object["step"] as? Int == image.width * (image.encoding.bytesPerPixel ?? 0))
            }
            checked += 1
        }
        #expect(checked == frames.count)
        let check = try TestSupport.runPython("foxglove_check.py", [out])
        #expect(check.status == 0, "\(check.stdout)\n\(check.stderr)")
        #expect(check.stdout.contains("\"/camera/raw rgb8\": 2") && check.stdout.contains("\"/camera/raw mono8\": 1"), "\(check.stdout)")

        // The check catches a RawImage whose data does not fill step × height.
        let broken = dir.appendingPathComponent("broken.mcap").path
        let bad = try BagWriter(path: broken)
        let rawSchema = try bad.addSchema(name: "foxglove.RawImage", encoding: "jsonschema", data: Array(FoxgloveSchemas.schema("foxglove.RawImage")!.utf8))
        let channel = try bad.addChannel(topic: "/camera/raw", messageEncoding: "json", schemaID: rawSchema)
        let short = #"{"timestamp":{"sec":1,"nsec":0},"frame_id":"camera","width":4,"height":2,"encoding":"rgb8","step":12,"data":"AAAA"}"#
        try bad.write(channelID: channel, sequence: 0, logTime: 1, publishTime: 1, data: Array(short.utf8))
        _ = try bad.finish()
        let failing = try TestSupport.runPython("foxglove_check.py", [broken])
        #expect(failing.status == 1 && failing.stdout.contains("data bytes, step"), "\(failing.stdout)")
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
