import Foundation
import Testing
import ForesightTestSupport
import ForesightBag
import ForesightBus
@testable import ForesightDaemon
import ForesightWire
import Logging

/// A launch file for rig tests: sensors at `rateHz`, on free ports.
struct RigLaunch {
    let input = TestSupport.freePort()
    let output = TestSupport.freePort()
    let metrics = TestSupport.freePort()
    let path: String
    let directory: URL

    var inputEndpoint: String { "tcp://127.0.0.1:\(input)" }
    var outputEndpoint: String { "tcp://127.0.0.1:\(output)" }

    /// 10 Hz: max interval 100 ms, deadline 200 ms, lower bound 85 ms (launch/sim.yaml);
    /// 30 Hz: the settings of launch/sim-30hz.yaml.
    init(rateHz: Int = 10, lowerBound: Bool = true, truth: Bool = false, silenceMs: Int = 1000) throws {
        directory = try TestSupport.temporaryDirectory("rig")
        path = directory.appendingPathComponent("launch.yaml").path
        let sync = rateHz == 30
            ? "max_interval_ms: 30\n  deadline_ms: 100\n  inter_message_lower_bound_ms: \(lowerBound ? 28 : 0)"
            : "max_interval_ms: 100\n  deadline_ms: 200\n  inter_message_lower_bound_ms: \(lowerBound ? 85 : 0)"
        let yaml = """
        name: rig
        site: \(TestSupport.path("Calibration/sim-site.yaml"))
        inputs:
          endpoints: [tcp://127.0.0.1:\(input)]
          buffer: 4096
        \(truth ? "  truth: [truth/ue]" : "")
        sync:
          \(sync)
          silence_ms: \(silenceMs)
        output:
          endpoint: tcp://127.0.0.1:\(output)
          diagnostics_period_ms: 250
        metrics:
          address: 127.0.0.1:\(metrics)
        log_level: error
        """
        try yaml.write(toFile: path, atomically: true, encoding: .utf8)
    }
}

/// One loadgen report (see Tools/loadgen.py).
struct RigReport {
    let json: [String: Any]

    init(_ stdout: String) throws {
        let line = try #require(stdout.split(separator: "\n").last(where: { $0.hasPrefix("{") }), "no report in: \(stdout)")
        json = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
    }

    func phase(_ name: String = "main") -> [String: Any] { (json["phases"] as? [String: Any])?[name] as? [String: Any] ?? [:] }
    /// Sets of `phase` that came out as exactly one frame of their own members.
    func exact(_ name: String = "main") -> Int { phase(name)["exact"] as? Int ?? -1 }
    /// Sets of `phase` whose own frame got a `predict/beam`.
    func predicted(_ name: String = "main") -> Int { phase(name)["predicted"] as? Int ?? -1 }
    func sets(_ name: String = "main") -> Int { phase(name)["sets"] as? Int ?? 0 }
    var mixed: Int { json["mixed_frames"] as? Int ?? -1 }
    /// Frames the daemon built but its preprocessing queue dropped (a starved process: counted
    /// by the daemon, not a synchronizer loss).
    var overloadDrops: Int { json["daemon_dropped_frames"] as? Int ?? 0 }
    var frames: Int { json["frames"] as? Int ?? -1 }
    var complete: Int { json["complete_frames"] as? Int ?? -1 }
    var summary: String {
        let keys = ["scenario", "frames", "complete_frames", "partial_frames", "mixed_frames", "daemon_dropped_frames", "phases", "latency_ms"]
        return keys.map { "\($0)=\(json[$0].map { "\($0)" } ?? "-")" }.joined(separator: " ")
    }
    /// Frames as (missing, members as "modality@stamp#seq"), in output order.
    var frameList: [[String]] {
        (json["frame_list"] as? [[String: Any]] ?? []).map { frame in
            ((frame["members"] as? [[Any]]) ?? []).map { "\($0[0])@\($0[1])#\($0[2])" }
        }
    }
}

