import Foundation
import Testing
import ForesightTestSupport
@testable import ForesightDaemon
import ForesightSite
import ForesightWire
import Logging

@Suite(.serialized) struct FoxgloveLiveTests {
    /// `foresight run` fed by `foresight sim`, watched by a Python Foxglove WebSocket client
    /// (the `websockets` package): serverInfo and advertise arrive, subscriptions are honoured,
    /// every message decodes and matches the `foxglove-schemas-protobuf` descriptors or its
    /// advertised JSON Schema; a second viewer that never reads loses its own messages (counted
    /// on /metrics) while the first viewer and the pipeline carry on (Tools/foxglove_live_check.py).
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: TestSupport.python)
                   && FileManager.default.isExecutableFile(atPath: TestSupport.foresightBinary), "needs .venv and the foresight executable"))
    func liveViewSpeaksFoxgloveAndAStalledViewerHoldsUpNobody() throws {
        let port = TestSupport.freePort()
        let launch = try TestLaunch(extra: "foxglove:\n  address: 127.0.0.1:\(port)\n  viewer_queue: 4")
        let daemon = try TestSupport.Child(TestSupport.foresightBinary, ["run", launch.path])
        defer { daemon.stop() }
        let check = try TestSupport.runPython("foxglove_live_check.py", [
            "--url", "ws://127.0.0.1:\(port)", "--metrics", "http://127.0.0.1:\(launch.metrics)/metrics",
            "--foresight", TestSupport.foresightBinary, "--input", launch.inputEndpoint, "--timeout", "150",
            "--layout", TestSupport.path("Tools/foxglove/foresight-layout.json"),
        ])
        #expect(check.status == 0, "\(check.stdout)\n\(check.stderr)")
        for name in ["foxglove.CompressedImage", "foxglove.PointCloud", "foxglove.LocationFix", "foxglove.SceneUpdate",
                     "foxglove.RawImage", "foxglove.FrameTransforms"] {
            #expect(check.stdout.contains("\"\(name)\""), "\(name) checked")
        }
        daemon.process.terminate()  // SIGTERM with a viewer gone: drains and exits
        #expect(daemon.wait(timeout: 15) == 0)
    }

    /// A raw-pixel camera on the daemon's input (published by the check itself: rgb8, bgr8, mono8)
    /// reaches a Foxglove viewer as `foxglove.RawImage` on `/camera/raw` with the same encoding,
    /// step and pixels; `/camera` (CompressedImage) gets none of it (Tools/foxglove_live_check.py --raw-camera).
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: TestSupport.python)
                   && FileManager.default.isExecutableFile(atPath: TestSupport.foresightBinary), "needs .venv and the foresight executable"))
    func rawPixelCameraReachesViewersAsRawImage() throws {
        let port = TestSupport.freePort()
        let launch = try TestLaunch(extra: "foxglove:\n  address: 127.0.0.1:\(port)")
        let daemon = try TestSupport.Child(TestSupport.foresightBinary, ["run", launch.path])
        defer { daemon.stop() }
        let check = try TestSupport.runPython("foxglove_live_check.py", [
            "--url", "ws://127.0.0.1:\(port)", "--metrics", "http://127.0.0.1:\(launch.metrics)/metrics",
            "--foresight", TestSupport.foresightBinary, "--input", launch.inputEndpoint, "--timeout", "90", "--raw-camera",
        ])
        #expect(check.status == 0, "\(check.stdout)\n\(check.stderr)")
        for encoding in ["rgb8", "bgr8", "mono8"] { #expect(check.stdout.contains("\"\(encoding)\""), "\(encoding) verified") }
        daemon.process.terminate()
        #expect(daemon.wait(timeout: 15) == 0)
    }

    /// The launch key: absent is off; present takes loopback defaults; a bad address names its key.
    @Test func theLaunchKeyIsOffUnlessGiven() throws {
        let base = """
        site: \(TestSupport.path("Calibration/sim-site.yaml"))
        inputs: {endpoints: [tcp://127.0.0.1:1]}
        output: {endpoint: tcp://127.0.0.1:2}
        """
        let dir = try TestSupport.temporaryDirectory("foxglove-launch")
        defer { try? FileManager.default.removeItem(at: dir) }
        func load(_ extra: String) throws -> LaunchFile {
            let path = dir.appendingPathComponent("l\(abs(extra.hashValue)).yaml").path
            try (base + "\n" + extra).write(toFile: path, atomically: true, encoding: .utf8)
            return try LaunchFile.load(path: path)
        }
        #expect(try load("").foxglove == nil)
        let on = try load("foxglove: {}")
        #expect(on.foxglove?.address == "127.0.0.1:8765")
        #expect(try load("foxglove: {address: 0.0.0.0:9000, viewer_queue: 8}").foxglove?.viewerQueue == 8)
        do {
            _ = try load("foxglove: {address: nowhere}")
            Issue.record("a bad address was accepted")
        } catch {
            #expect("\(error)".contains("foxglove.address"))
        }
        // The built-in example keeps the live view off.
        #expect(try LaunchFile.load(path: TestSupport.path("launch/sim.yaml")).foxglove == nil)
    }

    /// The advertised channels follow the launch file's topics (site and output prefixes), and a
    /// topic nobody watches costs nothing: `offer` returns without queuing.
    @Test func channelsFollowTheLaunchTopics() throws {
        let dir = try TestSupport.temporaryDirectory("foxglove-channels")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("l.yaml").path
        try """
        site: \(TestSupport.path("Calibration/sim-site.yaml"))
        prefix: "bs1/"
        inputs: {endpoints: [tcp://127.0.0.1:1], topics: {camera: cam0/jpeg}, truth: [truth/beam]}
        output: {endpoint: tcp://127.0.0.1:2, prefix: "out/"}
        foxglove: {}
        """.write(toFile: path, atomically: true, encoding: .utf8)
        let launch = try LaunchFile.load(path: path)
        let live = try FoxgloveLiveView(settings: try #require(launch.foxglove), launch: launch, logger: Logger(label: "test"))
        let topics = Set(live.channels.map(\.spec.topic))
        for topic in ["/camera", "/lidar", "/gnss", "/radar/range_angle", "/scene", "/tf", "/predict/position_fix",
                      "/out/predict/beam", "/out/foresight/diagnostics", "/bs1/truth/beam", "/bs1/sensor/gnss"] {
            #expect(topics.contains(topic), "\(topic) in \(topics.sorted())")
        }
        let camera = try #require(live.channels.first { $0.spec.topic == "/camera" })
        #expect(camera.inputs == ["bs1/cam0/jpeg"] && camera.spec.schemaName == "foxglove.CompressedImage")
        let raw = try #require(live.channels.first { $0.spec.topic == "/camera/raw" })
        #expect(raw.inputs == ["bs1/cam0/jpeg"] && raw.spec.schemaName == "foxglove.RawImage")
        let scene = try #require(live.channels.first { $0.spec.topic == "/scene" })
        #expect(scene.inputs.isSuperset(of: ["bs1/sensor/gnss", "out/predict/position", "bs1/truth/beam"]))
        #expect(Set(live.channels.map(\.id)).count == live.channels.count)
        // Nobody subscribed: nothing is queued or encoded.
        live.offer(topic: "bs1/cam0/jpeg", payload: [1, 2, 3], receiveTime: 1)
        #expect(live.metricsText().contains("foresight_foxglove_messages_dropped_total{reason=\"encoder_busy\"} 0"))
        #expect(live.metricsText().contains("foresight_foxglove_messages_encoded_total 0"))
    }
}
