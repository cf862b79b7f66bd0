import Testing
@testable import ForesightSync

@Test func moduleLinks() {
    _ = ForesightSync.self
}
