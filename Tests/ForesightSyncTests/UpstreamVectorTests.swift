import Testing
import ForesightSync

/// The test vectors of ROS 2 message_filters `test/test_approximate_time_policy.cpp`,
/// transcribed: input `(stamp in s, topic)` in arrival order, expected sets in emission order.
/// Upstream uses the default age penalty 0.1 and an unbounded max interval.
@Suite struct UpstreamVectorTests {
    @Test func exactMatch() throws {
        let input: [(Int64, Int)] = [(0, 0), (0, 1), (3, 0), (3, 1), (6, 0), (6, 1)]
        #expect(try runVector(input, topics: 2, queueSize: 10) == [[0, 0], [3, 3], [6, 6]])
    }

    @Test func perfectMatch() throws {
        let input: [(Int64, Int)] = [(0, 0), (1, 1), (3, 0), (4, 1), (6, 0), (7, 1)]
        #expect(try runVector(input, topics: 2, queueSize: 10) == [[0, 1], [3, 4]])
    }

    @Test func imperfectMatch() throws {
        let input: [(Int64, Int)] = [(0, 0), (1, 1), (2, 0), (3, 0), (5, 1), (6, 0), (7, 1)]
        #expect(try runVector(input, topics: 2, queueSize: 10) == [[0, 1], [6, 5]])
    }

    @Test func acceleration() throws {
        let input: [(Int64, Int)] = [(0, 0), (7, 1), (12, 0), (15, 1), (17, 0), (18, 1)]
        #expect(try runVector(input, topics: 2, queueSize: 10) == [[12, 7], [17, 18]])
    }

    static let droppedInput: [(Int64, Int)] = [(0, 0), (1, 1), (3, 1), (4, 0), (7, 1), (8, 0),
                                               (10, 0), (11, 1), (13, 0), (14, 1)]

    @Test func droppedMessagesQueueSizeOne() throws {
        #expect(try runVector(Self.droppedInput, topics: 2, queueSize: 1) == [[4, 3], [10, 11]])
    }

    @Test func droppedMessagesQueueSizeTwo() throws {
        #expect(try runVector(Self.droppedInput, topics: 2, queueSize: 2) == [[0, 1], [4, 3], [8, 7], [10, 11]])
    }

    @Test func longQueue() throws {
        let input: [(Int64, Int)] = [(0, 0), (1, 0), (2, 0), (3, 0), (4, 0), (5, 0), (6, 0), (7, 0), (8, 0),
                                     (3, 1), (9, 0), (10, 0), (11, 0), (12, 0), (10, 1), (13, 0)]
        #expect(try runVector(input, topics: 2, queueSize: 5) == [[10, 10]])
    }

    @Test func doublePublish() throws {
        let input: [(Int64, Int)] = [(0, 0), (1, 1), (3, 1), (3, 0)]
        #expect(try runVector(input, topics: 2, queueSize: 10) == [[0, 1], [3, 3]])
    }

    @Test func fourTopics() throws {
        let input: [(Int64, Int)] = [(0, 0), (1, 1), (2, 2), (3, 3), (5, 0), (5, 3), (6, 1), (6, 2),
                                     (8, 0), (9, 1), (10, 2), (11, 3), (10, 0), (13, 0), (14, 1)]
        #expect(try runVector(input, topics: 4, queueSize: 10) == [[0, 1, 2, 3], [5, 6, 6, 5], [10, 9, 10, 11]])
    }

    @Test func earlyPublish() throws {
        let input: [(Int64, Int)] = [(0, 0), (1, 1), (2, 2), (3, 3), (7, 0)]
        #expect(try runVector(input, topics: 4, queueSize: 10) == [[0, 1, 2, 3]])
    }

    static let rateInput: [(Int64, Int)] = [(0, 0), (1, 1), (3, 0), (4, 1), (6, 0), (7, 1)]

    @Test func rateBoundOnePointFive() throws {
        let sets = try runVector(Self.rateInput, topics: 2, queueSize: 10, lowerBounds: [second * 3 / 2])
        #expect(sets == [[0, 1], [3, 4]])
    }

    @Test func rateBoundTwo() throws {
        let sets = try runVector(Self.rateInput, topics: 2, queueSize: 10, lowerBounds: [2 * second])
        #expect(sets == [[0, 1], [3, 4], [6, 7]])
    }
}
