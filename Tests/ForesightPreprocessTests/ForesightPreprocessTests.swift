import Testing
@testable import ForesightPreprocess

@Test func moduleLinks() {
    _ = ForesightPreprocess.self
}
