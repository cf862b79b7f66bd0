import Synchronization
import Testing
import ForesightCore

/// The engine's fork-join team: every task runs exactly once, on members within the team, and
/// teams start and stop cleanly (the workers park between jobs and are joined on release).
@Suite struct WorkTeamTests {
    @Test("every index runs exactly once, whatever the team size and task count", arguments: [1, 2, 3, 4])
    func everyIndexOnce(size: Int) {
        let team = WorkTeam(size: size)
        for count in [0, 1, 2, 3, 7, 64, 1000] {
            let hits = Mutex([Int](repeating: 0, count: count))
            let members = Atomic<Int>(0)
            team.forEach(count) { i, member in
                hits.withLock { $0[i] += 1 }
                if member < 0 || member >= size { members.add(1, ordering: .relaxed) }
            }
            #expect(hits.withLock { $0.allSatisfy { $0 == 1 } }, "size \(size), \(count) tasks")
            #expect(members.load(ordering: .relaxed) == 0)
        }
    }

    @Test("chunks cover the range without overlap, in multiples of the granule")
    func chunks() {
        let team = WorkTeam(size: 2)
        for total in [1, 15, 16, 17, 128, 384, 385] {
            let covered = Mutex([Int](repeating: 0, count: total))
            let badStart = Atomic<Int>(0)
            team.forEachChunk(total, granule: 16) { range, _ in
                if range.lowerBound % 16 != 0 { badStart.add(1, ordering: .relaxed) }
                covered.withLock { for i in range { $0[i] += 1 } }
            }
            #expect(covered.withLock { $0.allSatisfy { $0 == 1 } }, "total \(total)")
            #expect(badStart.load(ordering: .relaxed) == 0)
        }
    }

    @Test("teams are created, used after their workers went to sleep, and released many times")
    func lifecycle() async throws {
        for round in 0..<20 {
            let team = WorkTeam(size: 3)
            let sum = Atomic<Int>(0)
            team.forEach(10) { i, _ in sum.add(i, ordering: .relaxed) }
            if round % 5 == 0 { try await Task.sleep(for: .milliseconds(5)) }   // workers park on their semaphore
            team.forEach(10) { i, _ in sum.add(i, ordering: .relaxed) }
            #expect(sum.load(ordering: .relaxed) == 90)
        }
    }
}
