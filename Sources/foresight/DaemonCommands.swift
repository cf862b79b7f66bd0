import ArgumentParser
import Foundation
import ForesightBus
import ForesightDaemon
import ForesightPredict
import ForesightSite
import ForesightWire
import Logging
import ServiceLifecycle

/// Sets up swift-log once: human-readable lines on stderr at `level`.
func bootstrapLogging(level: String) -> Logger {
    let parsed = Logger.Level(rawValue: level) ?? .info
    LoggingSystem.bootstrap { label in
        var handler = StreamLogHandler.standardError(label: label)
        handler.logLevel = parsed
        return handler
    }
    var logger = Logger(label: "foresight")
    logger.logLevel = parsed
    return logger
}

/// Loads a launch file, turning its errors into one actionable line; without a path, the
/// built-in `launch/sim.yaml` (embedded in the executable, so it works from any folder).
func loadLaunch(_ path: String?) throws -> LaunchFile {
    guard let path else {
        printError("using the built-in launch file \(BuiltinDefaults.simLaunch.path) (embedded; pass --launch FILE to use another)")
        do {
            return try LaunchFile.builtin()
        } catch {
            throw CLIError("built-in launch file: \(error.description(doc: "docs/launch.md"))")
        }
    }
    do {
        return try LaunchFile.load(path: path)
    } catch {
        var text = error.description(doc: "docs/launch.md")
        if text.hasPrefix(path + ": ") { text.removeFirst(path.count + 2) }  // the file is named once
        throw CLIError("launch file \(path): \(text)")
    }
}

/// `foresight run`: the daemon.
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the daemon: subscribe, synchronize, preprocess, predict, publish.",
        discussion: """
        The launch file (docs/launch.md) names the input endpoints and topics, the synchronizer \
        settings, the site calibration, the predictor and horizon, the output endpoint and prefix, \
        and the metrics address. Unknown keys and invalid values stop the daemon at start with the \
        key named. SIGINT/SIGTERM stop ingest, drain the frames in flight and close every socket; \
        draining is bounded by --shutdown-grace, and a second SIGINT/SIGTERM stops at once \
        (a third exits immediately).

        Outputs: predict/beam, predict/position, predict/power, predict/blockage and fusion/frame \
        per frame; foresight/diagnostics at 1 Hz; Prometheus text at http://ADDRESS/metrics and \
        input liveness at /healthz.

        --compare KIND runs a second, reference predictor (classical-ctrv or persistence, built from \
        the same launch file's site and topk) on the same window right after the launch file's own: \
        the live view shows both side by side per horizon step, and the final summary prints both \
        score tables and their difference (top-1, top-3, ADE). The reference is never published; its \
        failures are counted (predictions_reference_failed_total on /metrics) and never hold up the \
        published predictions.

        Examples:
          foresight run launch/sim.yaml --view
          foresight run launch/sim-learned.yaml --view --compare classical-ctrv
        """
    )

    @Argument(help: "Launch file (YAML).")
    var launch: String

    @Option(parsing: .unconditional, help: "Stop after this long (seconds, or 1m30s, 2h; default: run until SIGINT/SIGTERM).")
    var duration: DurationArgument?

    @Flag(help: "Show a live terminal view: predictions vs truth (when the launch file follows truth topics), rates, latency.")
    var view = false

    @Option(help: ArgumentHelp("Also run this reference predictor (\(PredictorFactory.referenceKinds.joined(separator: ", "))) for the live view and the final scores; never published.",
                               valueName: "kind"))
    var compare: String?

    @Flag(help: "Load the launch file and its predictor (a model folder is checked against it) and the --compare reference, print what would run and exit, binding no socket.")
    var check = false

    @Option(help: "Override the launch file's log level.")
    var logLevel: LogLevelArgument?

    @Option(parsing: .unconditional, help: "Longest graceful shutdown (seconds, or e.g. 500ms): after it the daemon stops without finishing the drain.")
    var shutdownGrace = DurationArgument(seconds: 5)

    func validate() throws {
        if let duration, !(duration.seconds > 0) { throw ValidationError("--duration must be positive, got \(duration.seconds) s") }
        if !(shutdownGrace.seconds > 0) { throw ValidationError("--shutdown-grace must be positive, got \(shutdownGrace.seconds) s") }
        if let compare, !PredictorFactory.referenceKinds.contains(compare) {
            throw ValidationError("--compare \(compare): not a reference kind; use one of \(PredictorFactory.referenceKinds.joined(separator: ", "))")
        }
    }

    func run() async throws {
        let launchFile = try loadLaunch(launch)
        let logger = bootstrapLogging(level: logLevel?.rawValue ?? launchFile.logLevel)
        let reference: (any Predictor)?
        do {
            reference = try compare.map { try PredictorFactory.makeReference(kind: $0, launch: launchFile) }
        } catch {
            throw CLIError("\(error)")
        }
        if check {
            // The same loading as a real start, up to (not including) the first socket.
            let predictor = try PredictorFactory.make(launchFile)
            print("\(launch): ready to run \(predictor.model)" + (reference.map { " beside the reference \($0.model)" } ?? ""))
            await predictor.shutdown()
            await reference?.shutdown()
            return
        }
        let monitor = LiveMonitor(launch: launchFile, compare: compare)
        // Predictions and truth are only collected for the live view and the final scores.
        let watching = view || compare != nil || !launchFile.inputs.truthTopics.isEmpty
        let observe: @Sendable (PipelineEvent) -> Void = { event in monitor.observe(event) }
        let observer = watching ? observe : nil
        let daemon = DaemonService(launch: launchFile, logger: logger, reference: reference, observer: observer)
        var configuration = ServiceGroupConfiguration(services: [daemon], logger: logger)
        configuration.maximumGracefulShutdownDuration = .milliseconds(Int64(shutdownGrace.seconds * 1000))
        let group = ServiceGroup(configuration: configuration)
        let viewTask = Task {
            guard view else { return }
            let start = Date()
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(1))
                monitor.render(elapsed: Date().timeIntervalSince(start))
            }
        }
        let timer = Task {
            guard let duration else { return }
            try? await Task.sleep(for: .seconds(duration.seconds))
            if !Task.isCancelled { await group.triggerGracefulShutdown() }
        }
        do {
            // Escalation: the first SIGINT/SIGTERM drains gracefully (bounded by --shutdown-grace),
            // the second cancels, a third exits at once.
            try await ShutdownEscalation.run(group, signals: await ShutdownEscalation.processSignals(), logger: logger) { signal in
                Foundation.exit(signal == .sigint ? 130 : 143)
            }
        } catch {
            viewTask.cancel()
            timer.cancel()
            let advice = "is another daemon running? stop it, or change output.endpoint in \(launch)"
            throw CLIError("\(advise(error, advice))")
        }
        viewTask.cancel()
        timer.cancel()
        if watching { print(monitor.summary()) }
    }
}

