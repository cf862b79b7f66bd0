import Testing
@testable import ForesightBus

@Test func moduleLinks() {
    _ = ForesightBus.self
}
