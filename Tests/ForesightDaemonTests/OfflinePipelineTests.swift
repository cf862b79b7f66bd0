import Foundation
import Logging
import Testing
import ForesightTestSupport
@testable import ForesightDaemon
import ForesightPredict
import ForesightPreprocess
import ForesightWire

/// The pipelined offline path (`foresight eval`, `foresight dataset`, `runOffline`): messages read
/// ahead on their own thread, frames preprocessed ahead of the one being predicted, predictors fed
/// without waiting for each other — and still exactly the frames, order and predictions of a
/// strictly serial run.
@Suite struct OfflinePipelineTests {
    /// 40 sets of the synthetic sensors at 10 Hz, made once so every run reads the same stamps.
    /// Every third set lacks the radar and every fifth the camera, so frames take unequal time in
    /// the front end (a later frame often finishes before an earlier one); a 2 s gap after the
    /// 20th starts a new segment.
    static let messages = stream()

    static func stream() -> [(frames: [[UInt8]], receiveTime: Int64)] {
        let start = wallClockNanoseconds() - 60_000_000_000
        var out: [(frames: [[UInt8]], receiveTime: Int64)] = []
        for i in 0..<40 {
            let stamp = start + Int64(i) * 100_000_000 + (i >= 20 ? 2_000_000_000 : 0)
            var skip: Set<String> = []
            if i % 3 == 1 { skip.insert("radar") }
            if i % 5 == 2 { skip.insert("camera") }
            for (topic, payload) in SyntheticSensors.messages(seq: UInt32(i), stamp: stamp, skip: skip) {
                out.append(([Array(topic.utf8), payload], stamp + 30_000_000))
            }
        }
        return out
    }

    /// What a frame is made of, without the wall-clock times of its header.
    struct FrameContent: Equatable {
        var seq: UInt64
        var stamp: Int64
        var missing: [Modality]
        var tensors: [Modality: PreprocessedTensor]
        var failures: [Modality: String]
        var lidarPoints: [SIMD3<Float>]?
        var beamPowerDBm: [Float]?

        init(_ frame: PreprocessedFrame) {
            seq = frame.seq
            stamp = frame.stamp
            missing = frame.header.missing.sorted { $0.rawValue < $1.rawValue }
            tensors = [:]
            failures = [:]
            for m in Modality.allCases {
                tensors[m] = frame.tensors[m]
                failures[m] = frame.failures[m].map { "\($0)" }
            }
            lidarPoints = frame.lidarPoints
            beamPowerDBm = frame.beamPowerDBm
        }
    }

    /// The frames `offer`/`drain` give to `body` with `lookahead` frames preprocessed ahead; `body`
    /// takes a little time on every other frame, so the front end does run ahead of it.
    static func frames(lookahead: Int) async throws -> [FrameContent] {
        let launch = try TestLaunch().configuration()
        let pipeline = try FusionPipeline(launch: launch, predictor: try PredictorFactory.make(launch), lookahead: lookahead,
                                          logger: Logger(label: "offline")) { _ in }
        var seen: [FrameContent] = []
        let body: (PreprocessedFrame) async -> Void = { frame in
            if frame.seq % 2 == 0 { try? await Task.sleep(for: .milliseconds(3)) }
            seen.append(FrameContent(frame))
        }
        for message in messages {
            await pipeline.offer(frames: message.frames, receiveTime: message.receiveTime, body)
        }
        await pipeline.drain(body)
        return seen
    }

