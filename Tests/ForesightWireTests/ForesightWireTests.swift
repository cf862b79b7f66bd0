import Testing
@testable import ForesightWire

@Test func moduleLinks() {
    _ = ForesightWire.self
}
