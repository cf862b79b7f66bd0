import Foundation
import Logging
import Testing
import ForesightTestSupport
import ForesightBus
@testable import ForesightDaemon
import ForesightPredict
import ForesightWire

/// A predictor that records what it is given: every window's frame stamps and every reset; it
/// answers with `inner` or, without one, throws.
struct ProbePredictor: Predictor {
    struct Refused: Error, CustomStringConvertible {
        var description: String { "the probe refuses every frame" }
    }
    let model: String
    let inner: (any Predictor)?
    let windows = Locked<[[Int64]]>([])
    let resets = Locked(0)

    func predict(history: [FrameView], horizon: [Int64]) async throws -> PredictionSet {
        windows.withLock { $0.append(history.map(\.stamp)) }
        guard let inner else { throw Refused() }
        var set = try await inner.predict(history: history, horizon: horizon)
        set.model = model
        return set
    }

    func reset() async { resets.withLock { $0 += 1 } }
}

/// What an offline pipeline run produced.
struct CompareRun {
    var predictions: [PredictionSet] = []
    var references: [PredictionSet] = []
    var publishedBeamModels: [String] = []
    var referenceFailures: Int64 = 0
}

/// `foresight run --compare`: the reference predictor beside the published one.
@Suite struct ReferencePredictorTests {
    /// 30 frames of the synthetic sensors at 10 Hz with a 2 s gap after the 15th (a new segment).
    static func stream() -> [(frames: [[UInt8]], receiveTime: Int64)] {
        let start = wallClockNanoseconds() - 60_000_000_000
        var out: [(frames: [[UInt8]], receiveTime: Int64)] = []
        for i in 0..<30 {
            let stamp = start + Int64(i) * 100_000_000 + (i >= 15 ? 2_000_000_000 : 0)
            for (topic, payload) in SyntheticSensors.messages(seq: UInt32(i), stamp: stamp) {
                out.append(([Array(topic.utf8), payload], stamp + 30_000_000))
            }
        }
        return out
    }

    static func run(primary: any Predictor, reference: any Predictor) async throws -> CompareRun {
        let launch = try TestLaunch().configuration()
        let collected = Locked(CompareRun())
        var logger = Logger(label: "compare")
        logger.logLevel = .error  // the failing reference's warnings are expected
        let pipeline = try FusionPipeline(launch: launch, predictor: primary, reference: reference, logger: logger) { event in
            collected.withLock { run in
                switch event {
                case .prediction(let set, _): run.predictions.append(set)
                case .reference(let set, _): run.references.append(set)
                case .publish(let topic, let payload):
                    if topic == "predict/beam", let beam = try? BeamPrediction.decode(payload) { run.publishedBeamModels.append(beam.model) }
                case .truth: break
                }
            }
        }
        await pipeline.runOffline(stream())
        var result = collected.current
        result.referenceFailures = pipeline.stats.counter(.failedReferencePredictions)
        return result
    }

    @Test func aFailingReferenceNeverStopsThePrimaryPredictions() async throws {
        let launch = try TestLaunch().configuration()
        let primary = ProbePredictor(model: "primary-probe", inner: try PredictorFactory.make(launch))
        let failing = ProbePredictor(model: "failing-reference", inner: nil)
        let run = try await Self.run(primary: primary, reference: failing)

        // Every frame predicted and published by the primary; the reference failed on each, counted.
        #expect(run.predictions.count == 30)
        #expect(run.publishedBeamModels.count == 30)
        #expect(run.publishedBeamModels.allSatisfy { $0 == "primary-probe" })
        #expect(run.references.isEmpty)
        #expect(run.referenceFailures == 30)
        // Same windows, reset at the same segment start (the 2 s gap).
        #expect(primary.windows.current == failing.windows.current)
        #expect(primary.resets.current == 1 && failing.resets.current == 1)
    }

    @Test func aWorkingReferenceReachesTheObserverOnlyWithTheSameWindows() async throws {
        var launch = try TestLaunch().configuration()
        launch.predictor.kind = "persistence"
        let primary = ProbePredictor(model: "primary-probe", inner: try PredictorFactory.make(launch))
        let reference = ProbePredictor(model: "classical-probe", inner: try PredictorFactory.makeReference(kind: "classical-ctrv", launch: launch))
        let run = try await Self.run(primary: primary, reference: reference)

        #expect(run.predictions.count == 30)
        #expect(run.references.count == 30)
        #expect(run.references.allSatisfy { $0.model == "classical-probe" })
        #expect(zip(run.predictions, run.references).allSatisfy { $0.horizon == $1.horizon })
        #expect(run.publishedBeamModels.count == 30 && run.publishedBeamModels.allSatisfy { $0 == "primary-probe" })
        #expect(run.referenceFailures == 0)
        #expect(primary.windows.current == reference.windows.current)
    }

