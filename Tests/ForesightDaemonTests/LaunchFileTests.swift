import Foundation
import Testing
import ForesightTestSupport
@testable import ForesightDaemon
import ForesightSite

@Suite struct LaunchFileTests {
    func write(_ text: String) throws -> String {
        let dir = try TestSupport.temporaryDirectory("launch")
        let path = dir.appendingPathComponent("test.yaml").path
        let site = TestSupport.path("Calibration/sim-site.yaml")
        try text.replacingOccurrences(of: "SITE", with: site).write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func theDefaultLaunchFileLoads() throws {
        let launch = try LaunchFile.load(path: TestSupport.path("launch/sim.yaml"))
        #expect(launch.inputs.endpoints == ["tcp://127.0.0.1:5600"])
        #expect(launch.predictor.history == 8 && launch.predictor.horizon == 5 && launch.predictor.step == 100_000_000)
        #expect(launch.inputTopic(.beamPower) == "sensor/beam_power")
        #expect(launch.site.mmwave.beams == 64)
    }

    /// A configuration built in code (plain values, no file) is the one the YAML loader builds
    /// from the same settings: every default of the public initializers is the loader's default.
    @Test func aConfigurationBuiltInCodeEqualsTheLoadedOne() throws {
        let test = try TestLaunch()
        let loaded = try LaunchFile.load(path: test.path)
        let built = try test.configuration()
        #expect(built.inputTopics == loaded.inputTopics && built.inputs.endpoints == loaded.inputs.endpoints)
        #expect(built.inputs.bind == loaded.inputs.bind && built.inputs.buffer == loaded.inputs.buffer && built.inputs.limits == loaded.inputs.limits)
        #expect("\(built.sync)" == "\(loaded.sync)")
        #expect("\(built.predictor)" == "\(loaded.predictor)")
        #expect("\(built.output)" == "\(loaded.output)")
        #expect(built.camera == loaded.camera && built.lidarFilters == loaded.lidarFilters)
        #expect(built.metricsAddress == loaded.metricsAddress && built.logLevel == loaded.logLevel)
        #expect(try built.preprocessingVersion() == loaded.preprocessingVersion())
    }

    /// The 30 Hz example: its lower bound and max interval fit a 33.3 ms period (a bound at or
    /// above the period would break ApproximateTime's optimality proof; an interval above it
    /// would let a frame mix two periods), and its deadline covers a few periods.
    @Test func theThirtyHertzLaunchFileFitsThirtyHertz() throws {
        let launch = try LaunchFile.load(path: TestSupport.path("launch/sim-30hz.yaml"))
        let period: Int64 = 1_000_000_000 / 30
        #expect(launch.sync.interMessageLowerBound > 0 && launch.sync.interMessageLowerBound < period)
        #expect(launch.sync.maxInterval > 0 && launch.sync.maxInterval < period)
        #expect(launch.sync.deadline >= 2 * period && launch.sync.deadline <= 4 * period)
        // The 30 Hz simulator scenario publishes every sensor at 30 Hz with stamps that honour the bound.
        let scenario = try String(contentsOfFile: TestSupport.path("launch/scenarios/street-30hz.yaml"), encoding: .utf8)
        #expect(scenario.components(separatedBy: "rate_hz: 30.0").count - 1 == 5)
    }

    @Test func aTypoFailsFastNamingTheKey() throws {
        let path = try write("""
        site: SITE
        inputs: {endpoints: [tcp://127.0.0.1:1]}
        sync: {deadlin_ms: 100}
        output: {endpoint: tcp://127.0.0.1:2}
        """)
        do {
            _ = try LaunchFile.load(path: path)
            Issue.record("a typo was accepted")
        } catch {
            #expect("\(error)".contains("sync.deadlin_ms"))
            #expect("\(error)".contains("deadline_ms"))  // the allowed keys are listed
        }
    }

    @Test func invalidValuesNameTheirKey() throws {
        for (yaml, key) in [
            ("site: SITE\ninputs: {endpoints: []}\noutput: {endpoint: tcp://x:2}", "inputs.endpoints"),
            ("site: SITE\ninputs: {endpoints: [tcp://a:1]}\npredictor: {horizon: 0}\noutput: {endpoint: tcp://x:2}", "predictor.horizon"),
            ("site: SITE\ninputs: {endpoints: [tcp://a:1]}\npredictor: {kind: magic}\noutput: {endpoint: tcp://x:2}", "predictor.kind"),
            ("site: SITE\ninputs: {endpoints: [tcp://a:1], mode: listen}\noutput: {endpoint: tcp://x:2}", "inputs.mode"),
            ("site: SITE\ninputs: {endpoints: [tcp://a:1]}\noutput: {endpoint: tcp://x:2}\nmetrics: {address: nowhere}", "metrics.address"),
            ("site: SITE\ninputs: {endpoints: [tcp://a:1]}\nsync: {required: [sonar]}\noutput: {endpoint: tcp://x:2}", "sync.required"),
            ("site: /nonexistent.yaml\ninputs: {endpoints: [tcp://a:1]}\noutput: {endpoint: tcp://x:2}", "/nonexistent.yaml"),
            ("site: SITE\ninputs: {endpoints: [tcp://a:1]}", "output"),
            ("site: SITE\ninputs: {endpoints: [127.0.0.1:5600]}\noutput: {endpoint: tcp://x:2}", "inputs.endpoints"),
            ("site: SITE\ninputs: {endpoints: [tcp://a:1]}\noutput: {endpoint: 127.0.0.1:5601}", "output.endpoint"),
        ] {
            let path = try write(yaml)
            do {
                _ = try LaunchFile.load(path: path)
                Issue.record("accepted: \(yaml)")
            } catch {
                #expect("\(error)".contains(key), "\(error)")
            }
        }
    }
}
