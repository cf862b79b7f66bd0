import Testing
@testable import ForesightPredict

@Test func moduleLinks() {
    _ = ForesightPredict.self
}