    @Test func offerGivesEveryFrameInOrderExactlyAsTheSerialFrontEnd() async throws {
        let serial = try await Self.frames(lookahead: 0)
        #expect(serial.count >= 25, "\(serial.count) frames")
        #expect(Set(serial.map(\.missing)).count > 1, "frames with and without radar and camera")
        #expect(zip(serial, serial.dropFirst()).allSatisfy { $0.seq < $1.seq && $0.stamp < $1.stamp })
        for lookahead in [1, FusionPipeline.defaultLookahead, 5] {
            let pipelined = try await Self.frames(lookahead: lookahead)
            #expect(pipelined.map(\.seq) == serial.map(\.seq), "lookahead \(lookahead): frames out of order or missing")
            // (Compared as a Bool: the frames' tensors are too long to print on a failure.)
            let differing = zip(pipelined, serial).enumerated().filter { $0.element.0 != $0.element.1 }.map(\.offset)
            #expect(pipelined.count == serial.count && differing.isEmpty,
                    "lookahead \(lookahead): frames \(differing) differ from the serial run")
        }
    }

    /// The predictions `runOffline` publishes, with `lookahead` frames preprocessed ahead.
    static func predictions(lookahead: Int) async throws -> [PredictionSet] {
        let launch = try TestLaunch().configuration()
        let collected = Locked<[PredictionSet]>([])
        let pipeline = try FusionPipeline(launch: launch, predictor: try PredictorFactory.make(launch), lookahead: lookahead,
                                          logger: Logger(label: "offline")) { event in
            if case .prediction(let set, _) = event { collected.withLock { $0.append(set) } }
        }
        await pipeline.runOffline(lookahead == 0 ? AnySequence(messages) : AnySequence(Self.readAhead(messages)))
        return collected.current
    }

    /// `messages` through a ``ReadAhead`` (as `foresight eval` reads a bag).
    static func readAhead(_ messages: [(frames: [[UInt8]], receiveTime: Int64)]) -> ReadAhead<(frames: [[UInt8]], receiveTime: Int64)> {
        let cursor = Locked(0)
        return ReadAhead(name: "fs-test-read", capacity: 3) {
            cursor.withLock { i in
                guard i < messages.count else { return nil }
                defer { i += 1 }
                return messages[i]
            }
        }
    }

    @Test func runOfflinePredictsTheSameFramesAsASerialRun() async throws {
        let serial = try await Self.predictions(lookahead: 0)
        let pipelined = try await Self.predictions(lookahead: FusionPipeline.defaultLookahead)
        #expect(serial.count >= 25, "\(serial.count) predictions")
        let same = pipelined == serial
        let firstDifference = zip(pipelined, serial).enumerated().first { $0.element.0 != $0.element.1 }?.offset
        #expect(same, "\(pipelined.count) pipelined predictions, \(serial.count) serial; first difference at \(String(describing: firstDifference))")
    }

    @Test func readAheadHandsOverEveryItemInOrderAndStopsWhenFinishedEarly() async throws {
        let all = ReadAhead(name: "fs-test-read", capacity: 4) { [counter = Locked(0)] in
            counter.withLock { n -> Int? in
                guard n < 1000 else { return nil }
                defer { n += 1 }
                return n
            }
        }
        var got: [Int] = []
        while let n = all.next() {
            if n % 100 == 0 { try await Task.sleep(for: .milliseconds(2)) }  // a slower consumer now and then
            got.append(n)
        }
        all.finish()
        #expect(got == Array(0..<1000))

        // A consumer that stops early: the producer stops too, at most `capacity` + 1 items ahead.
        let produced = Locked(0)
        let early = ReadAhead(name: "fs-test-read", capacity: 4) {
            produced.withLock { n -> Int? in
                defer { n += 1 }
                return n
            }
        }
        #expect(early.next() == 0 && early.next() == 1)
        early.finish()
        #expect(produced.current <= 2 + 4 + 1)
    }

    /// `foresight eval` of two predictors with different front ends (the classical one at the
    /// default camera size, a learned model on a 32×32 camera) on a short simulated drive: the
    /// pipelined run gives exactly the scores and per-frame traces of the serial one. The pipelined
    /// classical front end computes only what the classical predictor reads (no camera, radar or
    /// depth image: `Pipelining.onlyReadInputs`), the serial one everything.
    @Test func comparativeEvaluationScoresEqualTheSerialRun() async throws {
        let model = try LearnedFixture.model(history: 3, future: 2)
        defer { try? FileManager.default.removeItem(at: model) }
        let classical = try TestLaunch().configuration()
        let learned = try LaunchFile.load(path: try LearnedFixture.launch(model: model, history: 3, horizon: 2).path)
        let entries = [ComparativeEvaluation.Entry(name: "classical", launch: classical),
                       ComparativeEvaluation.Entry(name: "learned", launch: learned),
                       ComparativeEvaluation.Entry(name: "classical -radar", launch: classical, dropped: [.radar])]
        let drives = [Drive.simulation(scenario: TestSupport.path("launch/scenarios/street.yaml"), seed: 5, duration: 3)]
        var logger = Logger(label: "eval")
        logger.logLevel = .error
        func scores(_ pipelining: ComparativeEvaluation.Pipelining) async throws -> (json: String, frames: [Int]) {
            var evaluation = try ComparativeEvaluation(entries: entries, logger: logger)
            evaluation.traces = true
            evaluation.pipelining = pipelining
            var result = try await evaluation.run(drives: drives)
            result.seconds = 0
            for i in result.predictors.indices {
                result.predictors[i].predictSeconds = 0
                result.predictors[i].framesPerSecond = nil
            }
            return (String(decoding: try result.json(), as: UTF8.self), result.predictors.map(\.frames))
        }
        let serial = try await scores(.serial)
        let pipelined = try await scores(.pipelined)
        #expect(serial.frames.allSatisfy { $0 >= 20 }, "\(serial.frames)")
        #expect(pipelined.frames == serial.frames)
        #expect(pipelined.json == serial.json)
    }

    /// What the classical predictor reads of a frame whose camera, radar and depth image were not
    /// computed (`PreprocessedFrame.unprocessed`): the LiDAR points and grid, GNSS and power as
    /// usual, nothing missing; a modality that is really absent is still missing.
    @Test func skippedModalitiesArePresentInThePredictorsView() throws {
        let launch = try TestLaunch().configuration()
        let builder = try ObservationBuilder(site: launch.site)
        #expect(PredictorFactory.modelInputs(launch) == [.gnss, .beamPower])
        let points: [SIMD3<Float>] = [SIMD3(1, 2, 0.5), SIMD3(3, 4, 1)]
        var frame = PreprocessedFrame(seq: 1, stamp: 100)
        frame.tensors[.gnss] = PreprocessedTensor(shape: [2], values: [5, 6])
        frame.tensors[.beamPower] = PreprocessedTensor(shape: [2], values: [0, 1])
        frame.beamPowerDBm = [-70, -60]
        frame.lidarPoints = points
        frame.unprocessed = [.camera, .radar, .lidar]
        let view = builder.observation(frame)
        #expect(view.missing.isEmpty)
        #expect(view.lidarPoints == points && view.lidarGrid != nil)
        #expect(view.gnss == SIMD2(5, 6) && view.beamPowerDBm == [-70, -60])
        #expect(view.camera == nil && view.radarMap == nil && view.lidarDepth == nil)

        frame.unprocessed = [.camera]
        frame.lidarPoints = nil
        #expect(builder.observation(frame).missing == [.radar, .lidar])
        #expect(PredictorFactory.modelInputs(try LaunchFile.load(path: TestSupport.path("launch/sim-learned.yaml"))) == Set(Modality.allCases))
    }
}
