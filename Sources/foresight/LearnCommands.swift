import ArgumentParser
import Foundation
import ForesightDaemon
import ForesightPredict

/// Where drives come from: bags, or simulations generated in memory.
struct DriveOptions: ParsableArguments {
    @Argument(help: "Bags to read (MCAP files, split sets or folders; each is one drive). Leave out with --sim.")
    var bags: [String] = []

    @Flag(help: "Generate the drives with the simulator in memory instead of reading bags (no bag is written).")
    var sim = false

    @Option(help: "Simulation seeds, inclusive range A..B or one seed (with --sim).")
    var seeds: String?

    @Option(help: "Scenario for --sim: a name from launch/scenarios (street, crossing, avenue, boulevard) or a YAML file; repeat for several scenarios (default: street).")
    var scenario: [String] = []

    @Option(help: "Simulated seconds per drive (with --sim).")
    var duration: Double = 60

    func validate() throws {
        if sim {
            guard bags.isEmpty else { throw ValidationError("give either bags or --sim, not both") }
            guard let seeds, Drive.seedRange(seeds) != nil else { throw ValidationError("--sim needs --seeds A..B (inclusive, A ≤ B) or one seed") }
            guard duration > 0, duration.isFinite else { throw ValidationError("--duration must be positive") }
        } else {
            guard !bags.isEmpty else { throw ValidationError("give one or more bags, or --sim --seeds A..B") }
            guard seeds == nil, scenario.isEmpty else { throw ValidationError("--seeds and --scenario need --sim") }
        }
    }

    /// The drives, in order (scenario by scenario, seed by seed).
    func drives() throws -> [Drive] {
        guard sim else { return bags.map { .bag(path: $0) } }
        let range = Drive.seedRange(seeds ?? "") ?? 0...0
        let scenarios = try (scenario.isEmpty ? ["street"] : scenario).map(scenarioFile)
        return scenarios.flatMap { Drive.simulations(scenario: $0, seeds: range, duration: duration) }
    }
}

/// A one-line progress display: a bar on a terminal, a plain line per finished drive otherwise.
final class ProgressLine: @unchecked Sendable {
    private let lock = NSLock()
    private let tty = isatty(STDERR_FILENO) == 1
    private var lastDrives = -1
    private var lastDraw = Date.distantPast
    private let label: String

    init(_ label: String) { self.label = label }

    func update(drivesDone: Int, drives: Int, frames: Int, seconds: Double, framesPerDrive: Double?) {
        lock.lock()
        defer { lock.unlock() }
        let rate = seconds > 0 ? Double(frames) / seconds : 0
        var eta = ""
        if let per = framesPerDrive, rate > 0 {
            let remaining = max(0, Double(drives) * per - Double(frames)) / rate
            eta = String(format: "  ETA %dm%02ds", Int(remaining) / 60, Int(remaining) % 60)
        }
        if tty {
            guard Date().timeIntervalSince(lastDraw) > 0.2 || drivesDone != lastDrives else { return }
            lastDraw = Date()
            lastDrives = drivesDone
            let width = 24
            let filled = drives > 0 ? min(width, width * drivesDone / drives) : 0
            let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
            let line = String(format: "\r%@ [%@] %d/%d drives  %d frames  %.1f frames/s%@ ", label, bar, drivesDone, drives, frames, rate, eta)
            FileHandle.standardError.write(Data(line.utf8))
        } else if drivesDone != lastDrives {
            lastDrives = drivesDone
            printError(String(format: "%@: %d/%d drives, %d frames, %.1f frames/s", label, drivesDone, drives, frames, rate))
        }
    }