/// Collects predictions and truth while the daemon runs; renders the live view and final scores.
final class LiveMonitor: Sendable {
    private struct State {
        var truth = TruthTimeline()
        var predictions: [(seq: UInt64, set: PredictionSet)] = []
        var comparison: LiveComparison?
        var last: (set: PredictionSet, context: FrameHeader)?
        var frames = 0
        var partial = 0
        var latencies: [Int64] = []
        var missing: [String: Int] = [:]
    }
    private let state = Locked(State())
    private let launch: LaunchFile
    /// Predictions and latencies kept for the final summary.
    static let retained = 36_000

    /// A monitor for `launch`; `compare` is the `--compare` reference kind, if any.
    init(launch: LaunchFile, compare: String? = nil) {
        self.launch = launch
        state.withLock { $0.comparison = compare.map(LiveComparison.init(kind:)) }
    }

    func observe(_ event: PipelineEvent) {
        state.withLock { s in
            switch event {
            case .prediction(let set, let context):
                // Bounded: a long run keeps the most recent hour at 10 Hz for its scores.
                if s.predictions.count >= Self.retained { s.predictions.removeFirst(Self.retained / 2) }
                if s.latencies.count >= Self.retained { s.latencies.removeFirst(Self.retained / 2) }
                s.predictions.append((context.seq, set))
                s.comparison?.addPrimary(set, seq: context.seq, stamp: context.stamp)
                s.last = (set, context)
                s.frames += 1
                if !context.missing.isEmpty { s.partial += 1 }
                for m in context.missing { s.missing[m.rawValue, default: 0] += 1 }
                s.latencies.append(wallClockNanoseconds() - context.lastReceive)
            case .truth(let message):
                switch message {
                case let m as TruthUE: s.truth.insert(m)
                case let m as TruthBeam: s.truth.insert(m)
                case let m as TruthBlockage: s.truth.insert(m)
                default: break
                }
                // Bounded like the predictions: truth older than the oldest kept prediction (or
                // than the truth window, when predictions stop) is never looked up again.
                let counts = s.truth.counts
                if max(counts.ue, counts.beam, counts.blockage) > Self.retained, let newest = s.truth.newestStamp {
                    let window = newest - Self.truthWindow
                    let oldest = [s.predictions.first?.set.horizon.first, s.comparison?.oldestStampNeeded].compactMap { $0 }.min()
                    let needed = oldest.map { $0 - s.truth.tolerance } ?? window
                    s.truth.removeAll(before: max(window, needed))
                }
            case .reference(let set, let context):
                s.comparison?.addReference(set, seq: context.seq, stamp: context.stamp, retained: Self.retained)
            case .publish: break
            }
        }
    }

