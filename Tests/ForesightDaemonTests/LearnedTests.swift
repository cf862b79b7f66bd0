import Foundation
import Testing
import ForesightTestSupport
import ForesightBus
@testable import ForesightDaemon
import ForesightInference
import ForesightPredict
import ForesightSim
import ForesightBag
import ForesightWire

/// A random-weight model folder shaped for the simulated site with a 32×32 camera input.
enum LearnedFixture {
    /// A small random model (history 3, future 2) in a temporary folder, its launch file and the
    /// predictor loaded from it; the caller removes the folder and shuts the predictor down.
    static func loaded() throws -> (model: URL, launch: LaunchFile, predictor: LearnedPredictor) {
        let model = try self.model(history: 3, future: 2)
        do {
            let launch = try LaunchFile.load(path: try self.launch(model: model, history: 3, horizon: 2).path)
            return (model, launch, try LearnedPredictor.load(launch: launch))
        } catch {
            try? FileManager.default.removeItem(at: model)
            throw error
        }
    }

    /// The launch-file lines of the 32×32 camera front end.
    static let preprocess = """
    preprocess:
      camera: {width: 32, height: 32}
    """

    static func config(history: Int = 8, future: Int = 5) -> ModelConfig {
        var c = ModelConfig()
        c.dModel = 32
        c.heads = 2
        c.encoderLayers = 1
        c.predictorLayers = 1
        c.headHidden = 32
        c.history = history
        c.future = future
        c.vision = CNNConfig(inChannels: 3, height: 32, width: 32, convs: [
            ConvSpec(outChannels: 8, kernel: 5, stride: 2, padding: 2), ConvSpec(outChannels: 16, kernel: 3, stride: 2, padding: 1),
        ], pool: PoolSpec(kernel: [3, 3], stride: [2, 2]))
        let map = CNNConfig(inChannels: 1, height: 64, width: 256, convs: [
            ConvSpec(outChannels: 8, kernel: 3, stride: 2, padding: 1), ConvSpec(outChannels: 16, kernel: 3, stride: 2, padding: 1),
        ], pool: PoolSpec(kernel: [4, 16], stride: [4, 16]))
        c.radar = map
        c.lidar = map
        return c
    }

    /// The preprocessing version of the 32×32 camera front end at the simulated site.
    static func preprocessingVersion() throws -> String {
        let launch = try TestLaunch(extra: preprocess)
        return try LaunchFile.load(path: launch.path).preprocessingVersion()
    }

    /// Writes config.json (with `preprocessing_version` and `step_ms`) and random weights into a new folder.
    static func model(history: Int = 8, future: Int = 5, version: String? = nil, weights: Bool = true) throws -> URL {
        let dir = try TestSupport.temporaryDirectory("model")
        let config = config(history: history, future: future)
        var json = try #require(try JSONSerialization.jsonObject(with: config.encodedJSON()) as? [String: Any])
        json["preprocessing_version"] = try version ?? preprocessingVersion()
        json["step_ms"] = 100
        try JSONSerialization.data(withJSONObject: json).write(to: dir.appendingPathComponent("config.json"))
        if weights {
            try SafeTensors.encode(try MultiTaskModel.randomWeights(config: config, seed: 3)).write(to: dir.appendingPathComponent("model.safetensors"))
        }
        return dir
    }

    static func launch(model: URL, kind: String = "learned", history: Int = 8, horizon: Int = 5) throws -> TestLaunch {
        try TestLaunch(extra: preprocess + """

        predictor:
          kind: \(kind)
          model: \(model.path)
          history: \(history)
          horizon: \(horizon)
          blas_threads: 1
        """)
    }
}