    func finish() {
        if tty { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}

/// The git commit of the working directory, or "unknown".
func currentGitCommit() -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["git", "rev-parse", "HEAD"]
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = FileHandle.nullDevice
    guard (try? process.run()) != nil else { return "unknown" }
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    return process.terminationStatus == 0 && !text.isEmpty ? text : "unknown"
}

/// `foresight dataset`: training data from the daemon's own front end.
struct DatasetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dataset",
        abstract: "Write training data: the daemon's synchronized, preprocessed frames with targets at every horizon step.",
        discussion: """
        Every drive (a bag, or a simulation generated in memory with --sim) runs through the \
        daemon's own synchronizer and preprocessing (the launch file's settings; nothing dropped). \
        One safetensors shard per drive (<scenario>-<seed>.safetensors) holds per frame: stamp, \
        segment, camera/radar/lidar (float16), gnss, power, power_dbm, present, and per future \
        step target_valid, target_position, target_beam, target_power (dBm), target_blocked — \
        the same truth lookup foresight eval scores against. manifest.json (written last) records \
        the preprocessing version, shapes, seeds and splits: seeds 1000–1019 are the test drives, \
        seeds below 1000 train (multiples of 10: validation), the held-out scenario is never \
        trained on. Shards of an earlier run with the same preprocessing version are kept in the \
        manifest. See docs/dataset.md.

        Example: foresight dataset --sim --seeds 1..40 --duration 60 --out data/train
        """
    )

    @OptionGroup var input: DriveOptions

    @Option(help: "Output folder.")
    var out: String

    @Option(help: "Launch file: synchronizer, preprocessing (preprocess.camera size), site, step_ms, reset_gap_ms.")
    var launch: String = "launch/sim.yaml"

    @Option(help: "History frames a model uses (recorded in the manifest; default: the launch file's predictor.history).")
    var history: Int?

    @Option(help: "Future steps with targets (default: the launch file's predictor.horizon).")
    var future: Int?

    @Option(help: "Drives generated at the same time.")
    var jobs: Int = 1

    @Option(help: "Split for every shard (train, val, test, heldout) instead of the seed rule — e.g. for bags.")
    var split: String?

    @Option(help: "Scenario name (its `scenario:` key) whose drives are the held-out split.")
    var heldoutScenario = "boulevard"

    @Option(help: "Log level.")
    var logLevel: LogLevelArgument = .warning

    func validate() throws {
        if let history, !(1...1024).contains(history) { throw ValidationError("--history must be in 1...1024") }
        if let future, !(1...64).contains(future) { throw ValidationError("--future must be in 1...64") }
        if !(1...16).contains(jobs) { throw ValidationError("--jobs must be in 1...16") }
        if let split, !["train", "val", "test", "heldout"].contains(split) { throw ValidationError("--split must be train, val, test or heldout") }
    }

    func run() async throws {
        OfflineMemory.retainFreedBuffers()
        let launchFile = try loadLaunch(launch)
        let logger = bootstrapLogging(level: logLevel.rawValue)
        let drives = try input.drives()
        for case .bag(let path) in drives { warnIfUnclosed(path) }
        var options = DatasetBuilder.Options(directory: out)
        options.history = history ?? launchFile.predictor.history
        options.future = future ?? launchFile.predictor.horizon
        options.jobs = jobs
        options.split = split
        options.heldoutScenario = heldoutScenario
        options.gitCommit = currentGitCommit()
        options.command = (["foresight"] + CommandLine.arguments.dropFirst()).joined(separator: " ")
        let builder = DatasetBuilder(launch: launchFile, options: options, logger: logger)
        let line = ProgressLine("dataset")
        let perDrive: Double? = input.sim ? input.duration * 10 : nil
        let manifest: DatasetBuilder.Manifest
        do {
            manifest = try await builder.build(drives: drives) { p in
                line.update(drivesDone: p.drivesDone, drives: p.drives, frames: p.frames, seconds: p.seconds, framesPerDrive: perDrive)
            }
        } catch {
            line.finish()
            throw CLIError("\(error)")
        }
        line.finish()
        let frames = manifest.shards.reduce(0) { $0 + $1.frames }
        let splits = Dictionary(grouping: manifest.shards, by: \.split).map { "\($0.key) \($0.value.count)" }.sorted().joined(separator: ", ")
        print("wrote \(manifest.shards.count) shards (\(frames) frames; \(splits)) and manifest.json to \(out); "
              + "preprocessing version \(manifest.preprocessingVersion)")
    }
}