    /// How much truth (sensor time, ns) the live monitor keeps at most: one hour.
    static let truthWindow: Int64 = 3_600_000_000_000

    func render(elapsed: Double) {
        let text = state.withLock { s -> String in
            var lines = ["foresight run \(launch.name) — \(String(format: "%.0f", elapsed)) s, \(s.frames) frames (\(s.partial) partial)"]
            if let (set, context) = s.last, let step = set.steps.first {
                let truthBeam = s.truth.beam(near: context.stamp)?.best.description ?? "?"
                let ue = s.truth.ue(near: context.stamp)
                let position = ue.map { String(format: "(%.1f, %.1f)", $0.east, $0.north) } ?? "?"
                lines.append("  now   beam truth \(truthBeam)   UE truth \(position)   missing: \(context.missing.isEmpty ? "none" : context.missing.map(\.rawValue).joined(separator: ","))")
                // With a reference, the side-by-side block below shows the steps instead.
                for (i, step) in set.steps.enumerated() where s.comparison == nil {
                    let tb = s.truth.beam(near: set.horizon[i])
                    lines.append(String(format: "  +%3.0f ms  beams %@  (truth %@)  pos (%.1f, %.1f)  power %.1f dBm  blockage %.2f",
                                        Double(set.horizon[i] - context.stamp) / 1e6, step.beams.map(String.init).joined(separator: ",") as NSString,
                                        (tb.map { String($0.best) } ?? "pending") as NSString, step.east, step.north, step.powerDBm, step.blockageProbability))
                }
                _ = step
            }
            if let comparison = s.comparison {
                // With a reference: the two predictors side by side on a frame whose truth is in.
                lines += comparison.render(primary: s.predictions[...], truth: s.truth)
            }
            if let p = Self.percentiles(s.latencies.suffix(500)) {
                lines.append(String(format: "  end-to-end latency p50 %.1f ms  p99 %.1f ms", p.0, p.1))
            }
            return lines.joined(separator: "\n")
        }
        let tty = isatty(STDOUT_FILENO) == 1
        FileHandle.standardOutput.write(Data(((tty ? "\u{1B}[2J\u{1B}[H" : "") + text + "\n").utf8))
    }

    static func percentiles(_ values: some Collection<Int64>) -> (Double, Double)? {
        let sorted = values.sorted()
        guard !sorted.isEmpty else { return nil }
        func p(_ q: Double) -> Double { Double(sorted[min(sorted.count - 1, Int(q * Double(sorted.count - 1)))]) / 1e6 }
        return (p(0.5), p(0.99))
    }

    /// Final scores against the truth seen live, and latency percentiles.
    func summary() -> String {
        state.withLock { s in
            var accumulator = ScoreAccumulator()
            for (_, set) in s.predictions { accumulator.add(set, truth: s.truth) }
            var text = "\n== \(s.frames) frames predicted (\(s.partial) partial"
            if !s.missing.isEmpty { text += "; missing " + s.missing.sorted { $0.key < $1.key }.map { "\($0.key) ×\($0.value)" }.joined(separator: ", ") }
            text += ")\n"
            if let p = Self.percentiles(s.latencies) { text += String(format: "end-to-end latency: p50 %.2f ms, p99 %.2f ms\n", p.0, p.1) }
            if s.comparison != nil { text += "\n== published \(s.predictions.last?.set.model ?? launch.predictor.kind)\n" }
            text += accumulator.report.table()
            if let comparison = s.comparison { text += comparison.summary(primary: s.predictions, truth: s.truth) }
            return text
        }
    }
}


