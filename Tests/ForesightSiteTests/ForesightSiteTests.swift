import Testing
@testable import ForesightSite

@Test func moduleLinks() {
    _ = ForesightSite.self
}