// Nested in the serialized end-to-end suite: these start daemons and CPU-heavy child processes,
// and must not run beside the timing-sensitive end-to-end tests.
extension EndToEndTests {
    @Suite(.serialized) struct LearnedPredictorTests {
        @Test func theDaemonWithALearnedModelPublishesAPredictionForEveryFrame() async throws {
            // A short window keeps the unoptimized (debug) engine of `make test` at the simulator's 10 Hz.
            let model = try LearnedFixture.model(history: 3, future: 2)
            defer { try? FileManager.default.removeItem(at: model) }
            let launch = try LearnedFixture.launch(model: model, history: 3, horizon: 2)
            let daemon = try TestSupport.Child(TestSupport.foresightBinary, ["run", launch.path])
            defer { daemon.stop() }
            try await Task.sleep(for: .milliseconds(1500))
            let collector = try Collector(endpoint: launch.outputEndpoint, topics: ["fusion/frame", "predict/"])
            defer { collector.stop() }
            try await Task.sleep(for: .milliseconds(500))
            let sim = try TestSupport.run(TestSupport.foresightBinary, ["sim", "--endpoint", launch.inputEndpoint, "--duration", "4", "--quiet"])
            #expect(sim.status == 0, "\(sim.stderr)")
            try await Task.sleep(for: .seconds(2))
            daemon.process.terminate()
            #expect(daemon.wait(timeout: 15) == 0)

            let frames = Set(collector.decoded(FusionFrame.self).map(\.header.seq))
            let beams = collector.decoded(BeamPrediction.self)
            #expect(frames.count >= 20, "only \(frames.count) frames from 4 s of simulation")
            #expect(Set(beams.map(\.header.seq)) == frames)
            let name = "learned:\(model.lastPathComponent)"
            #expect(beams.allSatisfy { ($0.model == name || $0.model == name + ":no-gnss") && $0.horizon.count == 2 })
            let power = collector.decoded(PowerPrediction.self)
            #expect(Set(power.map(\.header.seq)) == frames)
            #expect(power.allSatisfy { $0.powerDBm.allSatisfy(\.isFinite) })
        }

        @Test func aTensorOfAnotherSizeIsPredictedAsAMissingModalityAndReported() async throws {
            // A rig's radar with another sample count than the site's gives a map the model cannot take:
            // the frame is still predicted (radar → the learned missing token), and the radar is reported.
            let (model, launch, predictor) = try LearnedFixture.loaded()
            defer { try? FileManager.default.removeItem(at: model); Task { await predictor.shutdown() } }
            let beams = launch.site.mmwave.beams
            func frame(_ i: Int, radarValues: Int) -> FrameView {
                FrameView(stamp: Int64(i) * 100_000_000, gnss: SIMD2(Double(i), 2), beamPowerDBm: [Float](repeating: -70, count: beams),
                          camera: [Float](repeating: 0.1, count: 3 * 32 * 32), radarMap: [Float](repeating: 0.2, count: radarValues),
                          lidarDepth: [Float](repeating: 0.3, count: 64 * 256), beamPowerNormalized: [Float](repeating: 0.5, count: beams),
                          gnssStamp: Int64(i) * 100_000_000, beamPowerStamp: Int64(i) * 100_000_000)
            }
            let horizon: [Int64] = [1, 2].map { Int64(10 + $0) * 100_000_000 }
            var history: [FrameView] = []
            for i in 0..<3 {
                history.append(frame(i, radarValues: 64 * 200))       // 200 range bins instead of 256
                let set = try await predictor.predict(history: history, horizon: horizon)
                #expect(set.steps.count == 2)
                #expect(set.steps.allSatisfy { $0.powerDBm.isFinite && !$0.beams.isEmpty })
            }
            let screened = predictor.takeScreenedInputs()
            #expect(screened.count == 1)
            #expect(screened.first?.modality == .radar && screened.first?.frames == 3)
            #expect(screened.first?.reason.contains("expects \(64 * 256)") == true, "\(screened)")
            #expect(predictor.takeScreenedInputs().isEmpty, "the counts reset once taken")

            // The same frames with the right size: nothing is screened, and the radar changes the prediction.
            await predictor.reset()
            let withRadar = try await predictor.predict(history: [frame(0, radarValues: 64 * 256)], horizon: horizon)
            await predictor.reset()
            let without = try await predictor.predict(history: [frame(0, radarValues: 7)], horizon: horizon)
            #expect(predictor.takeScreenedInputs().map(\.modality) == [.radar])
            #expect(withRadar.steps[0].blockageProbability != without.steps[0].blockageProbability
                    || withRadar.steps[0].east != without.steps[0].east)
        }