/// `foresight eval`: scores one or several predictors on recorded or simulated drives.
struct EvalCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Run the pipeline on drives as fast as possible and score predictions against their ground truth.",
        discussion: """
        Per horizon step: beam top-1/top-3 accuracy and the power lost by the chosen beam versus \
        the best (dB); position error (ADE/FDE, m); power RMSE/MAE (dB); blockage \
        accuracy/precision/recall/F1. The drives need truth/ue, truth/beam and truth/blockage (the \
        simulator writes them); without them, or when no input topic matches (e.g. a `prefix:` the \
        bag does not use), eval fails and lists the bag's topics beside the expected ones. A split \
        recording is read as one (NAME.mcap for NAME_0000.mcap, …, or a folder).

        Several --launch files are scored on the same frames in one run: launch files with the \
        same front end share one synchronizer and preprocessing pass, and every predictor gets \
        every frame. --drop MODALITY removes a modality from every frame before the predictors \
        see it (an inference-time ablation); --ablate NAME adds one variant of that predictor per \
        modality dropped. --json writes pooled and per-drive scores (for bootstrap intervals over \
        drives) and, with --traces, per-frame beams and position errors for plots.

        The front end computes only the tensors some predictor reads: with the classical or \
        persistence predictor alone, camera images and radar cubes are not preprocessed and LiDAR \
        clouds give their points without a depth image (the scores are the same). \
        --preprocess-all processes everything, as the live daemon does (every input checked, \
        every preprocessing rejection counted).

        Examples:
          foresight sim --bag drive.mcap --duration 120 && foresight eval drive.mcap --json scores.json
          foresight eval --sim --seeds 1000..1019 --duration 60 --launch launch/sim.yaml --launch launch/sim-learned.yaml
        """
    )

    @OptionGroup var input: DriveOptions

    @Option(help: "Launch file of a predictor to score; repeat to compare several (default: the built-in launch/sim.yaml).")
    var launch: [String] = []

    @Option(help: "Remove this modality (camera, radar, lidar, gnss, beam_power) at inference; repeatable.")
    var drop: [Modality] = []

    @Option(help: "Also score this predictor (a launch file's name) once per modality dropped.")
    var ablate: [String] = []

    @Option(help: "Also write the scores as JSON to this file (- for standard output; the table then goes to standard error).")
    var json: String?

    @Flag(help: "Include per-frame beams, true beams and position errors in the JSON (for plots).")
    var traces = false

    @Flag(help: "Preprocess every modality even when no predictor reads it, as the live daemon does (slower).")
    var preprocessAll = false

    @Option(help: "Site calibration to use instead of the launch file's (e.g. the one `foresight import deepsense` wrote).")
    var site: String?

    @Option(help: "Log level.")
    var logLevel: LogLevelArgument = .warning

    func run() async throws {
        OfflineMemory.retainFreedBuffers()
        if let json { try OutputPath.checkWritable(json, option: "--json") }
        let logger = bootstrapLogging(level: logLevel.rawValue)
        var entries: [ComparativeEvaluation.Entry] = []
        let siteOverride: Site?
        if let site {
            do { siteOverride = try Site.load(path: site) } catch { throw CLIError("site calibration \(site): \(error)") }
        } else {
            siteOverride = nil
        }
        for path in launch.isEmpty ? [nil] : launch.map(Optional.some) {
            var file = try loadLaunch(path)
            if let siteOverride, let site {
                file.site = siteOverride
                file.sitePath = site
            }
            if file.inputs.truthTopics.isEmpty { file.inputs.truthTopics = ["truth/ue", "truth/beam", "truth/blockage"] }
            var name = file.name
            var n = 2
            while entries.contains(where: { $0.name == name }) { name = "\(file.name)-\(n)"; n += 1 }
            entries.append(.init(name: name, launch: file, dropped: drop))
        }
        for name in ablate {
            guard let base = entries.first(where: { $0.name == name }) else {
                throw CLIError("--ablate \(name): no launch file is named so (names: \(entries.map(\.name).joined(separator: ", ")))")
            }
            for m in Modality.allCases where !base.dropped.contains(m) {
                entries.append(.init(name: "\(name) -\(m)", launch: base.launch, dropped: base.dropped + [m]))
            }
        }
        let drives = try input.drives()
        for case .bag(let path) in drives { warnIfUnclosed(path) }
        var evaluation = try ComparativeEvaluation(entries: entries, logger: logger)
        evaluation.traces = traces
        if preprocessAll { evaluation.pipelining.onlyReadInputs = false }
        let line = ProgressLine("eval")
        let perDrive: Double? = input.sim ? input.duration * 10 : nil
        let result: ComparativeEvaluation.Result
        do {
            result = try await evaluation.run(drives: drives) { p in
                line.update(drivesDone: p.drivesDone, drives: p.drives, frames: p.frames, seconds: p.seconds, framesPerDrive: perDrive)
            }
        } catch {
            line.finish()
            throw CLIError("\(error)")
        }
        line.finish()
        // With --json -, standard output carries the JSON alone.
        let print: (String) -> Void = json == "-" ? { printError($0) } : { Swift.print($0) }
        print("evaluated \(result.drives.count) drive(s): \(result.messages) messages, \(result.frames) frames (\(result.partialFrames) partial) in \(String(format: "%.1f", result.seconds)) s")
        for p in result.predictors {
            let dropped = p.dropped.isEmpty ? "" : " (without \(p.dropped.map(\.rawValue).joined(separator: ", ")))"
            print("\n== \(p.name)\(dropped): \(p.launch)" + (p.failures > 0 ? " — \(p.failures) frames failed" : ""))
            print(String(p.overall.table().dropLast(p.overall.table().hasSuffix("\n") ? 1 : 0)))
        }
        if result.predictors.count > 1 {
            print("\n== all drives pooled")
            print(String(result.table().dropLast(result.table().hasSuffix("\n") ? 1 : 0)))
        }
        if let json {
            do {
                try JSONText.save(String(decoding: try result.json(), as: UTF8.self), to: json)
            } catch {
                throw CLIError("cannot write --json \(json): \(OutputPath.reason(error))")
            }
            if json != "-" { print("wrote \(json)") }
        }
    }
}