    @Test func referenceKindsAreTheWindowPredictorsAndDifferFromThePrimary() throws {
        let launch = try TestLaunch().configuration()  // classical-ctrv
        #expect(try PredictorFactory.makeReference(kind: "persistence", launch: launch).model.hasPrefix("persistence"))
        #expect { _ = try PredictorFactory.makeReference(kind: "classical-ctrv", launch: launch) } throws: {
            "\($0)".contains("already classical-ctrv") && "\($0)".contains("--compare persistence")
        }
        #expect { _ = try PredictorFactory.makeReference(kind: "learned", launch: launch) } throws: {
            "\($0)".contains("classical-ctrv, persistence")
        }
    }
}

extension EndToEndTests {
    /// `foresight run --compare` through the real sockets, fed by `foresight sim`.
    @Suite(.serialized) struct CompareEndToEndTests {
        @Test func theRunSummaryScoresBothPredictorsAndOnlyThePrimaryIsPublished() async throws {
            let input = TestSupport.freePort(), output = TestSupport.freePort()
            let dir = try TestSupport.temporaryDirectory("compare")
            defer { try? FileManager.default.removeItem(at: dir) }
            let path = dir.appendingPathComponent("launch.yaml").path
            try """
            name: compare
            site: \(TestSupport.path("Calibration/sim-site.yaml"))
            inputs:
              endpoints: [tcp://127.0.0.1:\(input)]
              truth: [truth/ue, truth/beam, truth/blockage]
            sync:
              max_interval_ms: 100
              deadline_ms: 200
              inter_message_lower_bound_ms: 85
            predictor:
              kind: persistence
            output:
              endpoint: tcp://127.0.0.1:\(output)
            metrics:
              enabled: false
            log_level: warning
            """.write(toFile: path, atomically: true, encoding: .utf8)

            // A bad kind is refused before anything runs.
            let refused = try TestSupport.run(TestSupport.foresightBinary, ["run", path, "--compare", "gru"])
            #expect(refused.status != 0)
            #expect(refused.stderr.contains("classical-ctrv, persistence"), "\(refused.stderr)")
            let check = try TestSupport.run(TestSupport.foresightBinary, ["run", path, "--compare", "classical-ctrv", "--check"])
            #expect(check.status == 0, "\(check.stderr)")
            #expect(check.stdout.contains("ready to run persistence beside the reference classical-ctrv"), "\(check.stdout)")

            // Stopped with SIGTERM once the simulator is done (a fixed --duration raced a slow debug simulator under a
            // loaded test run: the daemon had exited before the first frame arrived); the summary follows the drain.
            let daemon = try TestSupport.Child(TestSupport.foresightBinary, ["run", path, "--view", "--compare", "classical-ctrv"])
            defer { daemon.stop() }
            try await Task.sleep(for: .milliseconds(1500))
            let collector = try Collector(endpoint: "tcp://127.0.0.1:\(output)", topics: ["fusion/frame", "predict/"])
            defer { collector.stop() }
            try await Task.sleep(for: .milliseconds(500))
            let sim = try TestSupport.run(TestSupport.foresightBinary, ["sim", "--endpoint", "tcp://127.0.0.1:\(input)", "--duration", "4", "--quiet"])
            #expect(sim.status == 0, "\(sim.stderr)")
            try await Task.sleep(for: .seconds(2))
            daemon.process.terminate()
            #expect(daemon.wait(timeout: 40) == 0)

            // Only the primary predictor is on the wire, for every frame.
            let frames = Set(collector.decoded(FusionFrame.self).map(\.header.seq))
            let beams = collector.decoded(BeamPrediction.self)
            // (A loaded debug run can drop frames before the predictor stage; those are not published at all.)
            #expect(frames.count >= 5, "only \(frames.count) frames from 4 s of simulation")
            #expect(Set(beams.map(\.header.seq)) == frames)
            #expect(beams.allSatisfy { $0.model.hasPrefix("persistence") }, "\(Set(beams.map(\.model)))")
            #expect(collector.decoded(PositionPrediction.self).allSatisfy { $0.model.hasPrefix("persistence") })

            // The summary holds both score tables and the one-line comparison.
            let text = daemon.output.joined(separator: "\n")
            #expect(text.contains("== \(beams.count) frames predicted"), "\(text)")
            #expect(text.contains("== published persistence"), "\(text)")
            #expect(text.contains("== reference classical-ctrv (--compare classical-ctrv; not published)"), "\(text)")
            let tables = daemon.output.filter { $0.hasPrefix("models: ") }
            #expect(tables.count == 2, "\(tables)")
            #expect(tables.first?.hasPrefix("models: persistence") == true && tables.last?.hasPrefix("models: classical-ctrv") == true, "\(tables)")
            #expect(daemon.output.contains { $0.hasPrefix("persistence − classical-ctrv on the ") && $0.contains("top-1 ") && $0.contains("ADE ") }, "\(text)")
            // The live view showed both side by side.
            #expect(text.contains("side by side: frame"), "\(text)")
        }
    }
}