        @Test func aWindowWithoutAnyGnssFixHasNoKnownPosition() async throws {
            // As the classical and persistence predictors: no fix in the window → `:no-gnss`, position unknown.
            let (model, launch, predictor) = try LearnedFixture.loaded()
            defer { try? FileManager.default.removeItem(at: model); Task { await predictor.shutdown() } }
            let beams = launch.site.mmwave.beams
            func frame(_ i: Int, gnss: Bool) -> FrameView {
                FrameView(stamp: Int64(i) * 100_000_000, gnss: gnss ? SIMD2(Double(i), 2) : nil,
                          beamPowerDBm: [Float](repeating: -70, count: beams),
                          beamPowerNormalized: [Float](repeating: 0.5, count: beams),
                          missing: gnss ? [.camera, .radar, .lidar] : [.camera, .radar, .lidar, .gnss])
            }
            let horizon: [Int64] = [1, 2].map { Int64(10 + $0) * 100_000_000 }
            let name = "learned:\(model.lastPathComponent)"
            let fixed = try await predictor.predict(history: [frame(0, gnss: true), frame(1, gnss: false)], horizon: horizon)
            #expect(fixed.positionKnown && fixed.model == name)
            let lost = try await predictor.predict(history: [frame(1, gnss: false), frame(2, gnss: false)], horizon: horizon)
            #expect(!lost.positionKnown && lost.model == name + ":no-gnss")
        }