/// `foresight preprocess`: what the model sees for one frame of a bag.
struct PreprocessCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "preprocess",
        abstract: "Assemble one frame of a bag and write each modality's model input as .npy, with pictures and frame.json.",
        discussion: """
        Writes camera.npy (3×224×224), radar.npy (range-angle map, angle × range), lidar.npy \
        (64×256 depth), gnss.npy (east, north m), beam_power.npy (dBm), camera.png, radar.png, \
        lidar.png and frame.json (member topics, stamps, seq, missing modalities).

        Example: foresight preprocess drive.mcap --index 100 --out frame100
        """
    )

    @Argument(help: "The bag (MCAP file, split set or folder).")
    var bag: String

    @Option(parsing: .unconditional, help: "The N-th assembled frame (0-based).")
    var index: Int?

    @Option(parsing: .unconditional, help: "The first frame whose stamp (ns) is at or after this.")
    var stamp: Int64?

    @Option(help: "Output folder.")
    var out: String

    @Option(help: "Launch file for the synchronizer settings (default: the built-in launch/sim.yaml).")
    var launch: String?

    @Option(help: "Site calibration to use instead of the launch file's.")
    var site: String?

    func validate() throws {
        guard (index == nil) != (stamp == nil) else { throw ValidationError("give exactly one of --index or --stamp") }
        if let index, index < 0 { throw ValidationError("--index must not be negative (frames count from 0), got \(index)") }
    }

    func run() async throws {
        try OutputPath.checkDirectory(out, option: "--out")
        var launchFile = try loadLaunch(launch)
        warnIfUnclosed(bag)
        if let site {
            do {
                launchFile.site = try Site.load(path: site)
                launchFile.sitePath = site
            } catch {
                throw CLIError("site calibration \(site): \(error.description(doc: "docs/calibration.md"))")
            }
        }
        let selection: FrameExport.Selection = index.map { .index($0) } ?? .stamp(stamp ?? 0)
        let files = try await FrameExport(launch: launchFile).export(bagPath: bag, selection: selection, directory: out)
        print("wrote \(files.joined(separator: ", ")) to \(out)")
    }
}

extension Modality: ExpressibleByArgument {}
