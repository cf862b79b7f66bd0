import ForesightSim
import Foundation
import Histogram

/// The simulator: how many simulated seconds it produces per wall second (all sensors at
/// 10 Hz, as fast as possible, one thread, messages encoded as `foresight sim` publishes them)
/// and the CPU it needs per simulated second.
let simBenchmark = Benchmark(name: "sim") { report in
    let setupStart = DispatchTime.now().uptimeNanoseconds
    var sim = try Simulator(sitePath: "Calibration/sim-site.yaml", scenarioPath: "launch/scenarios/street.yaml")
    report.record("set-up (precompute camera/LiDAR rays)", Double(DispatchTime.now().uptimeNanoseconds - setupStart) / 1e6, "ms")

    // warm up one simulated second
    while sim.nextTime < 1 { _ = try sim.next() }
    let simulated = 20.0
    let end = sim.nextTime + simulated
    var histograms: [String: Histogram<UInt64>] = [:]
    var bytes = 0
    var events = 0
    let wallStart = DispatchTime.now().uptimeNanoseconds
    let cpuStart = processCPUSeconds()
    while sim.nextTime < end {
        let start = DispatchTime.now().uptimeNanoseconds
        let (event, messages) = try sim.nextMessages()     // simulate and encode, as `foresight sim` does
        let elapsed = DispatchTime.now().uptimeNanoseconds - start
        events += 1
        var key = event.sensor.rawValue
        switch event.payload {
        case .truth: key = "beam_power+truth"      // the whole beam-power step runs when truth is produced
        case .beamPower:
            bytes += messages.reduce(0) { $0 + $1.payload.count }
            continue
        default: break
        }
        bytes += messages.reduce(0) { $0 + $1.payload.count }
        histograms[key, default: Histogram<UInt64>(highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three)]
            .record(elapsed)
    }
    let wall = Double(DispatchTime.now().uptimeNanoseconds - wallStart) / 1e9
    let cpu = processCPUSeconds() - cpuStart
    report.record("simulated seconds per wall second", simulated / wall, "x")
    report.record("CPU per simulated second", cpu / simulated * 1000, "ms")
    report.record("CPU share at real time (10 Hz, all sensors)", cpu / simulated * 100, "% of one core")
    report.record("events per simulated second", Double(events) / simulated, "1/s")
    report.record("encoded bytes per simulated second", Double(bytes) / simulated / 1e6, "MB")
    // the radar's two costs: thermal noise for the whole cube, and each point scatterer
    let radar = sim.radarModel
    var cube: [Float] = []
    var random = SimRandom(seed: 1)
    let noiseOnly = measure(iterations: 20) { radar.synthesize(scatterers: [], into: &cube, random: &random) }
    report.recordLatency("radar noise fill (whole cube)", noiseOnly)
    let scatterers = (0..<50).map { i in
        RadarScatterer(position: SIMD3(Double(i % 10) - 5, 10 + Double(i), 1), velocity: SIMD3(5, 0, 0), rcs: 10)
    }
    let withTargets = measure(iterations: 20) { radar.synthesize(scatterers: scatterers, into: &cube, random: &random) }
    report.record("radar cost per scatterer (p50, 50 scatterers)",
                  Double(Int(withTargets.valueAtPercentile(50)) - Int(noiseOnly.valueAtPercentile(50))) / 50 / 1000, "us")
    for (key, histogram) in histograms.sorted(by: { $0.key < $1.key }) {
        report.recordLatency("\(key) step", histogram)
    }
}
