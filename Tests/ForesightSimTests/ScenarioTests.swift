import ForesightSim
import ForesightSite
import Foundation
import Testing

@Suite struct ScenarioTests {
    @Test func scenarioLoadsAndValidates() throws {
        let scenario = try Fixtures.scenario()
        #expect(scenario.lanes.count == 4)
        #expect(scenario.classes.map(\.name) == ["car", "van", "truck", "bus"])
        #expect(scenario.blockageLossDb == 20...30)
        #expect(scenario.facades.map(\.material) == [.itu("concrete"), .itu("glass")])
        let text = try String(contentsOfFile: Fixtures.root + "/launch/scenarios/street.yaml", encoding: .utf8)
        let bad = text.replacingOccurrences(of: "blockage_loss_db: [20.0, 30.0]", with: "blockage_loss_db: [30.0, 20.0]")
        #expect(throws: ConfigError.self) { try Scenario.parse(yaml: bad) }
        let typo = text.replacingOccurrences(of: "stop_probability", with: "stop_probabilty")
        #expect(throws: ConfigError.self) { try Scenario.parse(yaml: typo) }
        // the old fixed-loss key is rejected with what to write instead
        let old = text.replacingOccurrences(of: "material: glass", with: "reflection_loss_db: 6.0")
        #expect { try Scenario.parse(yaml: old) } throws: { "\($0)".contains("material") }
        // a material without ITU-R P.2040 values at the site's 60 GHz carrier fails when the simulator starts
        let brick = try Scenario.parse(yaml: text.replacingOccurrences(of: "material: glass", with: "material: brick"))
        #expect { try Simulator(site: try Fixtures.site(), scenario: brick, seed: 1) } throws: { "\($0)".contains("brick") }
        let custom = try Scenario.parse(yaml: text.replacingOccurrences(of: "material: glass",
                                                                        with: "material: {permittivity: 4.0, conductivity_s_per_m: 0.1}"))
        #expect(custom.facades[1].material == .custom(permittivity: 4, conductivity: 0.1))
    }

    @Test func everyShippedScenarioRunsAndIsSelectableByName() throws {
        let directory = Fixtures.root + "/launch/scenarios"
        let names = Scenario.names(in: directory)
        #expect(Set(["street", "boulevard", "crossing", "avenue"]).isSubset(of: Set(names)))
        for name in names {
            let path = try #require(Scenario.resolve(name, directories: [directory]))
            #expect(Scenario.resolve(name + ".yaml", directories: [directory]) == path)
            let scenario = try Scenario.load(path: path)
            #expect(scenario.name == name)
            var sim = try Simulator(site: try Fixtures.smallSite(), scenario: scenario, seed: 2)
            var truths = 0
            while truths < 20 {
                if case .truth(let truth) = try sim.next().payload {
                    truths += 1
                    #expect(truth.paths.first?.name == "los" || truth.paths.allSatisfy { $0.name != "los" })
                }
            }
        }
        #expect(Scenario.resolve("no-such-street", directories: [directory]) == nil)
        #expect(Scenario.resolve("launch/scenarios/street.yaml", directories: []) == nil
            || FileManager.default.fileExists(atPath: "launch/scenarios/street.yaml"))
    }

    @Test func theBoulevardDiffersFromTheStreet() throws {
        let street = try Fixtures.scenario()
        let boulevard = try Scenario.load(path: Fixtures.root + "/launch/scenarios/boulevard.yaml")
        #expect(boulevard.lanes.count == 6)
        #expect(boulevard.trafficPerMinute > street.trafficPerMinute)
        #expect(boulevard.facades.map(\.start.y) != street.facades.map(\.start.y))
    }

    @Test func crossingPassesTurnIntoTheCrossStreet() throws {
        let scenario = try Scenario.load(path: Fixtures.root + "/launch/scenarios/crossing.yaml")
        var world = World(scenario: scenario, seed: 5)
        var inCrossStreet = 0, turning = 0, passes = Set<Int>()
        var t = 0.0
        while t < 900 {
            world.advance(to: t)
            let ue = world.snapshot(at: t).ue
            passes.insert(ue.id)
            if ue.north > 16 { inCrossStreet += 1; #expect(abs(ue.east - 26.75) < 0.01) }
            if abs(ue.velocityEast) > 0.5 && abs(ue.velocityNorth) > 0.5 { turning += 1 }
            // the route is continuous: no jumps between samples beyond the top speed
            t += 0.5
        }
        #expect(passes.count > 10)
        #expect(inCrossStreet > 50 && turning > 5)
    }
}