/// Drives `foresight run` from outside with Tools/loadgen.py, as a rig would: bursts of
/// identical or staggered stamps, reversed arrival, jitter, pauses, dead sensors, replay speeds,
/// 30 Hz, malformed floods and junk topics — asserting behaviour counts, never timings.
@Suite(.serialized) struct RigTimingTests {
    /// Runs one scenario against a fresh daemon and returns the loadgen report.
    static func scenario(_ name: String, launch: RigLaunch = try! RigLaunch(), _ arguments: [String],
                         whileRunning: ((RigLaunch) throws -> Void)? = nil) throws -> RigReport {
        let daemon = try TestSupport.Child(TestSupport.foresightBinary, ["run", launch.path])
        defer { daemon.stop() }
        let run = try TestSupport.runPython("loadgen.py", ["--endpoint", launch.inputEndpoint, "--output", launch.outputEndpoint,
                                                           "--name", name] + arguments)
        #expect(run.status == 0, "loadgen failed: \(run.stderr)")
        try whileRunning?(launch)
        let report = try RigReport(run.stdout)
        print("rig scenario \(name): \(report.summary)")
        return report
    }

    /// Every set of a healthy stream comes out as one complete frame of exactly its own messages
    /// (≥ 99 %). On a machine so loaded that the daemon's preprocessing queue overflows, frames
    /// it dropped there (counted in its diagnostics) are not held against the synchronizer —
    /// but every frame that does come out must be exact, and most must come out.
    static func expectAllComplete(_ report: RigReport, minimumPercent: Double = 99, partial: Bool = false) {
        let sets = report.sets()
        #expect(sets > 0)
        #expect(Double(report.exact() + report.overloadDrops) >= Double(sets) * minimumPercent / 100, "\(report.summary)")
        #expect(report.exact() * 2 >= sets, "most sets lost: \(report.summary)")
        #expect(report.mixed == 0, "frames mixing two sets: \(report.summary)")
        #expect(report.frames == report.exact(), "extra or fragmented frames: \(report.summary)")
        #expect(report.complete == (partial ? 0 : report.exact()), "\(report.summary)")
        #expect(report.predicted() == report.exact(), "\(report.summary)")
    }

    @Test func identicalStampsInBurstsGiveCompleteFrames() throws {
        Self.expectAllComplete(try Self.scenario("identical", ["--sets", "40", "--stamps", "identical"]))
    }

    @Test func staggeredStampsInBurstsGiveCompleteFrames() throws {
        Self.expectAllComplete(try Self.scenario("staggered", ["--sets", "40", "--stamps", "staggered", "--stagger-ms", "60"]))
    }

    @Test func reversedArrivalAndJitterGiveCompleteFrames() throws {
        Self.expectAllComplete(try Self.scenario("reversed", ["--sets", "30", "--stamps", "staggered", "--order", "reversed"]))
        Self.expectAllComplete(try Self.scenario("jitter", ["--sets", "30", "--stamps", "staggered", "--order", "shuffled",
                                                            "--jitter-ms", "30"]))
    }

    /// Without the lower bound a set is proven optimal by the next period's messages: still complete.
    @Test func withoutALowerBoundSetsStillComeOutComplete() throws {
        Self.expectAllComplete(try Self.scenario("no-lower-bound", launch: try RigLaunch(lowerBound: false),
                                                 ["--sets", "30", "--stamps", "staggered"]))
    }

