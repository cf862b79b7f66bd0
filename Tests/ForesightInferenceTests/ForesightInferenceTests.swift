import Testing
@testable import ForesightInference

@Test func moduleLinks() {
    _ = ForesightInference.self
}
