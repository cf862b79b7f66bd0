import Testing
@testable import ForesightSim

@Test func moduleLinks() {
    _ = ForesightSim.self
}
