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
        #expect(launch.inputTopic("beam_power") == "sensor/beam_power")
        #expect(launch.site.mmwave.beams == 64)
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
            ("site: SITE\ninputs: {endpoints: []}\noutput: {endpoint: x}", "inputs.endpoints"),
            ("site: SITE\ninputs: {endpoints: [a]}\npredictor: {horizon: 0}\noutput: {endpoint: x}", "predictor.horizon"),
            ("site: SITE\ninputs: {endpoints: [a]}\npredictor: {kind: magic}\noutput: {endpoint: x}", "predictor.kind"),
            ("site: SITE\ninputs: {endpoints: [a], mode: listen}\noutput: {endpoint: x}", "inputs.mode"),
            ("site: SITE\ninputs: {endpoints: [a]}\noutput: {endpoint: x}\nmetrics: {address: nowhere}", "metrics.address"),
            ("site: SITE\ninputs: {endpoints: [a]}\nsync: {required: [sonar]}\noutput: {endpoint: x}", "sync.required"),
            ("site: /nonexistent.yaml\ninputs: {endpoints: [a]}\noutput: {endpoint: x}", "/nonexistent.yaml"),
            ("site: SITE\ninputs: {endpoints: [a]}", "output"),
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
