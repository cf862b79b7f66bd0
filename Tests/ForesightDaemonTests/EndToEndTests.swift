import Foundation
import Testing
import ForesightTestSupport
import ForesightBus
@testable import ForesightDaemon
import ForesightSite
import ForesightWire

/// A launch file on free ports, written to a temporary folder.
struct TestLaunch {
    let input = TestSupport.freePort()
    let output = TestSupport.freePort()
    let metrics = TestSupport.freePort()
    let path: String
    let silenceMs: Int

    var inputEndpoint: String { "tcp://127.0.0.1:\(input)" }
    var outputEndpoint: String { "tcp://127.0.0.1:\(output)" }

    /// The same launch configuration built in code (no file read; `extra` is not applied).
    func configuration() throws -> LaunchFile {
        let ms: Int64 = 1_000_000
        let sitePath = TestSupport.path("Calibration/sim-site.yaml")
        return LaunchFile(name: "e2e", site: try Site.load(path: sitePath), sitePath: sitePath,
                          inputs: .init(endpoints: [inputEndpoint]),
                          sync: .init(maxInterval: 100 * ms, deadline: 200 * ms, silence: Int64(silenceMs) * ms, interMessageLowerBound: 85 * ms),
                          output: .init(endpoint: outputEndpoint, diagnosticsPeriod: 250 * ms),
                          metricsAddress: "127.0.0.1:\(metrics)", logLevel: "warning")
    }

    init(silenceMs: Int = 1000, extra: String = "") throws {
        self.silenceMs = silenceMs
        let dir = try TestSupport.temporaryDirectory("e2e")
        path = dir.appendingPathComponent("launch.yaml").path
        let yaml = """
        name: e2e
        site: \(TestSupport.path("Calibration/sim-site.yaml"))
        inputs:
          endpoints: [tcp://127.0.0.1:\(input)]
        sync:
          max_interval_ms: 100
          deadline_ms: 200
          silence_ms: \(silenceMs)
          inter_message_lower_bound_ms: 85
        output:
          endpoint: tcp://127.0.0.1:\(output)
          diagnostics_period_ms: 250
        metrics:
          address: 127.0.0.1:\(metrics)
        log_level: warning
        \(extra)
        """
        try yaml.write(toFile: path, atomically: true, encoding: .utf8)
    }
}

/// Small, valid messages of all five sensors, stamped with the wall clock.
enum SyntheticSensors {
    static let modalities = ["camera", "radar", "lidar", "gnss", "beam_power"]

    static func messages(seq: UInt32, stamp: Int64, skip: Set<String> = []) -> [(String, [UInt8])] {
        func h(_ frame: String, _ offset: Int64) -> Header { Header(stamp: stamp + offset, seq: seq, frameID: frame) }
        var out: [(String, [UInt8])] = []
        if !skip.contains("camera") {
            out.append(("sensor/camera", Image(header: h("camera", 0), width: 8, height: 6, encoding: .rgb8,
                                               data: [UInt8](repeating: UInt8(seq % 200), count: 8 * 6 * 3)).encoded()))
        }
        if !skip.contains("radar") {
            let samples = (0..<(4 * 16 * 8 * 2)).map { Float(($0 * 7 + Int(seq)) % 13) - 6 }
            out.append(("sensor/radar", RadarCube(header: h("radar", 5_000_000), rx: 4, samples: 16, chirps: 8, dtype: .cf32,
                                                  data: PackedArray.bytes(samples)).encoded()))
        }
        if !skip.contains("lidar") {
            let points = (0..<200).flatMap { i -> [Float] in [10 + Float(i % 20), Float(i / 20) - 5, 0.5, 1] }
            out.append(("sensor/lidar", PointCloud(header: h("lidar", 10_000_000), fields: ["x", "y", "z", "intensity"], values: points).encoded()))
        }
        if !skip.contains("gnss") {
            out.append(("sensor/gnss", GnssFix(header: h("ue_gnss", 15_000_000), lat: 33.420887 + Double(seq) * 1e-6, lon: -111.928835,
                                               alt: 360, hdop: 0.8, fix: .threeD).encoded()))
        }
        if !skip.contains("beam_power") {
            let power = (0..<64).map { Float(1e-9) * Float(1 + ($0 + Int(seq)) % 64) }
            out.append(("sensor/beam_power", BeamPower(header: h("mmwave", 20_000_000), power: power, unit: .mw).encoded()))
        }
        return out
    }
}

/// Collects everything published on an endpoint.
final class Collector: @unchecked Sendable {
    let subscriber: Subscriber
    private let messages = Locked<[(topic: String, payload: [UInt8])]>([])
    private var task: Task<Void, Never>?

