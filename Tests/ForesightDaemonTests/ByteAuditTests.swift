import Foundation
import Logging
import Testing
import ForesightTestSupport
@testable import ForesightDaemon
import ForesightPredict
import ForesightSim
import ForesightSite
import ForesightWire

/// How often a camera message's and a radar cube's bytes are copied, and a JPEG parsed, on the way
/// from the received payload through ingest (IngestStage: wire decode and validation, synchronizer)
/// and the front end (FramePreprocessor: the JPEG decoder, the radar map). The socket's own copy
/// out of zmq (`BusContext.receive`) is the one copy before this path; here, nothing may copy the
/// image or the cube again and the header is parsed once, by the wire validation, whose result the
/// decoder reuses.
@Suite struct ByteAuditTests {
    @Test func cameraAndRadarBytesAreNotCopiedAfterTheSocketAndTheJPEGIsParsedOnce() async throws {
        #if DEBUG
        let launch = try TestLaunch().configuration()
        let scene = StaticScene(scenario: try Scenario.load(path: TestSupport.path("launch/scenarios/street.yaml")))
        let model = CameraModel(camera: launch.site.camera, scene: scene, quality: 85)
        let jpeg = try model.encodeJPEG(model.render(vehicles: []))
        let frames = 5
        let start = wallClockNanoseconds() - 60_000_000_000
        var stream: [(frames: [[UInt8]], receiveTime: Int64)] = []
        for i in 0..<frames {
            let stamp = start + Int64(i) * 100_000_000
            let image = Image(header: Header(stamp: stamp, seq: UInt32(i), frameID: "camera"), width: launch.site.camera.width,
                              height: launch.site.camera.height, encoding: .jpeg, data: jpeg)
            stream.append(([Array(launch.inputTopic(.camera).utf8), image.encoded()], stamp + 30_000_000))
            // Radar cubes, GNSS and beam power too (their decoding copies nothing either); LiDAR
            // clouds are still copied out of the payload (non-finite points are compacted in
            // place) and are left out of this count.
            for (topic, payload) in SyntheticSensors.messages(seq: UInt32(i), stamp: stamp, skip: ["camera", "lidar"]) {
                stream.append(([Array(topic.utf8), payload], stamp + 30_000_000))
            }
        }

        let audit = ByteAudit()
        let decoded = Locked(0), radarMaps = Locked(0)
        let pipeline = try FusionPipeline(launch: launch, predictor: try PredictorFactory.make(launch), logger: Logger(label: "audit")) { _ in }
        let size = 3 * launch.camera.width * launch.camera.height
        await ByteAudit.$current.withValue(audit) {
            for message in stream {
                await pipeline.offer(frames: message.frames, receiveTime: message.receiveTime) { frame in
                    if frame.tensors[.camera]?.values.count == size { decoded.withLock { $0 += 1 } }
                    if frame.tensors[.radar] != nil { radarMaps.withLock { $0 += 1 } }
                }
            }
            await pipeline.drain { frame in
                if frame.tensors[.camera]?.values.count == size { decoded.withLock { $0 += 1 } }
                if frame.tensors[.radar] != nil { radarMaps.withLock { $0 += 1 } }
            }
        }
        #expect(decoded.current == frames, "every camera message decoded into a tensor")
        #expect(radarMaps.current == frames, "every radar cube turned into a map")
        #expect(audit.count(.jpegHeaderParse) == frames, "one JPEG header parse per camera message")
        #expect(audit.count(.payloadCopy) == 0, "no payload bytes copied after the socket")
        #endif
    }
}
