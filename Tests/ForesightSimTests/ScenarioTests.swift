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
        let text = try String(contentsOfFile: Fixtures.root + "/launch/scenarios/street.yaml", encoding: .utf8)
        let bad = text.replacingOccurrences(of: "blockage_loss_db: [20.0, 30.0]", with: "blockage_loss_db: [30.0, 20.0]")
        #expect(throws: ConfigError.self) { try Scenario.parse(yaml: bad) }
        let typo = text.replacingOccurrences(of: "stop_probability", with: "stop_probabilty")
        #expect(throws: ConfigError.self) { try Scenario.parse(yaml: typo) }
    }
}
