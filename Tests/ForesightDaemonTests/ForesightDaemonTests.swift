import Testing
@testable import ForesightDaemon

@Test func moduleLinks() {
    _ = ForesightDaemon.self
}