    init(endpoint: String, topics: [String] = [""]) throws {
        var options = Subscriber.Options()
        options.topics = topics
        options.bufferCapacity = 100_000
        subscriber = try Subscriber(context: try BusContext(), endpoint: endpoint, options: options)
        let stream = subscriber.messages, messages = self.messages
        task = Task { for await m in stream { messages.withLock { $0.append((m.topic ?? "", m.payload)) } } }
    }

    var all: [(topic: String, payload: [UInt8])] { messages.current }

    func decoded<M: WireMessage>(_ type: M.Type) -> [M] {
        all.filter { $0.topic == M.messageType.defaultTopic }.compactMap { try? M.decode($0.payload) }
    }

    func stop() {
        subscriber.close()
    }
}

@Suite(.serialized) struct EndToEndTests {
    func startDaemon(_ launch: TestLaunch) throws -> TestSupport.Child {
        try TestSupport.Child(TestSupport.foresightBinary, ["run", launch.path])
    }

    @Test func simulatorToDaemonToPythonClientPredictsEveryFrame() async throws {
        let launch = try TestLaunch()
        let daemon = try startDaemon(launch)
        defer { daemon.stop() }
        try await Task.sleep(for: .milliseconds(800))
        let collector = try Collector(endpoint: launch.outputEndpoint)
        defer { collector.stop() }
        let client = try TestSupport.Child.python("examples/beam_controller.py", [launch.outputEndpoint, "--json"])
        defer { client.stop() }
        let validator = try TestSupport.Child.python("wire_interop.py", [
            "subscribe", launch.outputEndpoint, "--schemas", TestSupport.path("docs/schemas"), "--all", "--timeout", "60", "--idle", "3",
            "--expect", "predict/beam", "predict/position", "predict/power", "predict/blockage", "fusion/frame", "foresight/diagnostics",
        ])
        defer { validator.stop() }
        #expect(client.waitForLine { $0 == "ready" } != nil)
        #expect(validator.waitForLine { $0 == "ready" } != nil)
        try await Task.sleep(for: .milliseconds(500))

        let sim = try TestSupport.run(TestSupport.foresightBinary, ["sim", "--endpoint", launch.inputEndpoint, "--duration", "4", "--quiet"])
        #expect(sim.status == 0, "\(sim.stderr)")
        try await Task.sleep(for: .seconds(2))
        daemon.process.terminate()  // SIGTERM: drains and exits
        #expect(daemon.wait(timeout: 10) == 0)
        #expect(validator.wait(timeout: 15) == 0)

        let frames = collector.decoded(FusionFrame.self)
        let frameSeqs = Set(frames.map(\.header.seq))
        #expect(frameSeqs.count >= 20, "only \(frameSeqs.count) frames from 4 s of simulation")
        // The Python example client received a prediction for every frame.
        let predictions = client.output.compactMap { line -> [String: Any]? in
            guard line.hasPrefix("{") else { return nil }
            return try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
        }
        let predictedSeqs = Set(predictions.compactMap { ($0["seq"] as? NSNumber)?.uint32Value })
        #expect(predictedSeqs == frameSeqs)
        #expect(predictions.allSatisfy { $0["model"] as? String == "classical-ctrv" || ($0["model"] as? String)?.hasPrefix("classical-ctrv") == true })
        // Every output message is valid against the protocol's JSON Schemas (checked in Python) …
        let summaries = validator.output.compactMap { line -> [String: Any]? in
            guard line.hasPrefix("{") else { return nil }
            return try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
        }
        #expect(summaries.count == 6)
        for summary in summaries {
            #expect((summary["count"] as? Int ?? 0) > 0, "\(summary)")
            #expect(summary["invalid"] as? Int == 0, "\(summary)")
        }
        // … and against the protocol's own decoders.
        for (topic, payload) in collector.all where topic.hasPrefix("predict/") {
            guard let type = MessageType.forTopic(topic) else { Issue.record("unexpected topic \(topic)"); continue }
            #expect(throws: Never.self) { try type.decode(payload, topic: topic) }
        }
    }