    /// A rig restarting (stamps follow the wall clock) and a paused replay (stamps continue):
    /// the first set after each pause, and every one after it, is a complete frame.
    @Test func pausesOfOneAndFiveSecondsLoseNoFrame() throws {
        let rig = try Self.scenario("pauses", ["--sets", "30", "--stamps", "staggered", "--pause", "10:1", "--pause", "20:5", "--members"])
        Self.expectAllComplete(rig)
        // The sets right after each pause (10 and 20) have frames of their own.
        let perSet = rig.json["per_set"] as? [[String: Any]] ?? []
        for index in [10, 20] { #expect(perSet.first { $0["set"] as? Int == index }?["frame"] is Int, "set \(index) after the pause") }
        Self.expectAllComplete(try Self.scenario("replay-pause", ["--sets", "20", "--stamps", "staggered", "--pause", "10:1.5",
                                                                  "--pause-replay"]))
    }

    @Test func replayAtHalfAndDoubleSpeed() throws {
        Self.expectAllComplete(try Self.scenario("speed-0.5", ["--sets", "20", "--stamps", "staggered", "--speed", "0.5"]))
        Self.expectAllComplete(try Self.scenario("speed-2", ["--sets", "40", "--stamps", "staggered", "--speed", "2"]))
    }

    @Test func thirtyHertzGivesCompleteFrames() throws {
        Self.expectAllComplete(try Self.scenario("30hz", launch: try RigLaunch(rateHz: 30),
                                                 ["--sets", "90", "--rate", "30", "--stamps", "staggered", "--stagger-ms", "20"]))
    }

    /// With sensors dead, every set of the live ones still becomes a frame of exactly its members
    /// (partial frames at the live rate, not a third of it).
    @Test func deadSensorsGivePartialFramesAtTheLiveRate() throws {
        for dead in ["lidar", "radar,gnss"] {
            let report = try Self.scenario("dead-\(dead)", ["--sets", "40", "--stamps", "staggered", "--dead", dead])
            Self.expectAllComplete(report, partial: true)  // "exact" = a frame of exactly the live members
        }
        // A sensor dying mid-stream: frames keep the live rate right after it.
        let dying = try Self.scenario("dies", ["--sets", "40", "--stamps", "identical", "--die", "camera@15"])
        #expect(Double(dying.exact() + dying.overloadDrops) >= 0.99 * Double(dying.sets()), "\(dying.summary)")
        #expect(dying.mixed == 0 && dying.frames == dying.exact(), "\(dying.summary)")
    }

    /// 90 % malformed or odd messages (bad MessagePack, wrong types, truncated JPEG, absurd
    /// sizes, junk topics, duplicate keys, stale and future stamps) around 10 % good sets.
    @Test func malformedFloodDoesNotPoisonGoodFrames() throws {
        let report = try Self.scenario("malformed", ["--sets", "50", "--after", "5", "--malformed", "0.9",
                                                     "--stamps", "staggered", "--camera", "96x64"])
        #expect(Double(report.predicted() + report.overloadDrops) >= 0.99 * Double(report.sets()), "\(report.summary)")
        #expect(report.predicted() * 2 >= report.sets(), "\(report.summary)")
        #expect(report.predicted("after") == 5, "good sets after the flood: \(report.summary)")
        #expect((report.json["messages_sent"] as? Int ?? 0) >= 2_000)
    }

    /// Junk topic names that pass the ZeroMQ prefix filter get no state of their own: one
    /// `unknown_topic` counter, diagnostics list only the configured sensors; and /healthz says
    /// unhealthy when every configured sensor is dead although truth and junk topics flow.
    @Test func junkTopicsGetOneCounterAndHealthzWatchesOnlySensors() async throws {
        let launch = try RigLaunch(truth: true, silenceMs: 400)
        let report = try Self.scenario("junk", launch: launch, ["--sets", "20", "--junk-topics", "300", "--truth"])
        let diagnostics = try #require(report.json["diagnostics"] as? [String: Any])
        let topics = Set(diagnostics["topics"] as? [String] ?? [])
        #expect(topics == Set(["sensor/camera", "sensor/radar", "sensor/lidar", "sensor/gnss", "sensor/beam_power"]))
        let rejections = diagnostics["rejections"] as? [String: Int] ?? [:]
        #expect(rejections.keys.filter { $0.hasSuffix("|unknown_topic") } == ["\(WireCounters.unknownTopicLabel)|unknown_topic"],
                "\(rejections.keys.sorted())")
        #expect(rejections["\(WireCounters.unknownTopicLabel)|unknown_topic"] ?? 0 >= 300)
        #expect(rejections.count <= 3, "\(rejections)")
        Self.expectAllComplete(report)

        // Every sensor dead, truth and junk still flowing: unhealthy. Asked while they flow.
        let dead = try RigLaunch(truth: true, silenceMs: 400)
        let daemon = try TestSupport.Child(TestSupport.foresightBinary, ["run", dead.path])
        defer { daemon.stop() }
        let loadgen = try TestSupport.Child.python("loadgen.py", ["--endpoint", dead.inputEndpoint, "--output", dead.outputEndpoint,
                                                                  "--name", "all-dead", "--sets", "80", "--dead", "all",
                                                                  "--junk-topics", "400", "--truth", "--drain", "0.2"])
        defer { loadgen.stop() }
        func healthz() throws -> String {
            try TestSupport.run("/usr/bin/curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}",
                                                  "http://127.0.0.1:\(dead.metrics)/healthz"]).stdout
        }
        try await Task.sleep(for: .seconds(5))  // daemon up, loadgen subscribed, 8 s of truth and junk under way
        let whileFlowing = try healthz()
        #expect(loadgen.process.isRunning, "the stream ended before /healthz was asked")
        #expect(whileFlowing == "503", "healthz answered \(whileFlowing) with every sensor dead")
        #expect(loadgen.wait(timeout: 30) == 0)
    }

    /// The live synchronizer's frames equal what the offline path builds from the same stream
    /// recorded beside the daemon (staggered stamps, jitter, a pause and a sensor that dies).
    @Test func liveFramesEqualTheOfflinePathOnTheRecordedStream() async throws {
        let launch = try RigLaunch()
        let bag = launch.directory.appendingPathComponent("stream.mcap").path
        let recorder = try TestSupport.Child(TestSupport.foresightBinary, ["record", launch.inputEndpoint, "-o", bag,
                                                                           "--topics", "^sensor/"])
        defer { recorder.stop() }
        let report = try Self.scenario("live-vs-offline", launch: launch,
                                       ["--sets", "40", "--stamps", "staggered", "--jitter-ms", "20", "--pause", "15:1",
                                        "--die", "gnss@25", "--members", "--also-wait", ""])
        recorder.process.interrupt()
        #expect(recorder.wait(timeout: 10) == 0)
        let live = report.frameList
        #expect(live.count >= 38, "\(report.summary)")

        let loaded = try LaunchFile.load(path: launch.path)
        let frames = Locked<[[String]]>([])
        let pipeline = try FusionPipeline(launch: loaded, predictor: try PredictorFactory.make(loaded),
                                          logger: Logger(label: "offline")) { event in
            guard case .publish(let topic, let payload) = event, topic == "fusion/frame",
                  let frame = try? FusionFrame.decode(payload) else { return }
            frames.withLock { $0.append(frame.members.map { "\($0.modality)@\($0.stamp)#\($0.seq)" }) }
        }
        let reader = try BagReader(path: bag)
        let source = BagSource(cursor: try reader.messages { $0.topic.hasPrefix("sensor/") }, progress: nil)
        await pipeline.runOffline(source)
        let offline = frames.current
        // Identical frames, in the same order. (Should the machine be so loaded that the daemon's
        // preprocessing queue overflowed, the frames it dropped there are missing from the live
        // list only: the live frames must then be the offline ones minus exactly that many.)
        #expect(offline.count == live.count + report.overloadDrops, "\(offline.count) offline, \(live.count) live, \(report.summary)")
        var cursor = offline.makeIterator()
        for (n, frame) in live.enumerated() {
            var skipped = 0
            var found = false
            while let next = cursor.next() {
                if next == frame { found = true; break }
                skipped += 1
                if skipped > report.overloadDrops { break }
            }
            if !found {
                Issue.record("live frame \(n) \(frame) is not the next offline frame")
                break
            }
        }
    }
}