        @Test func aModelFolderWithoutWeightsOrAModelIsRejectedByName() throws {
            let model = try LearnedFixture.model(weights: false)
            defer { try? FileManager.default.removeItem(at: model) }
            let launch = try LaunchFile.load(path: try LearnedFixture.launch(model: model).path)
            #expect {
                _ = try PredictorFactory.make(launch)
            } throws: { error in
                "\(error)".contains(model.path) && "\(error)".contains("model.safetensors")
            }
            var missing = try TestLaunch().configuration()
            missing.predictor.kind = "learned"
            missing.predictor.modelDirectory = "/nonexistent/model"
            #expect { _ = try PredictorFactory.make(missing) } throws: { "\($0)".contains("/nonexistent/model") && "\($0)".contains("does not exist") }
            let noModel = try TestLaunch(extra: "predictor: {kind: learned}")
            #expect { _ = try LaunchFile.load(path: noModel.path) } throws: { "\($0)".contains("predictor.model") || "\($0)".contains("model") }
        }

        @Test func aModelTrainedOnOtherPreprocessingOrHistoryFailsWithANamedError() throws {
            let wrongVersion = try LearnedFixture.model(version: "0123456789abcdef")
            defer { try? FileManager.default.removeItem(at: wrongVersion) }
            let launch = try LaunchFile.load(path: try LearnedFixture.launch(model: wrongVersion).path)
            #expect {
                _ = try PredictorFactory.make(launch)
            } throws: { error in
                error is ModelLoadError && "\(error)".contains("preprocessing_version mismatch") && "\(error)".contains(wrongVersion.path)
            }
            let history = try LearnedFixture.model(history: 4)
            defer { try? FileManager.default.removeItem(at: history) }
            let mismatched = try LaunchFile.load(path: try LearnedFixture.launch(model: history).path)
            #expect { _ = try PredictorFactory.make(mismatched) } throws: { "\($0)".contains("history 4") }
            let gru = try LaunchFile.load(path: try LearnedFixture.launch(model: history, kind: "gru", history: 4).path)
            #expect { _ = try PredictorFactory.make(gru) } throws: { "\($0)".contains("gru") }
        }

        @Test func theDaemonRefusesABadModelBeforeBindingAnySocket() throws {
            let model = try LearnedFixture.model(version: "0123456789abcdef")
            defer { try? FileManager.default.removeItem(at: model) }
            let launch = try LearnedFixture.launch(model: model)
            let started = Date()
            let run = try TestSupport.run(TestSupport.foresightBinary, ["run", launch.path])
            #expect(run.status != 0)
            #expect(run.stderr.contains("preprocessing_version mismatch"), "\(run.stderr)")
            #expect(!run.stderr.contains("foresight running"))
            #expect(Date().timeIntervalSince(started) < 20)
        }
    }

    @Suite(.serialized) struct DatasetAndEvalTests {
        /// Reads a safetensors shard with NumPy only (no safetensors package) and prints a summary.
        static let reader = """
        import json, struct, sys, numpy as np
        path = sys.argv[1]
        raw = open(path, "rb").read()
        n = struct.unpack("<Q", raw[:8])[0]
        header = json.loads(raw[8:8 + n])
        header.pop("__metadata__", None)
        types = {"F16": "<f2", "F32": "<f4", "I64": "<i8", "I32": "<i4", "U8": "u1"}
        t = {}
        for name, h in header.items():
            a, b = h["data_offsets"]
            t[name] = np.frombuffer(raw[8 + n + a:8 + n + b], dtype=types[h["dtype"]]).reshape(h["shape"])
        present = t["present"].astype(bool)
        out = {
            "dtypes": {k: h["dtype"] for k, h in header.items()},
            "shapes": {k: list(v.shape) for k, v in t.items()},
            "stamps": t["stamp"].tolist(),
            "target_beam": t["target_beam"].tolist(),
            "segments": int(t["segment"].max()) + 1,
            "camera_finite": bool(np.isfinite(t["camera"].astype(np.float32)).all()),
            "gnss_present": int(present[:, 3].sum()),
            "power_dbm_max": float(t["power_dbm"][present[:, 4]].max()),
            "target_power_max": float(t["target_power"][t["target_beam"] >= 0].max()),
            "valid": int(t["target_valid"].sum()),
            "blocked_values": sorted(set(t["target_blocked"].flatten().tolist())),
            # the classical estimates per dead sensor ([frames, modality, ...], modality order camera..beam_power)
            "known": int(t["coarse_known"].sum()),
            "known_without": t["coarse_dropped_known"].sum(0).tolist(),
            "same_without": [all(bool(np.array_equal(t["coarse_dropped_" + k][:, m], t["coarse_" + k]))
                                     for k in ("position", "beam_logits", "power_dbm", "blockage")) for m in range(5)],
            "power_without_power": sorted(set(t["coarse_dropped_power_dbm"][:, 4].flatten().tolist())),
        }
        print(json.dumps(out))
        """

        @Test func datasetScenariosAreNamedLikeTheSimulatorsOrGivenAsFiles() throws {
            let dir = try TestSupport.temporaryDirectory("dataset-names")
            defer { try? FileManager.default.removeItem(at: dir) }
            let out = dir.appendingPathComponent("data").path
            let launch = try TestLaunch(extra: LearnedFixture.preprocess)
            // Names from launch/scenarios, as `foresight sim --scenario` takes them, mixed with a file.
            let run = try TestSupport.run(TestSupport.foresightBinary, ["dataset", "--sim", "--seeds", "3", "--duration", "1",
                                                                        "--scenario", "avenue", "--scenario", TestSupport.path("launch/scenarios/crossing.yaml"),
                                                                        "--launch", launch.path, "--out", out])
            #expect(run.status == 0, "\(run.stderr)")
            let files = try FileManager.default.contentsOfDirectory(atPath: out)
            #expect(Set(files) == ["manifest.json", "avenue-3.safetensors", "crossing-3.safetensors"])
            // An unknown name fails before any drive runs, listing the names there are.
            let unknown = try TestSupport.run(TestSupport.foresightBinary, ["dataset", "--sim", "--seeds", "3", "--duration", "1",
                                                                            "--scenario", "nowhere", "--launch", launch.path,
                                                                            "--out", dir.appendingPathComponent("none").path])
            #expect(unknown.status != 0)
            #expect(unknown.stderr.contains("--scenario 'nowhere': no such file or scenario name") && unknown.stderr.contains("avenue, boulevard, crossing, street"),
                    "\(unknown.stderr)")
            #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("none").path))
        }

        @Test func aSimulatedDriveBecomesAShardWithTheTargetsEvalScores() throws {
            let dir = try TestSupport.temporaryDirectory("dataset")
            defer { try? FileManager.default.removeItem(at: dir) }
            let out = dir.appendingPathComponent("data").path
            let launch = try TestLaunch(extra: LearnedFixture.preprocess)
            let run = try TestSupport.run(TestSupport.foresightBinary, ["dataset", "--sim", "--seeds", "1003", "--duration", "5",
                                                                        "--scenario", TestSupport.path("launch/scenarios/street.yaml"),
                                                                        "--launch", launch.path, "--out", out])
            #expect(run.status == 0, "\(run.stderr)")
            let manifestURL = URL(fileURLWithPath: out).appendingPathComponent("manifest.json")
            let manifest = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: manifestURL)) as? [String: Any])
            #expect(manifest["format"] as? String == "foresight-dataset")
            #expect(manifest["preprocessing_version"] as? String == (try LaunchFile.load(path: launch.path).preprocessingVersion()))
            let shards = try #require(manifest["shards"] as? [[String: Any]])
            #expect(shards.count == 1)
            #expect(shards.first?["file"] as? String == "street-1003.safetensors" && shards.first?["split"] as? String == "test")
            let frames = try #require(shards.first?["frames"] as? Int)
            #expect(frames >= 40, "\(frames) frames in 5 s")
            // Nothing left under a temporary name.
            let files = try FileManager.default.contentsOfDirectory(atPath: out)
            #expect(Set(files) == ["manifest.json", "street-1003.safetensors"])

            let check = try TestSupport.run(TestSupport.python, ["-c", Self.reader, out + "/street-1003.safetensors"])
            #expect(check.status == 0, "\(check.stderr)")
            let shard = try #require(try JSONSerialization.jsonObject(with: Data(check.stdout.utf8)) as? [String: Any])
            let shapes = try #require(shard["shapes"] as? [String: [Int]])
            let dtypes = try #require(shard["dtypes"] as? [String: String])
            let expected: [String: ([Int], String)] = [
                "stamp": ([frames], "I64"), "segment": ([frames], "I32"), "camera": ([frames, 3, 32, 32], "F16"),
                "radar": ([frames, 64, 256], "F16"), "lidar": ([frames, 64, 256], "F16"), "gnss": ([frames, 2], "F32"),
                "power": ([frames, 64], "F32"), "power_dbm": ([frames, 64], "F32"), "present": ([frames, 5], "U8"),
                "target_valid": ([frames, 5], "U8"), "target_position": ([frames, 5, 2], "F32"), "target_beam": ([frames, 5], "I64"),
                "target_power": ([frames, 5, 64], "F32"), "target_blocked": ([frames, 5], "U8"),
                "coarse_position": ([frames, 5, 2], "F32"), "coarse_beam_logits": ([frames, 5, 64], "F32"),
                "coarse_power_dbm": ([frames, 5], "F32"), "coarse_blockage": ([frames, 5], "F32"), "coarse_known": ([frames], "U8"),
                "coarse_dropped_position": ([frames, 5, 5, 2], "F32"), "coarse_dropped_beam_logits": ([frames, 5, 5, 64], "F32"),
                "coarse_dropped_power_dbm": ([frames, 5, 5], "F32"), "coarse_dropped_blockage": ([frames, 5, 5], "F32"),
                "coarse_dropped_known": ([frames, 5], "U8"),
            ]
            for (name, (shape, dtype)) in expected {
                #expect(shapes[name] == shape, "\(name): \(shapes[name] ?? [])")
                #expect(dtypes[name] == dtype, "\(name): \(dtypes[name] ?? "?")")
            }
            #expect(shard["camera_finite"] as? Bool == true)
            #expect(shard["segments"] as? Int == 1)
            #expect((shard["gnss_present"] as? Int ?? 0) > frames / 2)
            #expect((shard["power_dbm_max"] as? Double ?? 0) < -20)   // received mmWave power in dBm
            #expect((shard["target_power_max"] as? Double ?? 0) < -20)
            #expect((shard["valid"] as? Int ?? 0) > frames * 3)        // the last ~0.5 s has no future truth
            #expect(Set(shard["blocked_values"] as? [Int] ?? []).isSubset(of: [0, 1, 255]))
            // Per dead sensor, the classical predictor's estimates from the window without it: no position without
            // GNSS, no measured power without the scan (the fallback), unchanged without the camera (it ignores it).
            let known = shard["known"] as? Int ?? 0
            #expect(known > frames / 2)
            #expect(shard["known_without"] as? [Int] == [known, known, known, 0, known])
            #expect((shard["same_without"] as? [Bool])?.first == true)
            #expect((shard["same_without"] as? [Bool])?[3] == false && (shard["same_without"] as? [Bool])?[4] == false)
            #expect((shard["power_without_power"] as? [Double])?.count == 1, "one fallback power without the scan")

            // The same drive through `foresight eval`: the same frames, scored against the same targets.
            let scores = dir.appendingPathComponent("scores.json").path
            let eval = try TestSupport.run(TestSupport.foresightBinary, ["eval", "--sim", "--seeds", "1003", "--duration", "5",
                                                                         "--scenario", TestSupport.path("launch/scenarios/street.yaml"),
                                                                         "--launch", launch.path, "--json", scores, "--traces"])
            #expect(eval.status == 0, "\(eval.stderr)")
            let result = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: scores))) as? [String: Any])
            let predictor = try #require((result["predictors"] as? [[String: Any]])?.first)
            let trace = try #require(((predictor["drives"] as? [[String: Any]])?.first?["trace"]) as? [String: Any])
            let stamps = try #require(shard["stamps"] as? [Int64])
            let horizonStarts = try #require(trace["stamp"] as? [Int64])
            #expect(horizonStarts == stamps.map { $0 + 100_000_000 })
            #expect(trace["truthBeam"] as? [[Int]] == shard["target_beam"] as? [[Int]])
        }

        @Test func aBagWithoutTruthIsRefusedNamingTheTopics() throws {
            let dir = try TestSupport.temporaryDirectory("notruth")
            defer { try? FileManager.default.removeItem(at: dir) }
            let bag = dir.appendingPathComponent("site.mcap").path
            // A recording as a real site makes it: sensors only.
            var sim = try Simulator(sitePath: TestSupport.path("Calibration/sim-site.yaml"), scenarioPath: TestSupport.path("launch/scenarios/street.yaml"))
            let writer = try BagWriter(path: bag, options: BagWriterOptions(compression: .none))
            var channels: [String: UInt16] = [:]
            while sim.nextTime < 2 {
                let (event, messages) = try sim.nextMessages()
                for m in messages where m.topic.hasPrefix("sensor/") {
                    if channels[m.topic] == nil {
                        let schema = try writer.addSchema(name: m.topic, encoding: "", data: [])
                        channels[m.topic] = try writer.addChannel(topic: m.topic, messageEncoding: "msgpack", schemaID: schema)
                    }
                    try writer.write(channelID: channels[m.topic] ?? 0, sequence: event.seq, logTime: UInt64(event.stamp),
                                     publishTime: UInt64(event.stamp), data: m.payload)
                }
            }
            _ = try writer.finish()
            let out = dir.appendingPathComponent("data").path
            let run = try TestSupport.run(TestSupport.foresightBinary, ["dataset", bag, "--out", out, "--launch", TestSupport.path("launch/sim.yaml")])
            #expect(run.status != 0)
            #expect(run.stderr.contains(bag) && run.stderr.contains("truth/ue") && run.stderr.contains("truth/blockage"), "\(run.stderr)")
            // Nothing half-written.
            let left = (try? FileManager.default.contentsOfDirectory(atPath: out)) ?? []
            #expect(left.isEmpty, "\(left)")
            let eval = try TestSupport.run(TestSupport.foresightBinary, ["eval", bag, "--launch", TestSupport.path("launch/sim.yaml")])
            #expect(eval.status != 0 && eval.stderr.contains("nothing to score"), "\(eval.stderr)")
        }

        @Test func severalLaunchFilesInOneRunScoreAsSingleRunsDo() throws {
            let dir = try TestSupport.temporaryDirectory("multi")
            defer { try? FileManager.default.removeItem(at: dir) }
            let persistence = dir.appendingPathComponent("persistence.yaml").path
            let classical = TestSupport.path("launch/sim.yaml")
            let text = try String(contentsOfFile: classical, encoding: .utf8)
                .replacingOccurrences(of: "kind: classical-ctrv", with: "kind: persistence")
                .replacingOccurrences(of: "name: sim", with: "name: persist")
                .replacingOccurrences(of: "site: ../Calibration/sim-site.yaml", with: "site: \(TestSupport.path("Calibration/sim-site.yaml"))")
            try text.write(toFile: persistence, atomically: true, encoding: .utf8)
            func eval(_ launches: [String], _ name: String) throws -> [[String: Any]] {
                let json = dir.appendingPathComponent(name).path
                let args = ["eval", "--sim", "--seeds", "1..2", "--duration", "2.5", "--scenario", TestSupport.path("launch/scenarios/street.yaml"),
                            "--json", json] + launches.flatMap { ["--launch", $0] }
                let run = try TestSupport.run(TestSupport.foresightBinary, args)
                #expect(run.status == 0, "\(run.stderr)")
                let result = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: json))) as? [String: Any])
                return try #require(result["predictors"] as? [[String: Any]])
            }
            let both = try eval([classical, persistence], "both.json")
            let alone = try eval([classical], "classical.json") + (try eval([persistence], "persistence.json"))
            #expect(both.count == 2 && alone.count == 2)
            for (a, b) in zip(both, alone) {
                #expect(a["name"] as? String == b["name"] as? String)
                let ra = try JSONSerialization.data(withJSONObject: a["overall"] ?? [:], options: .sortedKeys)
                let rb = try JSONSerialization.data(withJSONObject: b["overall"] ?? [:], options: .sortedKeys)
                #expect(ra == rb, "\(a["name"] ?? "?"): scores differ between the joint and the single run")
                #expect((a["drives"] as? [Any])?.count == 2)
            }
            // Persistence and the classical predictor really are different predictors.
            let top1 = both.compactMap { (($0["overall"] as? [String: Any])?["overall"] as? [String: Any])?["top1"] as? Double }
            #expect(top1.count == 2 && top1[0] != top1[1])
        }
    }
}