    @Test func aDeadSensorGivesPartialFramesAndADiagnosticNotAStall() async throws {
        let launch = try TestLaunch(silenceMs: 600)
        let daemon = try startDaemon(launch)
        defer { daemon.stop() }
        var pubOptions = Publisher.Options()
        pubOptions.mode = .bind
        let publisher = try Publisher(context: try BusContext(), endpoint: launch.inputEndpoint, options: pubOptions)
        defer { publisher.close() }
        let collector = try Collector(endpoint: launch.outputEndpoint, topics: ["fusion/frame", "foresight/diagnostics"])
        defer { collector.stop() }
        try await Task.sleep(for: .milliseconds(1000))

        // 4 s at 10 Hz, the LiDAR dies after 1.5 s. Paced on absolute deadlines from its own thread: on the
        // cooperative pool a loaded test run can stall the publisher long enough for every sensor to look silent.
        let start = wallClockNanoseconds()
        let done = DispatchSemaphore(value: 0)
        let feed = Thread {
            let began = DispatchTime.now().uptimeNanoseconds
            for i in 0..<40 {
                let stamp = start + Int64(i) * 100_000_000
                for (topic, payload) in SyntheticSensors.messages(seq: UInt32(i), stamp: stamp, skip: i >= 15 ? ["lidar"] : []) {
                    publisher.send(topic: topic, payload: payload)
                }
                let next = began + UInt64(i + 1) * 100_000_000
                let now = DispatchTime.now().uptimeNanoseconds
                if next > now { usleep(UInt32((next - now) / 1000)) }
            }
            done.signal()
        }
        feed.start()
        while done.wait(timeout: .now()) == .timedOut { try await Task.sleep(for: .milliseconds(50)) }
        try await Task.sleep(for: .milliseconds(800))

        let frames = collector.decoded(FusionFrame.self)
        let complete = frames.filter { $0.missing.isEmpty }
        let withoutLidar = frames.filter { $0.missing.contains("lidar") }
        #expect(complete.count >= 5, "\(frames.count) frames, \(complete.count) complete")
        // Frames keep flowing without the LiDAR (at the deadline), right up to the end of the stream.
        #expect(withoutLidar.count >= 5, "partial frames without the lidar: \(withoutLidar.count); missing lists: \(frames.map(\.missing))")
        let lastStamp = frames.map(\.header.stamp).max() ?? 0
        #expect(lastStamp >= start + 3_000_000_000, "output stalled: last frame \(Double(lastStamp - start) / 1e9) s into a 4 s stream")
        #expect(withoutLidar.allSatisfy { f in !f.members.contains { $0.modality == "lidar" } })
        // While the other sensors still ran, diagnostics reported the LiDAR dead and the rest alive.
        let diagnostics = collector.decoded(Diagnostics.self)
        #expect(diagnostics.count >= 5)
        let reported = diagnostics.contains { d in
            let alive = Dictionary(d.topics.map { ($0.topic, $0.alive) }, uniquingKeysWith: { a, _ in a })
            return alive["sensor/lidar"] == false && alive["sensor/camera"] == true && alive["sensor/gnss"] == true
        }
        #expect(reported, "no diagnostics message showed the LiDAR dead while the others were alive: \(diagnostics.map { d in d.topics.map { "\($0.topic)=\($0.alive)" }.joined(separator: " ") })")
        daemon.process.terminate()
        #expect(daemon.wait(timeout: 10) == 0)
    }

    @Test func sigtermUnderLoadExitsCleanlyWithinTwoSecondsAndClosesSockets() async throws {
        let launch = try TestLaunch()
        let daemon = try startDaemon(launch)
        defer { daemon.stop() }
        var pubOptions = Publisher.Options()
        pubOptions.mode = .bind
        let publisher = try Publisher(context: try BusContext(), endpoint: launch.inputEndpoint, options: pubOptions)
        try await Task.sleep(for: .milliseconds(800))
        // Load: 5 sensors at 100 Hz.
        let start = wallClockNanoseconds()
        let load = Task {
            var i: UInt32 = 0
            while !Task.isCancelled {
                for (topic, payload) in SyntheticSensors.messages(seq: i, stamp: start + Int64(i) * 10_000_000) {
                    publisher.send(topic: topic, payload: payload)
                }
                i += 1
                try? await Task.sleep(for: .milliseconds(10))
            }
        }
        try await Task.sleep(for: .seconds(2))
        let signalled = Date()
        daemon.process.terminate()
        let status = daemon.wait(timeout: 10)
        let took = Date().timeIntervalSince(signalled)
        load.cancel()
        _ = await load.value
        publisher.close()
        #expect(status == 0)
        #expect(took < 2.0, "exit took \(took) s after SIGTERM")
        // Every socket is closed: the output endpoint and the metrics port can be bound again.
        var options = Publisher.Options()
        options.mode = .bind
        let rebound = try Publisher(context: try BusContext(), endpoint: launch.outputEndpoint, options: options)
        rebound.close()
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = UInt16(launch.metrics).bigEndian
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        #expect(bound == 0, "the metrics port is still held after exit")
    }

