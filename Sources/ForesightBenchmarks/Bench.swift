import ArgumentParser
import Foundation

/// A benchmark group: a name (selectable on the command line) and the code that records figures.
struct Benchmark: Sendable {
    var name: String
    var run: @Sendable (BenchReport) throws -> Void
}

/// Every benchmark group. Each area of Foresight adds its own entry, defined in its own file.
let allBenchmarks: [Benchmark] = [
    syncBenchmark,
    simBenchmark,
    preprocessBenchmark,
    inferenceBenchmark,
    bagBenchmark,
    predictBenchmark,
    importBenchmark,
    curveBenchmark,
    compareBenchmark,
]

/// `foresight-bench` — run benchmark groups, print figures, write them to a JSON file.
@main
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "foresight-bench",
        abstract: "Run Foresight's benchmarks (use a release build: `make bench`)."
    )

    @Argument(help: "Benchmark groups to run, or `all`.")
    var groups: [String] = ["all"]

    @Option(help: "Where to write the figures as JSON.")
    var out: String = "bench-results/latest.json"

    func run() throws {
        let report = BenchReport()
        let wanted = Set(groups)
        let selected = allBenchmarks.filter { wanted.contains("all") || wanted.contains($0.name) }
        if selected.isEmpty {
            throw ValidationError("no benchmark group matches \(groups); known: \(allBenchmarks.map(\.name).joined(separator: ", "))")
        }
        for benchmark in selected {
            report.begin(benchmark.name)
            try benchmark.run(report)
        }
        let dir = (out as NSString).deletingLastPathComponent
        if !dir.isEmpty { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
        try report.write(to: out)
    }
}

