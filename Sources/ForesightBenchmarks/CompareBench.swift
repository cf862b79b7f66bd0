import ForesightCore
import Foundation
import ForesightInference
import Histogram

/// The Swift half of `make bench-compare` (Tools/bench_compare.py runs the PyTorch half on the same
/// model folder and the same inputs, then prints both and their ratio). Two workloads:
///
/// * **streaming step** — the window is full; one new frame: tokenize it, its tokens through the encoder
///   against the cached keys/values, the predictor's queries and the heads;
/// * **full window** — an empty cache; all H frames: tokenize and encode each, then the predictor and
///   heads once for the newest (what a model without a key/value cache does for every frame).
///
/// Settings from the environment: `FORESIGHT_BENCH_MODEL` (default `models/foresight-learned`),
/// `FORESIGHT_BENCH_THREADS` (the session's threads, default 2; OpenBLAS runs single-threaded inside),
/// `FORESIGHT_BENCH_RUNS` (timed runs per workload, default 200, at least 50).
let compareBenchmark = Benchmark(name: "compare") { report in
    let env = ProcessInfo.processInfo.environment
    let dir = env["FORESIGHT_BENCH_MODEL"] ?? "models/foresight-learned"
    let threads = max(1, env["FORESIGHT_BENCH_THREADS"].flatMap(Int.init) ?? 2)
    let runs = max(50, env["FORESIGHT_BENCH_RUNS"].flatMap(Int.init) ?? 200)
    let blasThreads = max(1, env["FORESIGHT_BLAS_THREADS"].flatMap(Int.init) ?? 1)
    BLAS.configure(threads: blasThreads)
    let model = try LoadedModel.load(directory: URL(fileURLWithPath: dir))
    let info = model.info
    report.record("threads", Double(threads), "")
    report.record("openblas threads", Double(BLAS.threads), "")
    report.record("MFLOP per streamed frame", Double(info.flopsPerFrame) / 1e6, "MFLOP")
    report.record("sgemm 559x512x128 GFLOP/s (p50)", sgemmGFLOPs(m: 559, n: 512, k: 128), "GFLOP/s")

    let frames = (0..<16).map { benchFrame(info, $0) }
    let session = InferenceSession(model: model, topK: 3, threads: threads)

    // Streaming: the window stays full; each run pushes the next frame of a 16-frame cycle.
    for f in frames.prefix(info.history + 5) { _ = try session.push(f.frame, coarse: f.coarse) }
    var index = info.history + 5
    var cpu: [Double] = []
    let streaming = try measure(iterations: runs, warmup: 5) {
        let before = processCPUSeconds()
        let f = frames[index % frames.count]
        _ = try session.push(f.frame, coarse: f.coarse)
        cpu.append(processCPUSeconds() - before)
        index += 1
    }
    report.recordLatency("streaming step", streaming)
    report.record("streaming step CPU p50", median(cpu) * 1e6, "us")

    // Full window: an empty cache, H frames, predictions for the newest only.
    cpu = []
    let window = try measure(iterations: runs, warmup: 3) {
        let before = processCPUSeconds()
        session.reset()
        try session.warm(frames.prefix(info.history - 1).map(\.frame))
        _ = try session.push(frames[info.history - 1].frame, coarse: frames[info.history - 1].coarse)
        cpu.append(processCPUSeconds() - before)
    }
    report.recordLatency("full window", window)
    report.record("full window CPU p50", median(cpu) * 1e6, "us")
}

/// Benchmark frame `i` and its classical estimates (when the model takes them): inputs from the
/// parity fixtures' `pattern`; Tools/bench_compare.py builds the same values.
func benchFrame(_ info: ModelInfo, _ i: Int) -> (frame: FrameView, coarse: CoarseEstimates?) {
    let c = info.cameraShape.reduce(1, *), r = info.radarShape.reduce(1, *), l = info.lidarShape.reduce(1, *)
    let power = benchPattern(info.numBeams, seed: 1000 * i + 4)
    let gnss = SIMD2(Float(i) * 1.2, 3 - Float(i) * 0.4)
    var coarse: CoarseEstimates?
    if info.takesClassicalEstimates {
        let F = info.future
        var positions: [Float] = []
        for k in 0..<F { positions += [gnss.x + 0.6 * Float(k + 1), gnss.y - 0.2 * Float(k + 1)] }
        coarse = CoarseEstimates(
            positions: positions,
            beamLogits: benchPattern(F * info.numBeams, seed: 1000 * i + 5).map { ($0 + 1) * -15 },
            powerDBm: benchPattern(F, seed: 1000 * i + 6).map { -70 + 6 * $0 },
            blockageProbability: benchPattern(F, seed: 1000 * i + 7).map { ($0 + 1) / 2 },
            positionKnown: true)
    }
    let frame = FrameView(stamp: 1_764_000_000_000_000_000 + Int64(i) * 100_000_000,
                          gnss: SIMD2(Double(gnss.x), Double(gnss.y)), beamPowerDBm: power.map { $0 * 10 - 70 },
                          camera: benchPattern(c, seed: 1000 * i),
                          radarMap: benchPattern(r, seed: 1000 * i + 1).map { ($0 + 1) / 2 },
                          lidarDepth: benchPattern(l, seed: 1000 * i + 2).map { ($0 + 1) * 1.5 },
                          beamPowerNormalized: power)
    return (frame, coarse)
}

/// sgemm GFLOP/s (p50 wall) of an m×k · k×n product at the current OpenBLAS thread count.
func sgemmGFLOPs(m: Int, n: Int, k: Int) -> Double {
    var rng = BenchRandom(seed: UInt64(m * n * k))
    let a = (0..<(m * k)).map { _ in Float.random(in: -1...1, using: &rng) }
    let b = (0..<(k * n)).map { _ in Float.random(in: -1...1, using: &rng) }
    var c = [Float](repeating: 0, count: m * n)
    let h = measure(iterations: max(5, 2_000_000_000 / (2 * m * n * k))) { BLAS.multiply(a, b, into: &c, m: m, n: n, k: k) }
    return Double(2 * m * n * k) / Double(h.valueAtPercentile(50))
}

/// Median of a non-empty sample.
func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    return sorted.isEmpty ? 0 : sorted[sorted.count / 2]
}