    @Test func classicalPredictorBeatsChanceOnASimulatedBag() throws {
        let dir = try TestSupport.temporaryDirectory("eval")
        let bag = dir.appendingPathComponent("drive.mcap").path
        let scores = dir.appendingPathComponent("scores.json").path
        defer { try? FileManager.default.removeItem(at: dir) }
        let sim = try TestSupport.run(TestSupport.foresightBinary, ["sim", "--bag", bag, "--duration", "20", "--compression", "lz4", "--quiet"])
        #expect(sim.status == 0, "\(sim.stderr)")
        let eval = try TestSupport.run(TestSupport.foresightBinary, ["eval", bag, "--launch", TestSupport.path("launch/sim.yaml"), "--json", scores])
        #expect(eval.status == 0, "\(eval.stderr)")
        let result = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: scores))) as? [String: Any])
        let predictors = try #require(result["predictors"] as? [[String: Any]])
        #expect(predictors.count == 1 && predictors.first?["name"] as? String == "sim")
        let report = try #require(predictors.first?["overall"] as? [String: Any])
        let overall = try #require(report["overall"] as? [String: Any])
        let top3 = try #require(overall["top3"] as? Double)
        let top1 = try #require(overall["top1"] as? Double)
        let samples = try #require(overall["beamSamples"] as? Int)
        // Chance over a 64-beam codebook is 1/64 (top-1) and 3/64 ≈ 0.047 (top-3).
        #expect(samples >= 500)
        #expect(top3 > 0.5, "top-3 \(top3)")
        #expect(top1 > 0.2, "top-1 \(top1)")
        let ade = try #require(report["adeM"] as? Double)
        #expect(ade < 10, "ADE \(ade) m")
    }

    @Test func preprocessWritesWhatTheModelSees() throws {
        let dir = try TestSupport.temporaryDirectory("preprocess")
        defer { try? FileManager.default.removeItem(at: dir) }
        let bag = dir.appendingPathComponent("short.mcap").path
        let out = dir.appendingPathComponent("frame").path
        let sim = try TestSupport.run(TestSupport.foresightBinary, ["sim", "--bag", bag, "--duration", "2", "--compression", "none", "--quiet"])
        #expect(sim.status == 0, "\(sim.stderr)")
        let run = try TestSupport.run(TestSupport.foresightBinary, ["preprocess", bag, "--index", "5", "--out", out,
                                                                    "--launch", TestSupport.path("launch/sim.yaml")])
        #expect(run.status == 0, "\(run.stderr)")
        // NumPy reads every tensor with the documented shape.
        let check = try TestSupport.run(TestSupport.python, ["-c", """
            import json, sys, numpy as np
            d = sys.argv[1]
            shapes = {n: list(np.load(f"{d}/{n}.npy").shape) for n in ["camera", "radar", "lidar", "gnss", "beam_power"]}
            cam = np.load(f"{d}/camera.npy"); bp = np.load(f"{d}/beam_power.npy")
            frame = json.load(open(f"{d}/frame.json"))
            print(json.dumps({"shapes": shapes, "finite": bool(np.isfinite(cam).all()), "bp_max": float(bp.max()),
                              "frame_index": frame["frame_index"], "members": len(frame["members"]), "missing": frame["missing"]}))
            """, out])
        #expect(check.status == 0, "\(check.stderr)")
        let result = try #require(try JSONSerialization.jsonObject(with: Data(check.stdout.utf8)) as? [String: Any])
        let shapes = try #require(result["shapes"] as? [String: [Int]])
        #expect(shapes["camera"] == [3, 224, 224] && shapes["lidar"] == [64, 256] && shapes["radar"] == [64, 256])
        #expect(shapes["gnss"] == [2] && shapes["beam_power"] == [64])
        #expect(result["finite"] as? Bool == true && result["frame_index"] as? Int == 5)
        #expect((result["members"] as? Int ?? 0) + ((result["missing"] as? [String])?.count ?? 9) == 5)
        #expect((result["bp_max"] as? Double ?? 0) < 0)  // dBm of a received mmWave power
        for picture in ["camera.png", "radar.png", "lidar.png"] {
            let bytes = try Data(contentsOf: URL(fileURLWithPath: out).appendingPathComponent(picture))
            #expect(bytes.prefix(8) == Data([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))
        }
        let missing = try TestSupport.run(TestSupport.foresightBinary, ["preprocess", bag, "--index", "100000", "--out", out])
        #expect(missing.status != 0 && missing.stderr.contains("only"))
    }
}
