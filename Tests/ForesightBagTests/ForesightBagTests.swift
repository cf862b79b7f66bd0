import Testing
@testable import ForesightBag

@Test func moduleLinks() {
    _ = ForesightBag.self
}
