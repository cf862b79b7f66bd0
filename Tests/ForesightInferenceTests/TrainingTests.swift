import Foundation
import Testing
@testable import ForesightInference

/// The quick training run end to end (Tools/training/train.py --quick on a tiny synthetic dataset in the
/// `foresight dataset` format): JEPA pretraining, cached heads and the GRU baseline train and their losses
/// fall; both exports load in the Swift engine and match PyTorch within 1e-4 at every frame of a stream
/// (parity fixtures regenerated from the trained weights). Needs PyTorch in `.venv` (`make test` installs
/// it with `Tools/setup.sh torch`); without it the test is reported as skipped with that reason.
@Suite(.serialized) struct TrainingTests {
    @Test("quick training: losses fall, the trained exports load in Swift and match PyTorch",
          .enabled(if: ExportTests.torchAvailable, "PyTorch is not installed in .venv (run `Tools/setup.sh torch`; `make test` does)"))
    func quickTraining() throws {
        let fm = FileManager.default
        let root = fm.temporaryDirectory.appendingPathComponent("foresight-train-\(UUID().uuidString)")
        defer { try? fm.removeItem(at: root) }
        let data = root.appendingPathComponent("data"), run = root.appendingPathComponent("run")
        let learned = root.appendingPathComponent("models/learned"), gru = root.appendingPathComponent("models/gru")

        let made = ExportTests.run(["Tools/training/synthetic_dataset.py", "--out", data.path,
                                    "--train", "4", "--val", "1", "--test", "1", "--frames", "100"])
        #expect(made.status == 0, "\(made.output)")
        let trained = ExportTests.run(["Tools/training/train.py", "--quick", "--data", data.path, "--out", run.path,
                                       "--stages", "pretrain,heads,finetune,gru,export", "--threads", "1",
                                       "--export-learned", learned.path, "--export-gru", gru.path])
        try #require(trained.status == 0, "\(trained.output)")

        // Losses per epoch from metrics.json: the first epoch's must exceed the last one's.
        let metrics = try JSONSerialization.jsonObject(with: Data(contentsOf: run.appendingPathComponent("metrics.json"))) as? [String: Any]
        for stage in ["pretrain", "heads", "gru"] {
            let history = ((metrics?[stage] as? [String: Any])?["history"] as? [[String: Any]]) ?? []
            let losses = history.compactMap { $0["train_loss"] as? Double }
            try #require(losses.count >= 2, "\(stage): no per-epoch losses in metrics.json")
            #expect(losses.last! < losses.first!, "\(stage) loss did not fall: \(losses)")
        }

        // Stage 3 ran end to end on the heads' model and chose a blockage operating point on the validation drive.
        let finetune = metrics?["finetune"] as? [String: Any]
        #expect((finetune?["history"] as? [[String: Any]])?.count == 1, "finetune: \(String(describing: finetune?.keys))")
        #expect((finetune?["blockage_offset"] as? [String: Any])?["logit"] is Double)

        for (dir, wantGRU) in [(learned, false), (gru, true)] {
            let card = try String(contentsOf: dir.appendingPathComponent("README.md"), encoding: .utf8)
            #expect(card.contains("SHA-256"))
            let model = try LoadedModel.load(directory: dir)
            if case .gru = model { #expect(wantGRU) } else { #expect(!wantGRU) }
            let fixtures = ExportTests.run(["Tools/training/make_parity_fixtures.py", "--model", dir.path])
            try #require(fixtures.status == 0, "\(fixtures.output)")
            let tensors = try SafeTensors(contentsOf: dir.appendingPathComponent("parity.safetensors")).tensors
            let stream: FixtureStream
            switch model {
            case let .multitask(m, _): stream = try FixtureStream(tensors: tensors, config: m.config)
            case let .gru(m, _): stream = try FixtureStream(tensors: tensors, config: m.config)
            }
            let failures = try streamingParityFailures(model, stream)
            #expect(failures.isEmpty, "\(dir.lastPathComponent): \(failures.prefix(10))")
        }
    }

    @Test("train.py refuses a dataset whose test drives are marked for training",
          .enabled(if: ExportTests.torchAvailable, "PyTorch is not installed in .venv"))
    func testDrivesNeverTrain() throws {
        let fm = FileManager.default
        let data = fm.temporaryDirectory.appendingPathComponent("foresight-train-split-\(UUID().uuidString)")
        defer { try? fm.removeItem(at: data) }
        let made = ExportTests.run(["Tools/training/synthetic_dataset.py", "--out", data.path,
                                    "--train", "1", "--val", "1", "--test", "1", "--frames", "30"])
        try #require(made.status == 0, "\(made.output)")
        let manifestURL = data.appendingPathComponent("manifest.json")
        var manifest = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: manifestURL)) as? [String: Any])
        var shards = try #require(manifest["shards"] as? [[String: Any]])
        for i in shards.indices where (shards[i]["seed"] as? Int) == 1000 { shards[i]["split"] = "train" }
        manifest["shards"] = shards
        try JSONSerialization.data(withJSONObject: manifest).write(to: manifestURL)
        let trained = ExportTests.run(["Tools/training/train.py", "--quick", "--data", data.path,
                                       "--out", data.appendingPathComponent("run").path, "--stages", "pretrain"])
        #expect(trained.status == 2)
        #expect(trained.output.contains("test seed 1000"), "\(trained.output)")
    }
}
